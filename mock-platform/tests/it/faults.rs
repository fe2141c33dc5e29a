//! Fault injection: gateway answers and delays, notification alterations, duplicate.

use protocol::{Gmt8Timestamp, Secret, verify_notify};
use serde_json::json;

use crate::support::{Harness, NOTIFY_KEY, answer, backends, error_of, id_of, token_of};

#[tokio::test]
async fn an_injected_gateway_answer_applies_the_given_number_of_times() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.notified(json!({})).await;
        let id = id_of(&order);
        let (status, fault) = h
            .post(
                "/admin/faults",
                json!({"target": "gateway", "method": "taobao.vmarket.eticket.send", "order_id": id, "times": 2,
                   "answer": {"sub_code": "isv.eticket-service-unavailable:order-is-processing"}}),
            )
            .await;
        assert_eq!(status, 201, "{fault}");
        assert!(fault["id"].is_u64());
        let token = token_of(&order);
        let params = [("order_id", id.to_string()), ("verify_codes", "A:2".into()), ("token", token)];
        let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        for _ in 0..2 {
            let a = h.call("taobao.vmarket.eticket.send", &params).await;
            assert_eq!(error_of(&a)["code"], 15);
            assert_eq!(error_of(&a)["sub_msg"], "订单并发操作并发限制");
        }
        let a = h.call("taobao.vmarket.eticket.send", &params).await;
        assert!(error_of(&a).is_null(), "{a}");
        let e = h.exchanges(id).await;
        assert_eq!(e[1]["fault"], "answer");
        assert!(e[3]["fault"].is_null());
    }
}

#[tokio::test]
async fn a_deleted_fault_no_longer_applies_and_a_delay_is_recorded() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        let body = json!({"target": "gateway", "method": "taobao.vmarket.eticket.codes.get", "times": 5, "answer": {"code": 7, "msg": "App Call Limited"}});
        let (_, fault) = h.post("/admin/faults", body).await;
        let response = h.http.delete(format!("{}/admin/faults/{}", h.base, fault["id"])).send().await.unwrap();
        assert_eq!(response.status(), 204);
        h.post(
            "/admin/faults",
            json!({"target": "gateway", "method": "taobao.vmarket.eticket.codes.get", "times": 1, "delay_ms": 150}),
        )
        .await;
        let a = h.call("taobao.vmarket.eticket.codes.get", &[("order_id", &id.to_string())]).await;
        assert!(error_of(&a).is_null(), "{a}");
        let e = h.wait_exchanges(id, "the call", |e| e.iter().any(|x| x["kind"] == "gateway")).await;
        let call = e.iter().find(|x| x["kind"] == "gateway").unwrap();
        assert_eq!(call["fault"], "delay");
        assert!(call["latency_ms"].as_i64().unwrap() >= 150);
    }
}

async fn altered_resend(kind: serde_json::Value) -> (crate::support::Received, serde_json::Value) {
    let h = Harness::start().await;
    let order = h.notified(json!({})).await;
    let id = id_of(&order);
    let (status, body) =
        h.post("/admin/faults", json!({"target": "notification", "order_id": id, "fault": kind})).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = h.post(&format!("/admin/orders/{id}/refund"), json!({})).await;
    assert_eq!(status, 202);
    let n = h.next_notification().await;
    let e = h.wait_exchanges(id, "the altered attempt", |e| e.len() == 2).await;
    (n, e[1].clone())
}

#[tokio::test]
async fn sign_breaking_alterations_leave_a_sign_that_does_not_verify() {
    let key = Secret::new(NOTIFY_KEY);
    for kind in ["tamper", "drop_sign", "wrong_key", "utf8_sign"] {
        let (n, exchange) = altered_resend(json!(kind)).await;
        assert!(verify_notify(&key, &n.params).is_err(), "{kind}");
        assert_eq!(exchange["alteration"], kind);
    }
}

#[tokio::test]
async fn timestamp_alterations_are_validly_signed() {
    let key = Secret::new(NOTIFY_KEY);
    let now = chrono::Utc::now();
    let (n, _) = altered_resend(json!("stale_timestamp")).await;
    assert_eq!(verify_notify(&key, &n.params), Ok(()));
    let ts = Gmt8Timestamp::parse_datetime(n.get("timestamp")).unwrap();
    assert!(ts.check_fresh(now).is_err());
    let (n, _) = altered_resend(json!("missing_timestamp")).await;
    assert_eq!((verify_notify(&key, &n.params), n.params.get("timestamp")), (Ok(()), None));
    let (n, _) = altered_resend(json!("malformed_timestamp")).await;
    assert!(Gmt8Timestamp::parse_datetime(n.get("timestamp")).is_err());
    assert_eq!(verify_notify(&key, &n.params), Ok(()));
    let (n, _) = altered_resend(json!("gbk_body")).await;
    assert!(n.content_type.ends_with("charset=gbk"), "{}", n.content_type);
    assert_eq!(n.get("item_title"), "银子岩门票");
    assert_eq!(verify_notify(&key, &n.params), Ok(()));
}

#[tokio::test]
async fn an_alteration_in_the_order_body_applies_to_the_first_send_attempt_only() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.respond_with(answer(200, br#"{"code":501}"#));
        let id = id_of(&h.buy(json!({"alteration": {"kind": "extra_params", "params": {"id_card": "X1"}}})).await);
        let first = h.next_notification().await;
        assert_eq!(first.get("id_card"), "X1");
        assert_eq!(verify_notify(&Secret::new(NOTIFY_KEY), &first.params), Ok(()));
        h.wait_exchanges(id, "first attempt", |e| e.len() == 1).await;
        h.post("/admin/clock", json!({"advance_seconds": 15})).await;
        let second = h.next_notification().await;
        assert_eq!(second.params.get("id_card"), None);
    }
}

#[tokio::test]
async fn duplicate_redelivers_the_last_acknowledged_notification_once() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.buy(json!({})).await;
        let id = id_of(&order);
        let first = h.next_notification().await;
        h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
        let (status, _) =
            h.post("/admin/faults", json!({"target": "notification", "order_id": id, "fault": "duplicate"})).await;
        assert_eq!(status, 201);
        let again = h.next_notification().await;
        assert_eq!((again.get("method"), again.get("token")), ("send", first.get("token")));
        let e = h.wait_exchanges(id, "the duplicate", |e| e.len() == 2).await;
        assert_eq!(e[1]["duplicate"], true);
        assert_eq!(e[1]["notification"], 2);
    }
}

#[tokio::test]
async fn duplicate_needs_an_acknowledged_notification() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.respond_with(answer(200, b"nope"));
        let id = id_of(&h.buy(json!({})).await);
        h.wait_exchanges(id, "first attempt", |e| e.len() == 1).await;
        let (status, body) =
            h.post("/admin/faults", json!({"target": "notification", "order_id": id, "fault": "duplicate"})).await;
        assert_eq!(status, 409, "{body}");
        let (status, body) =
            h.post("/admin/faults", json!({"target": "notification", "order_id": id, "fault": "explode"})).await;
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().starts_with("fault:"), "{body}");
    }
}

#[tokio::test]
async fn a_gateway_fault_given_with_the_order_answers_that_orders_first_callback_only() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let faulted = h
            .buy(json!({"gateway_faults": [{"method": "taobao.vmarket.eticket.send", "times": 1,
                                        "answer": {"code": 7, "msg": "App Call Limited"}}]}))
            .await;
        let fault_ids = faulted["gateway_fault_ids"].as_array().cloned().unwrap_or_default();
        assert_eq!(fault_ids.len(), 1, "{faulted}");
        let (_, pending) = h.get("/admin/faults").await;
        assert_eq!(pending["gateway"][0]["id"], fault_ids[0]);
        assert_eq!(pending["gateway"][0]["order_id"], faulted["order_id"]);
        let other = h.buy(json!({"mobile": "13800000001"})).await;
        assert!(other.get("gateway_fault_ids").is_none(), "{other}");
        for order in [&other, &faulted] {
            let id = id_of(order);
            h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
            let params = [("order_id", id.to_string()), ("verify_codes", "A:2".into()), ("token", token_of(order))];
            let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let first = h.call("taobao.vmarket.eticket.send", &params).await;
            if order == &faulted {
                assert_eq!(error_of(&first)["code"], 7, "{first}");
                let second = h.call("taobao.vmarket.eticket.send", &params).await;
                assert!(error_of(&second).is_null(), "{second}");
            } else {
                assert!(error_of(&first).is_null(), "the fault leaked to another order: {first}");
            }
        }
        let (_, pending) = h.get("/admin/faults").await;
        assert_eq!(pending["gateway"], json!([]));
    }
}

#[tokio::test]
async fn a_bad_gateway_fault_given_with_an_order_creates_nothing() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let send = "taobao.vmarket.eticket.send";
        for (fault, names) in [
            (json!({"times": 1, "answer": {"code": 7}}), "gateway_faults[0].method"),
            (json!({"method": send, "times": 0, "answer": {"code": 7}}), "gateway_faults[0].times"),
            (json!({"method": send, "answer": {"sub_code": "isv.unknown"}}), "gateway_faults[0].answer.code"),
            (json!({"method": send, "answer": {"code": 7}, "delay_ms": 5}), "gateway_faults[0].answer"),
            (json!({"method": send, "answer": {"code": 7}, "order_id": 1}), "gateway_faults[0].order_id"),
            (json!({"target": "notification", "method": send, "answer": {"code": 7}}), "gateway_faults[0].target"),
            (json!({"method": send, "answer": {"code": 7}, "fault": "tamper"}), "fault"),
            (json!({"method": send, "times": "two", "answer": {"code": 7}}), "times"),
        ] {
            let body = json!({"app_key": crate::support::APP_KEY, "num": 1, "mobile": "13800000000", "item_title": "门票",
                          "gateway_faults": [{"method": send, "delay_ms": 10}, fault.clone()]});
            let (status, answer) = h.post("/admin/orders", body).await;
            assert!(status == 400 || status == 422, "{fault}: {status} {answer}");
            let error = answer["error"].as_str().unwrap_or_default();
            // Our own checks name the entry; serde's (unknown field, wrong type) name the field.
            let named = match names.strip_prefix("gateway_faults[0]") {
                Some(rest) => error.starts_with(&format!("gateway_faults[1]{rest}: ")),
                None => error.contains(&format!("`{names}`")) || error.contains(&format!("{names}:")),
            };
            assert!(named, "{fault}: {error}");
        }
        let (_, orders) = h.get("/admin/orders").await;
        assert_eq!(orders["orders"], json!([]));
        let (_, pending) = h.get("/admin/faults").await;
        assert_eq!(pending["gateway"], json!([]));
        assert!(h.notification_within(200).await.is_none());
    }
}
