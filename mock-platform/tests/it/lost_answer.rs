//! The `lost_answer` gateway fault (INTERFACES §1.1, PROTOCOL §6.1 C13): the call is applied, then its answer
//! is lost (a closed connection, or a transient error); and concurrent consumes of a last unit stay exact.

use chrono::Utc;
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopRequest};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{APP_KEY, APP_SECRET, Harness, SESSION, backends, error_of, id_of, token_of};

const CONSUME: &str = "taobao.vmarket.eticket.consume";

/// An order of `num` units issued as the one code `A1` (consume_type 0); its id and token.
async fn issued(h: &Harness, num: i64, extra: Value) -> (i64, String) {
    let mut body = json!({"num": num, "mobile": "13800001234"});
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let order = h.notified(body).await;
    let id = id_of(&order);
    let token = token_of(&order);
    let codes = format!("A1:{num}");
    let sent = h.codes("taobao.vmarket.eticket.send", id, &codes, &token).await;
    assert!(error_of(&sent).is_null(), "{sent}");
    (id, token)
}

/// The urlencoded body of a signed consume of `num` units of `A1` with `serial`.
fn consume_body(id: i64, token: &str, num: u32, serial: &str) -> String {
    let (id, num) = (id.to_string(), num.to_string());
    let request = TopRequest::new(CONSUME, APP_KEY, SESSION, Gmt8Timestamp::from_utc(Utc::now()), SignMethod::Md5)
        .param("format", "json")
        .param("order_id", &id)
        .param("verify_code", "A1")
        .param("consume_num", &num)
        .param("token", token)
        .param("serial_num", serial);
    request.signed(&Secret::new(APP_SECRET)).to_urlencoded(Charset::Utf8)
}

fn left_of(order: &Value) -> i64 {
    order["codes"][0]["left"].as_i64().unwrap()
}

async fn arm(h: &Harness, id: i64, form: &str) -> Value {
    let fault = json!({"target": "gateway", "method": CONSUME, "order_id": id, "times": 1, "lost_answer": form});
    let (status, body) = h.post("/admin/faults", fault).await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn a_closed_lost_answer_applies_the_consume_and_a_raw_client_reads_no_byte_of_a_response() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, 4, json!({})).await;
        arm(&h, id, "close").await;
        let body = consume_body(id, &token, 2, "lost_1");
        let addr = h.base.strip_prefix("http://").unwrap();
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /router/rest HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        // Ends when the platform closes the connection (a reset also ends it, with nothing read).
        let _ = tcp.read_to_end(&mut received).await;
        assert_eq!(String::from_utf8_lossy(&received), "", "no HTTP response at all");
        assert_eq!(left_of(&h.order(id).await), 2, "the consume was applied");
        let exchanges = h.exchanges(id).await;
        let call = exchanges.iter().rev().find(|e| e["method"] == CONSUME).unwrap();
        assert_eq!(
            (call["fault"].as_str(), call["answer_lost"].as_str()),
            (Some("lost_answer"), Some("close")),
            "{call}"
        );
        assert!(call["error_code"].is_null(), "the applied answer is recorded: {call}");
        assert!(call["response"].as_str().unwrap().contains("consume_secial_num"), "{call}");
    }
}

#[tokio::test]
async fn reqwest_sees_a_closed_lost_answer_as_an_error_and_a_retry_with_the_same_serial_is_a_duplicate() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, 4, json!({})).await;
        arm(&h, id, "close").await;
        let send = || {
            h.http
                .post(format!("{}/router/rest", h.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(consume_body(id, &token, 2, "lost_2"))
                .send()
        };
        let first = send().await;
        assert!(first.is_err(), "no response: {first:?}");
        let retry: Value = send().await.unwrap().json().await.unwrap();
        assert_eq!(error_of(&retry)["sub_code"], "isv.eticket-invalid-parameter:duplicate-consume-serial-num");
        assert_eq!(left_of(&h.order(id).await), 2, "redeemed once");
    }
}

#[tokio::test]
async fn a_transient_lost_answer_applies_the_consume_and_answers_isp_timeout() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, 4, json!({})).await;
        // Armed with the order, as C13 may: the fault waits for the order's first consume.
        let order = h
            .buy(json!({"num": 4, "mobile": "13800005678",
                    "gateway_faults": [{"method": CONSUME, "times": 1, "lost_answer": "transient"}]}))
            .await;
        assert_eq!(order["gateway_fault_ids"].as_array().map(Vec::len), Some(1), "{order}");
        arm(&h, id, "transient").await;
        let answer = h
            .call(
                CONSUME,
                &[
                    ("order_id", &id.to_string()),
                    ("verify_code", "A1"),
                    ("consume_num", "2"),
                    ("token", &token),
                    ("serial_num", "lost_3"),
                ],
            )
            .await;
        assert_eq!(error_of(&answer)["code"], 15);
        assert_eq!(error_of(&answer)["sub_code"], "isp.top-remote-connection-timeout");
        assert_eq!(left_of(&h.order(id).await), 2, "the consume was applied");
        let exchanges = h.exchanges(id).await;
        let call = exchanges.iter().rev().find(|e| e["method"] == CONSUME).unwrap();
        assert_eq!(call["answer_lost"], "transient", "{call}");
        assert!(call["error_code"].is_null(), "{call}");
    }
}

#[tokio::test]
async fn a_lost_answer_form_other_than_close_or_transient_is_refused_naming_the_field() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, _) = issued(&h, 1, json!({})).await;
        let fault = json!({"target": "gateway", "method": CONSUME, "order_id": id, "lost_answer": "drop"});
        let (status, body) = h.post("/admin/faults", fault).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains("lost_answer"), "{body}");
        let both =
            json!({"target": "gateway", "method": CONSUME, "order_id": id, "lost_answer": "close", "delay_ms": 1});
        assert_eq!(h.post("/admin/faults", both).await.0, 400);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumes_of_a_codes_last_unit_redeem_it_exactly_once() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, 1, json!({})).await;
        let (id_text, token) = (id.to_string(), token);
        let serials: Vec<String> = (0..8).map(|i| format!("race_{i}")).collect();
        let (id_text, token, h) = (&id_text, &token, &h);
        let calls = serials.iter().map(|serial| async move {
            let params = [
                ("order_id", id_text.as_str()),
                ("verify_code", "A1"),
                ("consume_num", "1"),
                ("token", token.as_str()),
                ("serial_num", serial.as_str()),
            ];
            h.call(CONSUME, &params).await
        });
        let answers = futures_util::future::join_all(calls).await;
        let succeeded = answers.iter().filter(|a| error_of(a).is_null()).count();
        assert_eq!(succeeded, 1, "{answers:#?}");
        let order = h.order(id).await;
        assert_eq!((left_of(&order), order["state"].as_str()), (0, Some("CONSUMED")), "{order}");
    }
}
