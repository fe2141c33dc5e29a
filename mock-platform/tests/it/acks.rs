//! Byte-exact acknowledgements (PROTOCOL §3.4): near misses are recorded and retried.

use serde_json::json;

use crate::support::{Harness, answer, backends, id_of};

async fn verdict_of(reply_status: u16, reply: &'static [u8]) -> serde_json::Value {
    let h = Harness::start().await;
    h.respond_with(answer(reply_status, reply));
    let id = id_of(&h.buy(json!({})).await);
    h.next_notification().await;
    let exchanges = h.wait_exchanges(id, "the attempt", |e| !e.is_empty()).await;
    exchanges[0].clone()
}

#[tokio::test]
async fn replies_are_classified_byte_exactly_and_near_misses_are_named() {
    // (reply status, reply body, verdict, acknowledged, near_miss)
    type Case = (u16, &'static [u8], &'static str, bool, Option<&'static str>);
    let cases: [Case; 6] = [
        (200, br#"{"code":200}"#, "ack_200", true, None),
        (200, br#"{"code": 200}"#, "not_ack", false, Some("spacing")),
        (200, b"{\"code\":200}\n", "not_ack", false, Some("whitespace")),
        (500, br#"{"code":200}"#, "not_ack", false, Some("status")),
        // 300 is not an acknowledgement of send.
        (200, br#"{"code":300}"#, "ack_300", false, None),
        (200, br#"{"code":"200"}"#, "not_ack", false, Some("string_code")),
    ];
    for (status, body, verdict, acknowledged, near_miss) in cases {
        let e = verdict_of(status, body).await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(e["verdict"], verdict, "{shown}");
        assert_eq!(e["acknowledged"], acknowledged, "{shown}");
        assert_eq!(e["near_miss"].as_str(), near_miss, "{shown}");
        assert_eq!(e["status"], status);
        assert_eq!(e["body"], shown.as_ref());
    }
}

#[tokio::test]
async fn a_spaced_ack_is_retried_and_the_order_stays_paid() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.respond_with(answer(200, br#"{"code": 200}"#));
        let id = id_of(&h.buy(json!({})).await);
        h.next_notification().await;
        h.wait_exchanges(id, "the attempt", |e| e.len() == 1).await;
        assert_eq!(h.order(id).await["state"], "PAID");
        h.respond_with(answer(200, br#"{"code":200}"#));
        h.post("/admin/clock", json!({"advance_seconds": 15})).await;
        h.next_notification().await;
        h.wait_order(id, "NOTIFIED after the retry", |o| o["state"] == "NOTIFIED").await;
        let exchanges = h.exchanges(id).await;
        assert_eq!(exchanges[1]["attempt"], 2);
        assert_eq!(exchanges[1]["acknowledged"], true);
    }
}

#[tokio::test]
async fn a_merchant_that_never_answers_times_out_at_the_deadline() {
    let config = mock_platform::PlatformConfig {
        notify_deadline: std::time::Duration::from_millis(300),
        c4_hold: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let h = Harness::with_config(config).await;
    h.respond_with(std::sync::Arc::new(|_| {
        Box::pin(async {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            (200, br#"{"code":200}"#.to_vec())
        })
    }));
    let id = id_of(&h.buy(json!({})).await);
    let e = h.wait_exchanges(id, "the attempt", |e| !e.is_empty()).await;
    assert_eq!(e[0]["error"], "timeout");
    assert_eq!(e[0]["acknowledged"], false);
    assert!(e[0]["latency_ms"].as_i64().unwrap() < 2000);
}
