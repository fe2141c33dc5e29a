//! Operating the platform: `GET /healthz`, the histograms and gauges of `GET /metrics`, the replica id in logs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::support::{Harness, Responder, TempDb, answer, backends, id_of};

/// `GET /metrics` as text.
async fn metrics(h: &Harness) -> String {
    let response = h.http.get(format!("{}/metrics", h.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of one sample line (`name{labels}`), or None when absent.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `/metrics` until `series` has `value` (10 s at most).
async fn wait_sample(h: &Harness, series: &str, value: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics(h).await;
        if sample(&text, series) == Some(value) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{series} never reached {value}:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn healthz_is_ok_in_memory_and_with_sqlite_and_503_when_the_sqlite_store_does_not_answer() {
    let h = Harness::start().await;
    assert_eq!(h.get("/healthz").await, (200, json!({"status": "ok"})));

    let db = TempDb::new("healthz");
    let h = Harness::with_db(&db.0).await;
    assert_eq!(h.get("/healthz").await, (200, json!({"status": "ok"})));
    // Break the store under the running platform: its trivial query now fails.
    rusqlite::Connection::open(&db.0).unwrap().execute_batch("DROP TABLE meta").unwrap();
    let (status, answer) = h.get("/healthz").await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("store")), "{answer}");
}

#[tokio::test]
async fn metrics_have_latency_histograms_by_api_and_by_method_and_no_lost_lease() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
        h.call("taobao.vmarket.eticket.tasks.get", &[("type", "1")]).await;
        h.call("taobao.vmarket.eticket.tasks.get", &[("type", "2")]).await;
        let text = metrics(&h).await;
        let calls = "mock_platform_gateway_call_duration_seconds";
        let api = r#"api="taobao.vmarket.eticket.tasks.get""#;
        assert_eq!(sample(&text, &format!("{calls}_count{{{api}}}")), Some(2.0), "{text}");
        assert_eq!(sample(&text, &format!(r#"{calls}_bucket{{{api},le="+Inf"}}"#)), Some(2.0), "{text}");
        assert!(sample(&text, &format!("{calls}_sum{{{api}}}")).is_some_and(|s| s > 0.0), "{text}");
        assert!(text.contains(&format!("# TYPE {calls} histogram\n")), "{text}");
        let attempts = "mock_platform_notification_attempt_duration_seconds";
        assert_eq!(sample(&text, &format!(r#"{attempts}_count{{method="send"}}"#)), Some(1.0), "{text}");
        assert_eq!(sample(&text, &format!(r#"{attempts}_bucket{{method="send",le="+Inf"}}"#)), Some(1.0), "{text}");
        assert_eq!(sample(&text, "mock_platform_leases_lost_total"), Some(0.0), "{text}");
        assert_eq!(sample(&text, "mock_platform_notifications_queued"), Some(0.0), "{text}");
    }
}

#[tokio::test]
async fn the_queue_depth_gauges_count_queued_notifications_and_attempts_in_flight() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        // The merchant holds its reply until the test lets it go.
        let release = Arc::new(tokio::sync::Notify::new());
        let held = release.clone();
        let holding: Responder = Arc::new(move |_| {
            let held = held.clone();
            Box::pin(async move {
                held.notified().await;
                (200, br#"{"code":501}"#.to_vec())
            })
        });
        h.respond_with(holding);
        let id = id_of(&h.buy(json!({})).await);
        h.next_notification().await;
        wait_sample(&h, "mock_platform_notification_attempts_in_flight", 1.0).await;
        let (status, _) = h.post(&format!("/admin/orders/{id}/refund"), json!({})).await;
        assert_eq!(status, 202);
        assert_eq!(sample(&metrics(&h).await, "mock_platform_notifications_queued"), Some(2.0));
        h.respond_with(answer(200, br#"{"code":200}"#));
        release.notify_one();
        // The send was refused: it waits for its retry, the cancel behind it; nothing is out.
        wait_sample(&h, "mock_platform_notification_attempts_in_flight", 0.0).await;
        assert_eq!(sample(&metrics(&h).await, "mock_platform_notifications_queued"), Some(2.0));
        h.post("/admin/clock", json!({"advance_seconds": 15})).await;
        wait_sample(&h, "mock_platform_notifications_queued", 0.0).await;
    }
}
