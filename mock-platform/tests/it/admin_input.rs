//! Hostile admin input (issue 10): bounds, unknown fields, error shapes, secrets in answers.

use serde_json::{Value, json};

use crate::support::{APP_KEY, Harness, error_of, id_of};

/// Asserts that `answer` is `{"error": …}` naming `needle`.
fn names(answer: &Value, needle: &str, context: &impl std::fmt::Display) {
    let error = answer["error"].as_str().unwrap_or_else(|| panic!("{context} → no error string: {answer}"));
    assert!(error.contains(needle), "{context} → {error:?} does not name {needle:?}");
}

#[tokio::test]
async fn clock_advances_outside_0_to_ten_years_are_refused_naming_the_field() {
    let h = Harness::start().await;
    let body = |value: &str| format!(r#"{{"advance_seconds": {value}}}"#);
    for value in [
        "9223372036854775807",
        "18446744073709551615",
        "10000000000000",
        "1e13",
        "-1",
        "1.5",
        "\"10\"",
        "315360001",
        "null",
    ] {
        let response = h
            .http
            .post(format!("{}/admin/clock", h.base))
            .header("content-type", "application/json")
            .body(body(value))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{value}");
        names(&response.json().await.unwrap(), "advance_seconds", &value);
    }
    let (status, answer) = h.post("/admin/clock", json!({"advance_seconds": 1, "app_key": APP_KEY})).await;
    assert_eq!(status, 400, "{answer}");
    names(&answer, "app_key", &"a per-merchant clock");
    let (status, answer) = h.get("/admin/clock").await;
    assert_eq!((status, answer["offset_seconds"].as_i64()), (200, Some(0)), "{answer}");
}

#[tokio::test]
async fn repeated_maximal_clock_advances_leave_every_route_working() {
    let h = Harness::start().await;
    let mut refused = None;
    for round in 0..120 {
        let (status, answer) = h.post("/admin/clock", json!({"advance_seconds": 315_360_000})).await;
        match status {
            200 => assert!(answer["now"].as_str().unwrap().len() == 19, "{answer}"),
            400 => {
                names(&answer, "advance_seconds", &round);
                refused = Some(round);
                break;
            }
            other => panic!("round {round}: {other} {answer}"),
        }
    }
    assert!(refused.is_some_and(|round| round >= 90), "the clock stopped at round {refused:?}");
    let (status, clock) = h.get("/admin/clock").await;
    assert_eq!(status, 200);
    let now = clock["now"].as_str().unwrap();
    assert!(now.len() == 19 && now.starts_with(|c: char| c.is_ascii_digit()), "{clock}");
    let (status, answer) = h.post("/admin/clock", json!({"advance_seconds": 0})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, merchant) = h.register(json!({"app_key": "later", "session": "s-later"})).await;
    assert_eq!(status, 201, "{merchant}");
    let order = h.buy(json!({"app_key": "later"})).await;
    let codes = h
        .call_as("later", "s-later", "taobao.vmarket.eticket.codes.get", &[("order_id", &id_of(&order).to_string())])
        .await;
    assert!(error_of(&codes).is_null(), "{codes}");
    // The standard merchant's session expired centuries ago on the order clock: an envelope, not a panic.
    let old = h.call("taobao.vmarket.eticket.codes.get", &[("order_id", &id_of(&order).to_string())]).await;
    assert_eq!(error_of(&old)["code"], 27, "{old}");
}
