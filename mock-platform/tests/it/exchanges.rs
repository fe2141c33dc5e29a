//! INTERFACES §1 "Recorded exchanges" and "Secrets in answers": which gateway calls an order's exchanges keep,
//! how big their values may be, and what `/metrics` counts instead.

use chrono::Utc;
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopRequest};
use serde_json::{Value, json};

use crate::support::{APP_KEY, APP_SECRET, Harness, SESSION, backends, id_of};

const CODES: &str = "taobao.vmarket.eticket.codes.get";

/// `GET /metrics` as text.
async fn metrics(h: &Harness) -> String {
    let response = h.http.get(format!("{}/metrics", h.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of one sample line (`name{labels}`), 0 when absent.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0, |v| v.parse().unwrap())
}

/// A codes.get naming `order_id`, signed with the standard secret, with a `pad` param of `pad` bytes.
async fn call_with_pad(h: &Harness, app_key: &str, order_id: i64, pad: usize) -> Value {
    let request = TopRequest::new(CODES, app_key, SESSION, Gmt8Timestamp::from_utc(Utc::now()), SignMethod::Md5)
        .param("order_id", order_id.to_string())
        .param("pad", "p".repeat(pad));
    serde_json::from_str(&h.send_form(&request.signed(&Secret::new(APP_SECRET))).await).unwrap()
}

#[tokio::test]
async fn calls_from_unknown_apps_leave_an_order_s_exchanges_unchanged_and_are_counted() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        h.wait_exchanges(id, "the send attempt", |e| !e.is_empty()).await;
        let before = h.exchanges(id).await;
        for _ in 0..200 {
            let answer = call_with_pad(&h, "nobody", id, 900 * 1024).await;
            assert_eq!(answer["error_response"]["code"], 29, "{answer}");
        }
        assert_eq!(h.exchanges(id).await, before);
        let text = metrics(&h).await;
        assert_eq!(
            sample(&text, "mock_platform_gateway_calls_unrecorded_total{reason=\"unknown_app\"}"),
            200,
            "{text}"
        );
        assert_eq!(
            sample(&text, "mock_platform_gateway_calls_total{api=\"taobao.vmarket.eticket.codes.get\",code=\"29\"}"),
            200
        );
    }
}

#[tokio::test]
async fn calls_naming_another_merchant_s_order_are_not_recorded_against_it() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        let (status, body) = h
            .post(
                "/admin/merchants",
                json!({
                    "app_key": "other-app", "app_secret": APP_SECRET, "notify_key": "other-notify-key-0123456789",
                    "notify_url": h.merchant_url, "session": "6102other", "phase": "live",
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        h.wait_exchanges(id, "the send attempt", |e| !e.is_empty()).await;
        let before = h.exchanges(id).await;
        call_with_pad(&h, "other-app", id, 0).await;
        call_with_pad(&h, APP_KEY, id + 1000, 0).await;
        assert_eq!(h.exchanges(id).await, before);
        let text = metrics(&h).await;
        assert_eq!(
            sample(&text, "mock_platform_gateway_calls_unrecorded_total{reason=\"other_merchant\"}"),
            1,
            "{text}"
        );
        assert_eq!(
            sample(&text, "mock_platform_gateway_calls_unrecorded_total{reason=\"no_such_order\"}"),
            1,
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_order_s_own_app_is_recorded_with_long_values_cut_and_marked() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        call_with_pad(&h, APP_KEY, id, 900 * 1024).await;
        let exchanges = h.wait_exchanges(id, "the call", |e| e.iter().any(|x| x["kind"] == "gateway")).await;
        let call = exchanges.iter().find(|x| x["kind"] == "gateway").unwrap();
        let pad = call["params"]["pad"].as_str().unwrap();
        assert_eq!(pad, format!("{}…[cut: {} bytes in all]", "p".repeat(4096), 900 * 1024));
        // INTERFACES §1 "Secrets in answers": the session key is masked in the exchanges (and so the console).
        assert_eq!(call["params"]["session"], protocol::Secret::new(SESSION).masked());
        let (_, whole) = h.get(&format!("/admin/orders/{id}/exchanges")).await;
        assert!(!whole.to_string().contains(SESSION), "{whole}");
    }
}
