//! The POS endpoints: consume through beforeconsume + consume, reverse by serial, clear refusals.

use protocol::{NotifyMethod, SubCode};
use serde_json::{Value, json};

use crate::support::*;

const SEND: &str = "taobao.vmarket.eticket.send";
const BEFORECONSUME: &str = "taobao.vmarket.eticket.beforeconsume";
const CONSUME: &str = "taobao.vmarket.eticket.consume";
const REVERSE: &str = "taobao.vmarket.eticket.reverse";

struct Pos {
    gateway: FakeGateway,
    db: TempDb,
    merchant: Running,
}

impl Pos {
    async fn start(name: &str, codemerchant_id: Option<i64>) -> Self {
        let gateway = FakeGateway::start().await;
        let db = TempDb::new(name);
        let mut config = config(&gateway.url, &db.0);
        config.codemerchant_id = codemerchant_id;
        let merchant = Running::start(config).await;
        Self { gateway, db, merchant }
    }

    /// Issues an order of `num` units on one code and returns the code.
    async fn issue(&self, order_id: i64, num: u32) -> String {
        assert_eq!(deliver(&self.merchant.notify_url(), &notification(NotifyMethod::Send, order_id, num)).await, ACK);
        self.gateway.wait_for(SEND, order_id, 1).await[0].verify_codes()[0].0.clone()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response =
            reqwest::Client::new().post(format!("{}{path}", self.merchant.base)).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    fn remaining(&self, code: &str) -> i64 {
        self.db.conn().query_row("SELECT remaining FROM codes WHERE code = ?1", [code], |r| r.get(0)).unwrap()
    }
}

#[tokio::test]
async fn consume_checks_first_then_redeems_with_a_fresh_serial_and_reverse_undoes_it() {
    let pos = Pos::start("consume", None).await;
    let code = pos.issue(3001, 3).await;
    pos.gateway.script(CONSUME, [Answer::Success(json!({"ret_code": 1, "left_num": 1, "code_left_num": 1}))]);
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 2})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(pos.remaining(&code), 1);
    let calls: Vec<String> = pos.gateway.calls().iter().map(|c| c.api.clone()).collect();
    assert_eq!(calls, [SEND, BEFORECONSUME, CONSUME]);
    let consume = &pos.gateway.calls_to(CONSUME, 3001)[0];
    assert!(consume.sign_ok);
    assert_eq!(consume.get("verify_code"), Some(code.as_str()));
    assert_eq!(consume.get("consume_num"), Some("2"));
    assert_eq!(consume.get("token"), Some(token_of(3001).as_str()));
    let serial = answer["serial_num"].as_str().unwrap().to_owned();
    assert_eq!(consume.get("serial_num"), Some(serial.as_str()));
    assert!(serial.len() <= 100 && serial.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));

    let (status, answer) = pos.post("/pos/reverse", json!({"serial_num": serial})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(pos.remaining(&code), 3);
    let reverse = &pos.gateway.calls_to(REVERSE, 3001)[0];
    assert_eq!(reverse.get("consume_secial_num"), Some(serial.as_str()));
    assert_eq!(reverse.get("reverse_code"), Some(code.as_str()));
    assert_eq!(reverse.get("reverse_num"), Some("2"));
    assert_eq!(reverse.get("token"), Some(token_of(3001).as_str()));

    let (status, answer) = pos.post("/pos/reverse", json!({"serial_num": serial})).await;
    assert_eq!((status, answer["kind"].as_str()), (409, Some("not_reversible")));
    let (status, answer) = pos.post("/pos/reverse", json!({"serial_num": "nope"})).await;
    assert_eq!((status, answer["kind"].as_str()), (404, Some("unknown_serial")));
}

#[tokio::test]
async fn local_refusals_name_the_reason_without_calling_the_gateway() {
    let pos = Pos::start("refusals", None).await;
    let code = pos.issue(3002, 2).await;
    let cases = [
        (json!({"code": "000000000000", "num": 1}), 404, "unknown_code"),
        (json!({"code": code, "num": 3}), 409, "not_enough_left"),
        (json!({"code": code, "num": 0}), 400, "bad_request"),
        (json!({"code": code}), 400, "bad_request"),
        (json!({"code": code, "num": "two"}), 400, "bad_request"),
    ];
    for (body, status, kind) in cases {
        let (got, answer) = pos.post("/pos/consume", body.clone()).await;
        assert_eq!((got, answer["kind"].as_str()), (status, Some(kind)), "{body}: {answer}");
        assert!(answer["error"].is_string());
    }

    // Validity moved into the past by order_modify.
    let mut expired = notification(NotifyMethod::OrderModify, 3002, 1);
    expired.data = Some(r#"{"valid_start":"2016-01-01 00:00:00","valid_ends":"2016-01-02 23:59:59"}"#.into());
    assert_eq!(deliver(&pos.merchant.notify_url(), &expired).await, ACK);
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 1})).await;
    assert_eq!((status, answer["kind"].as_str()), (409, Some("expired")), "{answer}");

    assert_eq!(deliver(&pos.merchant.notify_url(), &notification(NotifyMethod::Cancel, 3002, 2)).await, ACK);
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 1})).await;
    assert_eq!((status, answer["kind"].as_str()), (409, Some("cancelled")));

    assert_eq!(pos.gateway.calls().len(), 1, "only the send callback");
}

#[tokio::test]
async fn a_gateway_refusal_is_passed_on_with_its_sub_code_and_redeems_nothing() {
    let pos = Pos::start("refused", None).await;
    let code = pos.issue(3003, 1).await;
    pos.gateway.script(BEFORECONSUME, [Answer::Error(SubCode::CodeNotInValidTime.error())]);
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 1})).await;
    assert_eq!(status, 502);
    assert_eq!(answer["kind"], "gateway");
    assert_eq!(answer["sub_code"], SubCode::CodeNotInValidTime.sub_code());
    assert_eq!(pos.remaining(&code), 1);
    assert!(pos.gateway.calls_to(CONSUME, 3003).is_empty());
}

#[tokio::test]
async fn a_lost_consume_answer_is_retried_with_the_same_serial_and_a_duplicate_means_done() {
    let pos = Pos::start("dup-serial", None).await;
    let code = pos.issue(3004, 2).await;
    pos.gateway.script(CONSUME, [Answer::Http(503), Answer::Error(SubCode::DuplicateConsumeSerialNum.error())]);
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 1})).await;
    assert_eq!(status, 200, "{answer}");
    let calls = pos.gateway.calls_to(CONSUME, 3004);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].get("serial_num"), calls[1].get("serial_num"));
    assert_eq!(pos.remaining(&code), 1);
}

#[tokio::test]
async fn a_code_merchant_needs_a_posid_and_sends_it_with_its_id() {
    let pos = Pos::start("codemerchant", Some(77)).await;
    let code = pos.issue(3005, 1).await;
    assert_eq!(pos.gateway.calls_to(SEND, 3005)[0].get("codemerchant_id"), Some("77"));
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 1})).await;
    assert_eq!((status, answer["kind"].as_str()), (400, Some("bad_request")));
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 1, "posid": "POS-1"})).await;
    assert_eq!(status, 200, "{answer}");
    for api in [BEFORECONSUME, CONSUME] {
        let call = &pos.gateway.calls_to(api, 3005)[0];
        assert_eq!((call.get("posid"), call.get("codemerchant_id")), (Some("POS-1"), Some("77")), "{api}");
    }
}

#[tokio::test]
async fn healthz_answers_200() {
    let pos = Pos::start("healthz", None).await;
    let response = reqwest::get(format!("{}/healthz", pos.merchant.base)).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_resend_after_a_redemption_reports_what_is_left_on_each_code() {
    let pos = Pos::start("resend-left", None).await;
    let code = pos.issue(3006, 3).await;
    pos.gateway.script(CONSUME, [Answer::Success(json!({"ret_code": 1, "left_num": 2, "code_left_num": 2}))]);
    let (status, answer) = pos.post("/pos/consume", json!({"code": code, "num": 1})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(deliver(&pos.merchant.notify_url(), &notification(NotifyMethod::Resend, 3006, 2)).await, ACK);
    let resend = &pos.gateway.wait_for("taobao.vmarket.eticket.resend", 3006, 1).await[0];
    assert_eq!(resend.verify_codes(), [(code, 2)]);
}
