//! Pending consumes (a crash or a lost answer between `eticket.consume` and our update) are settled
//! from the platform's operation log: done with the platform's count, or failed, never redeemed twice.

use std::time::Duration;

use merchant_reference::AppState;
use merchant_reference::reconcile::{GRACE, Settled, reconcile_pending};
use protocol::NotifyMethod;
use serde_json::{Value, json};

use crate::support::*;

const SEND: &str = "taobao.vmarket.eticket.send";
const CONSUME: &str = "taobao.vmarket.eticket.consume";
const OPLOGS: &str = "taobao.vmarket.eticket.oplogs.get";
const CODES_GET: &str = "taobao.vmarket.eticket.codes.get";

/// An order of `num` units on one code, issued by a merchant that has since stopped.
struct Issued {
    gateway: FakeGateway,
    db: TempDb,
    code: String,
    order_id: i64,
}

impl Issued {
    async fn new(name: &str, order_id: i64, num: u32) -> Self {
        let gateway = FakeGateway::start().await;
        let db = TempDb::new(name);
        let merchant = Running::start(config(&gateway.url, &db.0)).await;
        assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, order_id, num)).await, ACK);
        let code = gateway.wait_for(SEND, order_id, 1).await[0].verify_codes()[0].0.clone();
        eventually(|| (db.outbox(order_id) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
        merchant.stop().await;
        Self { gateway, db, code, order_id }
    }

    /// A consume row left pending, as a crash after the call would leave it.
    fn pending(&self, serial: &str, num: i64, created_at: &str) {
        self.db
            .conn()
            .execute(
                "INSERT INTO consumes (serial_num, order_id, code, num, posid, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, 'pending', ?5)",
                rusqlite::params![serial, self.order_id, self.code, num, created_at],
            )
            .unwrap();
    }

    /// The platform's log lists these serials as consumes of our code; `codes.get` says `left`.
    fn platform_logged(&self, serials: &[&str], left: i64) {
        let ops: Vec<Value> = serials
            .iter()
            .map(|s| {
                json!({"consume_serial_num": s, "amount": "10.00", "num": 1, "op_type": 1,
                       "op_time": "2026-01-01 10:00:00", "pos_id": "", "order_id": self.order_id, "mobile": "3872"})
            })
            .collect();
        let total = ops.len();
        self.gateway.script(
            OPLOGS,
            [Answer::Success(json!({"eticket_op_logs": {"eticket_op_log": ops}, "total_results": total}))],
        );
        self.gateway.script(
            CODES_GET,
            [Answer::Success(json!({
                "eticket_codes": {"eticket_code": [{"order_id": self.order_id, "code": self.code, "num": left, "status": 1}]},
                "total_results": 1,
            }))],
        );
    }

    fn state(&self) -> AppState {
        AppState::new(config(&self.gateway.url, &self.db.0)).unwrap()
    }

    fn status(&self, serial: &str) -> String {
        self.db.conn().query_row("SELECT status FROM consumes WHERE serial_num = ?1", [serial], |r| r.get(0)).unwrap()
    }

    fn remaining(&self) -> i64 {
        self.db.conn().query_row("SELECT remaining FROM codes WHERE code = ?1", [&self.code], |r| r.get(0)).unwrap()
    }
}

const LONG_AGO: &str = "2020-01-01 00:00:00";

#[tokio::test]
async fn a_pending_consume_the_platform_logged_ends_done_with_the_platforms_count() {
    let it = Issued::new("rec-done", 5001, 3).await;
    it.pending("serial_done_1", 2, LONG_AGO);
    it.platform_logged(&["someone_elses_serial", "serial_done_1"], 1);
    let state = it.state();

    let settled = reconcile_pending(&state, GRACE).await.unwrap();
    assert_eq!(settled, Settled { done: 1, failed: 0, unresolved: 0 });
    assert_eq!(it.status("serial_done_1"), "done");
    assert_eq!(it.remaining(), 1, "the platform's count");
    let ask = &it.gateway.calls_to(CODES_GET, 5001)[0];
    assert!(ask.sign_ok);
    let log = it.gateway.calls().into_iter().find(|c| c.api == OPLOGS).unwrap();
    assert_eq!((log.get("type"), log.get("code")), (Some("1"), Some(it.code.as_str())));
    assert!(it.gateway.calls_to(CONSUME, 5001).is_empty(), "reconciling never consumes");

    // Again: nothing pending, nothing asked, nothing changed.
    let (calls, counts) = (it.gateway.calls().len(), it.db.counts());
    assert_eq!(reconcile_pending(&state, GRACE).await.unwrap(), Settled::default());
    assert_eq!((it.gateway.calls().len(), it.db.counts()), (calls, counts));
    assert_eq!((it.status("serial_done_1"), it.remaining()), ("done".to_owned(), 1));
}

#[tokio::test]
async fn a_pending_consume_the_platform_never_saw_ends_failed_and_is_not_redeemed_again() {
    let it = Issued::new("rec-failed", 5002, 3).await;
    it.pending("serial_lost_1", 1, LONG_AGO);
    it.platform_logged(&["someone_elses_serial"], 3);
    let state = it.state();

    let settled = reconcile_pending(&state, GRACE).await.unwrap();
    assert_eq!(settled, Settled { done: 0, failed: 1, unresolved: 0 });
    assert_eq!(it.status("serial_lost_1"), "failed");
    assert_eq!(it.remaining(), 3, "nothing was redeemed");
    assert!(it.gateway.calls_to(CONSUME, 5002).is_empty(), "the visit is not charged after the fact");

    let calls = it.gateway.calls().len();
    assert_eq!(reconcile_pending(&state, GRACE).await.unwrap(), Settled::default());
    assert_eq!(it.gateway.calls().len(), calls);
    assert_eq!((it.status("serial_lost_1"), it.remaining()), ("failed".to_owned(), 3));
}

#[tokio::test]
async fn a_pending_consume_younger_than_the_grace_period_is_left_for_its_live_request() {
    let it = Issued::new("rec-young", 5003, 3).await;
    let now = protocol::Gmt8Timestamp::from_utc(chrono::Utc::now()).format();
    it.pending("serial_young_1", 1, &now);
    let settled = reconcile_pending(&it.state(), GRACE).await.unwrap();
    assert_eq!(settled, Settled::default());
    assert_eq!(it.status("serial_young_1"), "pending");
    assert!(it.gateway.calls().iter().all(|c| c.api == SEND), "the platform was not asked");
}

#[tokio::test]
async fn an_unreachable_platform_leaves_the_consume_pending_until_a_later_pass() {
    let it = Issued::new("rec-later", 5004, 2).await;
    it.pending("serial_later_1", 1, LONG_AGO);
    it.gateway.script(OPLOGS, [Answer::Http(503)]);
    let state = it.state();
    assert_eq!(reconcile_pending(&state, GRACE).await.unwrap(), Settled { done: 0, failed: 0, unresolved: 1 });
    assert_eq!((it.status("serial_later_1"), it.remaining()), ("pending".to_owned(), 2));

    it.platform_logged(&["serial_later_1"], 1);
    assert_eq!(reconcile_pending(&state, GRACE).await.unwrap(), Settled { done: 1, failed: 0, unresolved: 0 });
    assert_eq!((it.status("serial_later_1"), it.remaining()), ("done".to_owned(), 1));
}

#[tokio::test]
async fn a_consume_whose_answers_are_all_lost_stays_pending_and_the_clerk_gets_its_serial() {
    let it = Issued::new("rec-live", 5005, 3).await;
    let merchant = Running::start(config(&it.gateway.url, &it.db.0)).await;
    it.gateway.script(CONSUME, [Answer::Http(503), Answer::Http(503), Answer::Http(503)]);
    let response = reqwest::Client::new()
        .post(format!("{}/pos/consume", merchant.base))
        .json(&json!({"code": it.code, "num": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 502);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["kind"], "outcome_unknown", "{answer}");
    let serial = answer["serial_num"].as_str().unwrap().to_owned();
    let calls = it.gateway.calls_to(CONSUME, 5005);
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.get("serial_num") == Some(serial.as_str())));
    assert_eq!((it.status(&serial), it.remaining()), ("pending".to_owned(), 3));
    merchant.stop().await;

    // One of the three did reach the platform. Settled (grace zero: the request is over).
    it.platform_logged(&[serial.as_str()], 1);
    let settled = reconcile_pending(&it.state(), Duration::ZERO).await.unwrap();
    assert_eq!(settled, Settled { done: 1, failed: 0, unresolved: 0 });
    assert_eq!((it.status(&serial), it.remaining()), ("done".to_owned(), 1));
    assert_eq!(it.gateway.calls_to(CONSUME, 5005).len(), 3, "no consume after the request ended");
}

#[tokio::test]
async fn a_refused_retry_after_a_lost_answer_is_not_taken_for_a_refusal() {
    // The first attempt redeemed the last units (answer lost); the order is CONSUMED, so the retry is
    // refused on the state before the serial is looked at.
    let it = Issued::new("rec-b7", 5006, 1).await;
    let merchant = Running::start(config(&it.gateway.url, &it.db.0)).await;
    it.gateway.script(CONSUME, [Answer::Http(503), Answer::Error(protocol::SubCode::InvalidOrderStatus.error())]);
    let response = reqwest::Client::new()
        .post(format!("{}/pos/consume", merchant.base))
        .json(&json!({"code": it.code, "num": 1}))
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["kind"], "outcome_unknown", "{answer}");
    let serial = answer["serial_num"].as_str().unwrap().to_owned();
    assert_eq!(it.status(&serial), "pending");
    merchant.stop().await;
}
