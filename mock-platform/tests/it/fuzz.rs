//! Arbitrary bytes at the gateway and the admin API never panic and never answer 5xx
//! (in-process through `app()`, no sockets).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mock_platform::{Platform, PlatformConfig, app};
use proptest::prelude::*;
use tower::ServiceExt;

fn request(method: &str, uri: &str, content_type: &str, body: Vec<u8>) -> StatusCode {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let router = app(Platform::new(PlatformConfig::default()));
        let request =
            Request::builder().method(method).uri(uri).header("content-type", content_type).body(Body::from(body));
        let Ok(request) = request else { return StatusCode::OK };
        router.oneshot(request).await.map(|r| r.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    })
}

fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("application/x-www-form-urlencoded; charset=gbk".to_owned()),
        Just("multipart/form-data; boundary=XX".to_owned()),
        Just("application/json".to_owned()),
        "[ -~]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_gateway_answers_200_to_any_bytes(query in "[ -~]{0,80}", ct in content_type(), body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let query: String = query.chars().filter(|c| !matches!(c, ' ' | '#' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '\\' | '^')).collect();
        let status = request("POST", &format!("/router/rest?{query}"), &ct, body);
        prop_assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn the_admin_api_answers_4xx_to_any_bytes(path in prop_oneof![Just("/admin/orders"), Just("/admin/merchants"), Just("/admin/faults"), Just("/admin/clock"), Just("/admin/orders/1/extend")], body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let status = request("POST", path, "application/json", body);
        prop_assert!(status.is_client_error(), "{}", status);
    }

    #[test]
    fn well_formed_urlencoded_params_of_any_text_get_a_top_envelope(pairs in proptest::collection::vec(("[a-z_]{1,12}", "\\PC{0,20}"), 0..12)) {
        let params = protocol::Params::from_pairs(pairs);
        let status = request("POST", "/router/rest", "application/x-www-form-urlencoded", params.to_urlencoded(protocol::params::Charset::Utf8).into_bytes());
        prop_assert_eq!(status, StatusCode::OK);
    }
}
