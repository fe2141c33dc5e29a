//! Per-merchant clocks (INTERFACES §1): one merchant's advance moves only its own orders' time.

use serde_json::{Value, json};

use crate::support::{APP_KEY, Harness, TempDb, answer, backends, id_of};

const OTHER: &str = "87654321";

/// Registers a second merchant on the harness's platform (same notify URL: the in-test merchant gets both).
async fn register_other(h: &Harness) {
    let (status, body) = h.register(json!({"app_key": OTHER, "session": "6102session0002"})).await;
    assert_eq!(status, 201, "{body}");
}

/// `offset_seconds` of a clock: that merchant's, or the platform-wide one.
async fn offset(h: &Harness, app_key: Option<&str>) -> i64 {
    let path = app_key.map_or_else(|| "/admin/clock".to_owned(), |k| format!("/admin/clock?app_key={k}"));
    let (status, clock) = h.get(&path).await;
    assert_eq!(status, 200, "{clock}");
    clock["offset_seconds"].as_i64().unwrap()
}

async fn advance(h: &Harness, body: Value) -> Value {
    let (status, clock) = h.post("/admin/clock", body).await;
    assert_eq!(status, 200, "{clock}");
    clock
}

/// One order per merchant, each with its first attempt refused (a retry is due 15 s later on its clock).
async fn two_unacknowledged_orders(h: &Harness) -> (i64, i64) {
    h.respond_with(answer(200, br#"{"code":501}"#));
    let mine = id_of(&h.buy(json!({})).await);
    h.next_notification().await;
    let other = id_of(&h.buy(json!({"app_key": OTHER})).await);
    h.next_notification().await;
    for id in [mine, other] {
        h.wait_exchanges(id, "first attempt recorded", |e| e.len() == 1).await;
    }
    (mine, other)
}

#[tokio::test]
async fn advancing_one_merchants_clock_closes_and_retries_only_its_own_orders() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        register_other(&h).await;
        let (mine, other) = two_unacknowledged_orders(&h).await;

        let clock = advance(&h, json!({"advance_seconds": 7200, "app_key": APP_KEY})).await;
        assert_eq!(clock["offset_seconds"], 7200, "{clock}");
        // The auto-close fired before the POST returned; the due retry right after.
        assert_eq!(h.order(mine).await["state"], "CLOSED");
        let retry = h.next_notification().await;
        assert_eq!(retry.get("order_id"), mine.to_string());
        let exchanges = h.wait_exchanges(mine, "the retry recorded", |e| e.len() == 2).await;
        assert_eq!(exchanges[1]["attempt"], 2);

        assert!(h.notification_within(300).await.is_none(), "the other merchant's retry is not due on its clock");
        assert_eq!(h.order(other).await["state"], "PAID");
        assert_eq!(h.exchanges(other).await.len(), 1);
        assert_eq!(
            (offset(&h, Some(OTHER)).await, offset(&h, None).await, offset(&h, Some(APP_KEY)).await),
            (0, 0, 7200)
        );

        // The other merchant's retry is still due 15 s after its first attempt, on its own clock.
        advance(&h, json!({"advance_seconds": 15, "app_key": OTHER})).await;
        assert_eq!(h.next_notification().await.get("order_id"), other.to_string());
        h.wait_exchanges(other, "the other retry recorded", |e| e.len() == 2).await;
        assert_eq!(h.order(other).await["state"], "PAID");
    }
}

#[tokio::test]
async fn the_platform_wide_advance_moves_every_merchants_clock() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        register_other(&h).await;
        let (mine, other) = two_unacknowledged_orders(&h).await;
        advance(&h, json!({"advance_seconds": 60, "app_key": OTHER})).await;
        let clock = advance(&h, json!({"advance_seconds": 7200})).await;
        assert_eq!(clock["offset_seconds"], 7200, "{clock}");
        for id in [mine, other] {
            assert_eq!(h.order(id).await["state"], "CLOSED", "order {id}");
        }
        let mut retried =
            [h.next_notification().await, h.next_notification().await].map(|n| n.get("order_id").to_owned());
        retried.sort();
        let mut expected = [mine.to_string(), other.to_string()];
        expected.sort();
        assert_eq!(retried, expected);
        assert_eq!(
            (offset(&h, None).await, offset(&h, Some(APP_KEY)).await, offset(&h, Some(OTHER)).await),
            (7200, 7200, 7260)
        );
    }
}

#[tokio::test]
async fn a_merchants_clock_is_bounded_like_the_platforms_and_bounds_the_platform_wide_advance() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        register_other(&h).await;
        assert!(h.platform.advance_merchant_clock(APP_KEY, u64::MAX).await.unwrap().is_some());
        assert!(h.platform.advance_merchant_clock("nobody", 1).await.unwrap().is_none());
        for body in [json!({"advance_seconds": 1, "app_key": APP_KEY}), json!({"advance_seconds": 1})] {
            let (status, answer) = h.post("/admin/clock", body.clone()).await;
            assert_eq!(status, 400, "{body} → {answer}");
            assert!(answer["error"].as_str().unwrap().contains("advance_seconds"), "{answer}");
        }
        let years = offset(&h, Some(APP_KEY)).await / (365 * 86_400);
        assert_eq!((years, offset(&h, Some(OTHER)).await, offset(&h, None).await), (1000, 0, 0));
        let (status, clock) = h.get(&format!("/admin/clock?app_key={APP_KEY}")).await;
        assert!(status == 200 && clock["now"].as_str().unwrap().starts_with(|c: char| c.is_ascii_digit()), "{clock}");
        advance(&h, json!({"advance_seconds": 3600, "app_key": OTHER})).await;
        assert_eq!(offset(&h, Some(OTHER)).await, 3600);
    }
}

#[tokio::test]
async fn merchant_clock_offsets_and_their_timers_survive_a_sqlite_restart() {
    let db = TempDb::new("merchant-clocks");
    let mut h = Harness::with_db(&db.0).await;
    register_other(&h).await;
    let mine = id_of(&h.buy(json!({})).await);
    let other = id_of(&h.buy(json!({"app_key": OTHER})).await);
    for id in [mine, other] {
        h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
    }
    advance(&h, json!({"advance_seconds": 3600, "app_key": APP_KEY})).await;
    advance(&h, json!({"advance_seconds": 30})).await;
    h.restart().await;
    assert_eq!(
        (offset(&h, None).await, offset(&h, Some(APP_KEY)).await, offset(&h, Some(OTHER)).await),
        (30, 3630, 30)
    );
    // The auto-close timers were rebuilt on each merchant's clock: one more hour closes only the first order.
    advance(&h, json!({"advance_seconds": 3600, "app_key": APP_KEY})).await;
    assert_eq!(h.order(mine).await["state"], "CLOSED");
    assert_eq!(h.order(other).await["state"], "NOTIFIED");
}
