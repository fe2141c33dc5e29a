//! The bodies of the fuzz targets over the platform's HTTP surface, run in-process through [`app`] (no sockets):
//! `fuzz/fuzz_targets/{gateway,admin}.rs` call them and `tests/it/fuzz_corpus.rs` replays the committed corpora
//! through them on stable. Each input gets a fresh platform holding one merchant and one order, so the fuzzer
//! reaches order-level code. Not part of the API: hidden from the docs.

use axum::body::Body;
use axum::http::{Method, Request};
use protocol::Secret;
use protocol::params::Params;
use protocol::time::Gmt8Timestamp;
use protocol::top_sign::{SignMethod, top_sign};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{Platform, PlatformConfig, app};

const APP_KEY: &str = "12345678";
const APP_SECRET: &str = "fuzz-app-secret";

/// Content types a request can claim, chosen by bits of the input's first byte.
const CONTENT_TYPES: [&str; 6] = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=gbk",
    "multipart/form-data; boundary=XX",
    "application/json",
    "text/plain",
    "",
];

/// Admin routes the input's first byte chooses from; `{id}` is the one order's id.
const ADMIN_ROUTES: [(&str, &str); 16] = [
    ("POST", "/admin/merchants"),
    ("POST", "/admin/orders"),
    ("POST", "/admin/faults"),
    ("POST", "/admin/clock"),
    ("POST", "/admin/orders/{id}/resend"),
    ("POST", "/admin/orders/{id}/modify-mobile"),
    ("POST", "/admin/orders/{id}/refund"),
    ("POST", "/admin/orders/{id}/extend"),
    ("POST", "/admin/orders/{id}/rights-protection"),
    ("GET", "/admin/orders/{id}"),
    ("GET", "/admin/orders/{id}/exchanges"),
    ("GET", "/admin/orders/{id}/case"),
    ("GET", "/admin/merchants/12345678"),
    ("GET", "/admin/faults"),
    ("DELETE", "/admin/faults/1"),
    ("GET", "/admin/clock"),
];

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a current-thread runtime");
}

/// One gateway request built from the input: the first byte picks GET/POST, the content type, whether the
/// params are re-signed with the merchant's secret (so the fuzzer gets past the sign check to the APIs) and
/// whether a fresh timestamp is set; up to the first `\n` is the query string, the rest the body. Every answer is
/// HTTP 200 with a TOP envelope.
pub fn gateway(data: &[u8]) {
    let (selector, query, body) = split(data);
    let method = if selector & 1 == 0 { Method::POST } else { Method::GET };
    let content_type = CONTENT_TYPES[usize::from(selector >> 1) % CONTENT_TYPES.len()];
    let sign = selector & 0x10 != 0;
    let fresh_timestamp = selector & 0x20 != 0;
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let (platform, order_id) = platform_with_an_order().await;
            let (query, body) = if sign || fresh_timestamp {
                resign(query, body, order_id, sign, fresh_timestamp)
            } else {
                (query.to_owned(), body.to_vec())
            };
            let uri = if query.is_empty() { "/router/rest".to_owned() } else { format!("/router/rest?{query}") };
            let Ok(request) =
                Request::builder().method(method).uri(uri).header("content-type", content_type).body(Body::from(body))
            else {
                return; // not an HTTP request at all (hyper would refuse it before the gateway)
            };
            let (status, answer) = call(&platform, request).await;
            assert_eq!(status, 200, "the gateway answers HTTP 200 to anything: {}", String::from_utf8_lossy(&answer));
            assert!(
                answer.starts_with(b"{") || answer.starts_with(b"<?xml"),
                "a TOP envelope: {}",
                String::from_utf8_lossy(&answer)
            );
        });
    });
}

/// One admin request built from the input: the first byte picks a route (or, with its top bit set, the path is
/// the input's first line), the rest is the JSON body. No answer is a 5xx; every error is `{"error": …}` JSON;
/// the order bought before is still there afterwards.
pub fn admin(data: &[u8]) {
    let (selector, first_line, rest) = split(data);
    let (method, path) = if selector & 0x80 != 0 {
        ("POST", format!("/admin/{first_line}"))
    } else {
        let (method, template) = ADMIN_ROUTES[usize::from(selector) % ADMIN_ROUTES.len()];
        (method, template.to_owned())
    };
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let (platform, order_id) = platform_with_an_order().await;
            let path = path.replace("{id}", &order_id.to_string());
            let Ok(request) = Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .body(Body::from(rest.to_vec()))
            else {
                return;
            };
            let (status, answer) = call(&platform, request).await;
            assert!(status < 500, "no 5xx: {status} {}", String::from_utf8_lossy(&answer));
            if status >= 400 {
                let error: Value = serde_json::from_slice(&answer).unwrap_or_else(|e| {
                    panic!("a {status} answer is JSON ({e}): {}", String::from_utf8_lossy(&answer))
                });
                assert!(error["error"].is_string(), "a {status} answer is {{\"error\": …}}: {error}");
            }
            let order = Request::get(format!("/admin/orders/{order_id}")).body(Body::empty()).expect("a request");
            let (status, answer) = call(&platform, order).await;
            assert_eq!(status, 200, "the order is still there: {}", String::from_utf8_lossy(&answer));
        });
    });
}

/// Splits an input into a selector byte, its first line (up to `\n`, lossily decoded) and the rest.
fn split(data: &[u8]) -> (u8, String, &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return (0, String::new(), &[]) };
    match rest.iter().position(|&b| b == b'\n') {
        Some(newline) => (selector, String::from_utf8_lossy(&rest[..newline]).into_owned(), &rest[newline + 1..]),
        None => (selector, String::new(), rest),
    }
}

/// The fuzzed params, merged, with the order's id and a valid sign and/or a fresh timestamp set, as one
/// urlencoded body.
fn resign(query: String, body: &[u8], order_id: i64, sign: bool, fresh_timestamp: bool) -> (String, Vec<u8>) {
    let content_type = Some("application/x-www-form-urlencoded");
    let Ok(mut params) = Params::from_request(Some(&query), content_type, bytes::Bytes::copy_from_slice(body)) else {
        return (query, body.to_vec());
    };
    params.set("order_id", order_id.to_string());
    if fresh_timestamp {
        params.set("timestamp", Gmt8Timestamp::from_utc(chrono::Utc::now()).format());
    }
    if sign && let Ok(method) = SignMethod::of_params(params.iter()) {
        params.set("sign", top_sign(&Secret::new(APP_SECRET), method, params.iter()));
    }
    (String::new(), params.to_urlencoded(protocol::params::Charset::Utf8).into_bytes())
}

/// A fresh in-memory platform (no dispatcher: nothing leaves the process) with one live merchant and one order.
async fn platform_with_an_order() -> (Platform, i64) {
    let platform = Platform::new(PlatformConfig::default());
    let merchant = json!({
        "app_key": APP_KEY, "app_secret": APP_SECRET, "notify_key": "fuzz-notify-key",
        "notify_url": "http://127.0.0.1:9/notify", "session": "fuzz-session", "phase": "live",
    });
    let (status, answer) = post_json(&platform, "/admin/merchants", merchant).await;
    assert_eq!(status, 201, "registering the fuzz merchant: {}", String::from_utf8_lossy(&answer));
    let order = json!({"app_key": APP_KEY, "num": 4, "mobile": "13800000000", "item_title": "银子岩门票"});
    let (status, answer) = post_json(&platform, "/admin/orders", order).await;
    assert_eq!(status, 201, "buying the fuzz order: {}", String::from_utf8_lossy(&answer));
    let order: Value = serde_json::from_slice(&answer).expect("the order as JSON");
    (platform, order["order_id"].as_i64().expect("an order_id"))
}

async fn post_json(platform: &Platform, path: &str, body: Value) -> (u16, Vec<u8>) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("a request");
    call(platform, request).await
}

async fn call(platform: &Platform, request: Request<Body>) -> (u16, Vec<u8>) {
    let response = app(platform.clone()).oneshot(request).await.expect("the router is infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.expect("the answer's body");
    (status, bytes.to_vec())
}
