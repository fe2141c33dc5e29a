//! The order lifecycle end to end: notifications out, callbacks in, suite actions, the clock.

use protocol::{Secret, verify_notify};
use serde_json::json;

use crate::support::{Harness, NOTIFY_KEY, answer, backends, error_of, id_of, token_of};

#[tokio::test]
async fn a_bought_order_is_notified_then_issued_by_eticket_send() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.buy(json!({})).await;
        let id = id_of(&order);
        assert_eq!(order["state"], "PAID");
        let n = h.next_notification().await;
        assert_eq!(n.get("method"), "send");
        assert_eq!(n.get("order_id"), id.to_string());
        assert_eq!(n.get("token"), token_of(&order));
        assert_eq!(n.get("num"), "2");
        assert_eq!(n.get("total_fee"), "2.00");
        assert!(n.content_type.contains("charset=utf-8"), "{}", n.content_type);
        assert_eq!(verify_notify(&Secret::new(NOTIFY_KEY), &n.params), Ok(()));
        h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
        let token = token_of(&order);
        let answer = h.codes("taobao.vmarket.eticket.send", id, "AB12:1,CD34:1", &token).await;
        assert_eq!(answer["vmarket_eticket_send_response"]["ret_code"], 1, "{answer}");
        let order = h.order(id).await;
        assert_eq!(order["state"], "ISSUED");
        assert_eq!(order["left_num"], 2);
        assert_eq!(order["codes"][1]["code"], "CD34");
        // G7: a second send answers code-alreay-send.
        let again = h.codes("taobao.vmarket.eticket.send", id, "AB12:1,CD34:1", &token).await;
        assert_eq!(error_of(&again)["sub_code"], "isv.eticket-send-error:code-alreay-send");
        let codes = h.call("taobao.vmarket.eticket.codes.get", &[("order_id", &id.to_string())]).await;
        let list = &codes["vmarket_eticket_codes_get_response"];
        assert_eq!(list["total_results"], 2, "{codes}");
        assert_eq!(list["eticket_codes"]["eticket_code"][0]["status"], 1);
        let exchanges = h.exchanges(id).await;
        assert_eq!(exchanges[0]["kind"], "notification");
        assert_eq!(exchanges[0]["verdict"], "ack_200");
        assert_eq!(exchanges[1]["kind"], "gateway");
        assert_eq!(exchanges[1]["causality"], "ok");
        assert_eq!(exchanges[1]["params"]["order_id"], id.to_string());
        assert!(exchanges[1]["params"]["sign"].is_string());
    }
}

async fn issued(h: &Harness, codes: &str) -> (i64, String) {
    let order = h.notified(json!({})).await;
    let id = id_of(&order);
    let token = token_of(&order);
    let answer = h.codes("taobao.vmarket.eticket.send", id, codes, &token).await;
    assert!(error_of(&answer).is_null(), "{answer}");
    let order = h.order(id).await;
    assert!(order["notifications"]["awaiting_callback"].is_null(), "the send callback came: {order}");
    (id, token)
}

#[tokio::test]
async fn resend_and_modified_lead_to_eticket_resend_which_replaces_the_codes() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, "A1:1,B1:1").await;
        let (status, _) = h.post(&format!("/admin/orders/{id}/resend"), json!({})).await;
        assert_eq!(status, 202);
        let n = h.next_notification().await;
        assert_eq!((n.get("method"), n.get("left_num")), ("resend", "2"));
        h.wait_order(id, "resend acknowledged", |o| o["notifications"]["awaiting_callback"] == "resend").await;
        let answer = h.codes("taobao.vmarket.eticket.resend", id, "C1:2", &token).await;
        assert!(error_of(&answer).is_null(), "{answer}");
        let order = h.order(id).await;
        assert!(order["notifications"]["awaiting_callback"].is_null(), "the resend callback came: {order}");
        assert_eq!(order["codes"].as_array().unwrap().len(), 3);
        assert_eq!(order["codes"][0]["status"], "voided");
        assert_eq!(order["left_num"], 2);
        let (status, _) = h.post(&format!("/admin/orders/{id}/modify-mobile"), json!({"mobile": "13900000000"})).await;
        assert_eq!(status, 202);
        let n = h.next_notification().await;
        assert_eq!((n.get("method"), n.get("mobile")), ("modified", "13900000000"));
        // Counts that do not sum to left_num are 41.
        let bad = h.codes("taobao.vmarket.eticket.resend", id, "C1:1", &token).await;
        assert_eq!(error_of(&bad)["msg"], "Invalid arguments:verify_codes");
    }
}

#[tokio::test]
async fn refund_sends_cancel_and_later_callbacks_are_refused() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, "A1:2").await;
        let (status, order) = h.post(&format!("/admin/orders/{id}/refund"), json!({})).await;
        assert_eq!((status, order["state"].as_str()), (202, Some("CANCELLED")));
        let n = h.next_notification().await;
        assert_eq!((n.get("method"), n.get("cancel_num")), ("cancel", "2"));
        assert_eq!(n.params.get("sms_template"), None);
        let answer = h.codes("taobao.vmarket.eticket.resend", id, "A1:2", &token).await;
        assert_eq!(error_of(&answer)["sub_code"], "isv.eticket-order-status-error:invalid-order-status");
        let (status, body) = h.post(&format!("/admin/orders/{id}/refund"), json!({})).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["error"].as_str().unwrap().contains("CANCELLED"));
    }
}

#[tokio::test]
async fn extend_and_rights_protection_send_order_modify_and_time_expand_sends_nothing() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, _) = issued(&h, "A1:2").await;
        let (status, _) =
            h.post(&format!("/admin/orders/{id}/extend"), json!({"valid_ends": "2099-12-31 23:59:59"})).await;
        assert_eq!(status, 202);
        let n = h.next_notification().await;
        assert_eq!((n.get("method"), n.get("sub_method")), ("order_modify", "1"));
        assert!(n.get("data").contains("\"valid_ends\":\"2099-12-31 23:59:59\""), "{}", n.get("data"));
        assert_eq!(n.params.get("token"), None);
        let (status, _) = h.post(&format!("/admin/orders/{id}/rights-protection"), json!({})).await;
        assert_eq!(status, 202);
        let n = h.next_notification().await;
        assert_eq!((n.get("sub_method"), n.get("data")), ("2", "{}"));
        let answer =
            h.call("taobao.vmarket.eticket.time.expand", &[("order_id", &id.to_string()), ("expand_days", "1")]).await;
        assert!(error_of(&answer).is_null(), "{answer}");
        assert_eq!(h.order(id).await["valid_ends"], "2100-01-01 23:59:59");
        assert!(h.notification_within(300).await.is_none());
    }
}

#[tokio::test]
async fn an_order_without_codes_closes_two_hours_after_payment() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.notified(json!({})).await;
        let id = id_of(&order);
        let (status, clock) = h.post("/admin/clock", json!({"advance_seconds": 7200})).await;
        assert_eq!(status, 200);
        assert_eq!(clock["now"].as_str().unwrap().len(), 19);
        assert_eq!(h.order(id).await["state"], "CLOSED");
        let token = token_of(&order);
        let answer = h.codes("taobao.vmarket.eticket.send", id, "A:2", &token).await;
        assert_eq!(error_of(&answer)["sub_code"], "isv.eticket-order-status-error:invalid-order-status");
    }
}

#[tokio::test]
async fn retries_fire_when_the_clock_is_advanced_and_exhaustion_shows_in_tasks_get() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.respond_with(answer(200, br#"{"code":501}"#));
        let order = h.buy(json!({})).await;
        let id = id_of(&order);
        let first = h.next_notification().await;
        h.wait_exchanges(id, "first attempt recorded", |e| e.len() == 1).await;
        assert!(h.notification_within(200).await.is_none(), "no retry before 15 s");
        // The library call the conformance suite uses in-process.
        h.platform.advance_clock(15).await.unwrap();
        let second = h.next_notification().await;
        assert_eq!(first.get("order_id"), second.get("order_id"));
        h.wait_exchanges(id, "second attempt recorded", |e| e.len() == 2).await;
        // Everything up to 1 h collapses into one attempt, the last of the schedule.
        h.post("/admin/clock", json!({"advance_seconds": 3600})).await;
        h.next_notification().await;
        let exchanges = h.wait_exchanges(id, "third attempt recorded", |e| e.len() == 3).await;
        assert_eq!(exchanges[2]["attempt"], 3);
        let order = h.wait_order(id, "exhausted", |o| o["notifications"]["exhausted"] == true).await;
        assert_eq!(order["state"], "PAID");
        let tasks = h.call("taobao.vmarket.eticket.tasks.get", &[("type", "1")]).await;
        assert_eq!(
            tasks["vmarket_eticket_tasks_get_response"]["eticket_tasks"]["eticket_task"][0]["order_id"], id,
            "{tasks}"
        );
        // manage.notify re-triggers send.
        h.respond_with(answer(200, br#"{"code":200}"#));
        let answer = h
            .call("taobao.vmarket.eticket.manage.notify", &[("order_id", &id.to_string()), ("notify_method", "send")])
            .await;
        assert!(error_of(&answer).is_null(), "{answer}");
        assert_eq!(h.next_notification().await.get("method"), "send");
        h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
        let tasks = h.call("taobao.vmarket.eticket.tasks.get", &[("type", "2")]).await;
        assert_eq!(tasks["vmarket_eticket_tasks_get_response"]["total_results"], 1, "{tasks}");
    }
}

#[tokio::test]
async fn a_later_notification_waits_for_the_earlier_one_of_the_same_order() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.respond_with(answer(500, b"busy"));
        let order = h.buy(json!({})).await;
        let id = id_of(&order);
        h.next_notification().await;
        h.wait_exchanges(id, "first attempt recorded", |e| e.len() == 1).await;
        let (status, _) = h.post(&format!("/admin/orders/{id}/refund"), json!({})).await;
        assert_eq!(status, 202);
        assert!(h.notification_within(300).await.is_none(), "cancel must wait behind the unacknowledged send");
        h.respond_with(answer(200, br#"{"code":200}"#));
        h.post("/admin/clock", json!({"advance_seconds": 15})).await;
        assert_eq!(h.next_notification().await.get("method"), "send");
        assert_eq!(h.next_notification().await.get("method"), "cancel");
    }
}

#[tokio::test]
async fn plain_trades_are_not_notified_and_fullinfo_shows_no_eticket_ext() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let plain = h.buy(json!({"eticket_enabled": false})).await;
        let etk = h.buy(json!({})).await;
        assert_eq!(h.next_notification().await.get("order_id"), id_of(&etk).to_string());
        let fields = "tid,type,status,eticket_ext,orders";
        let a = h.call("taobao.trade.fullinfo.get", &[("fields", fields), ("tid", &id_of(&plain).to_string())]).await;
        let trade = &a["trade_fullinfo_get_response"]["trade"];
        assert_eq!(trade["type"], "fixed", "{a}");
        assert!(trade.get("eticket_ext").is_none());
        let b = h.call("taobao.trade.fullinfo.get", &[("fields", fields), ("tid", &id_of(&etk).to_string())]).await;
        let trade = &b["trade_fullinfo_get_response"]["trade"];
        assert_eq!(trade["eticket_ext"], r#"{"source":"mock"}"#, "{b}");
        assert_eq!(trade["orders"]["order"][0]["status"], "WAIT_SELLER_SEND_GOODS");
        let none = h.call("taobao.trade.fullinfo.get", &[("fields", fields), ("tid", "1")]).await;
        assert_eq!(error_of(&none)["sub_code"], "isv.trade-not-exist");
        // An e-voucher API on a plain trade: B2.
        let codes = h.call("taobao.vmarket.eticket.codes.get", &[("order_id", &id_of(&plain).to_string())]).await;
        assert_eq!(error_of(&codes)["sub_code"], "isv.eticket-order-not-found:invalid-orderid");
    }
}

#[tokio::test]
async fn failsend_closes_the_order_and_checks_the_token_only_when_sent() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.notified(json!({})).await;
        let id = id_of(&order);
        let bad = h
            .call(
                "taobao.vmarket.eticket.failsend",
                &[("order_id", &id.to_string()), ("error_code", "1"), ("token", "00000000000000000000000000000000")],
            )
            .await;
        assert_eq!(error_of(&bad)["sub_code"], "isv.eticket-token-error:invalid-token");
        let ok = h
            .call(
                "taobao.vmarket.eticket.failsend",
                &[("order_id", &id.to_string()), ("error_code", "1"), ("error_msg", "库存不足")],
            )
            .await;
        assert!(error_of(&ok).is_null(), "{ok}");
        assert_eq!(h.order(id).await["state"], "CLOSED");
    }
}

/// The field names the conformance suite reads (README "Exchanges JSON"): a change here is a breaking change.
#[tokio::test]
async fn exchange_and_order_json_keep_their_documented_fields() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.buy(json!({})).await;
        for field in
            ["order_id", "state", "token", "num", "left_num", "codes", "valid_start", "valid_ends", "notifications"]
        {
            assert!(order.get(field).is_some(), "order lacks {field}: {order}");
        }
        let id = id_of(&order);
        h.next_notification().await;
        h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
        h.call("taobao.vmarket.eticket.codes.get", &[("order_id", &id.to_string())]).await;
        let e = h.wait_exchanges(id, "both exchanges", |e| e.len() == 2).await;
        let common = [
            "kind",
            "seq",
            "at_ms",
            "started_at",
            "finished_at",
            "started_at_ms",
            "finished_at_ms",
            "latency_ms",
            "method",
            "params",
        ];
        let notification = [
            "notification",
            "attempt",
            "url",
            "content_type",
            "status",
            "body",
            "error",
            "verdict",
            "near_miss",
            "acknowledged",
            "alteration",
            "duplicate",
        ];
        let gateway = [
            "api",
            "http_method",
            "response",
            "error_code",
            "sub_code",
            "held_ms",
            "causality",
            "cause_acked",
            "fault",
            "sign_diagnosis",
        ];
        for (exchange, own) in [(&e[0], &notification[..]), (&e[1], &gateway[..])] {
            for field in common.iter().chain(own) {
                assert!(exchange.get(*field).is_some(), "{} exchange lacks {field}: {exchange}", exchange["kind"]);
            }
        }
        assert_eq!((e[0]["seq"].as_i64(), e[1]["seq"].as_i64(), e[0]["at_ms"].as_i64()), (Some(1), Some(2), Some(0)));
        assert_eq!(e[1]["method"], "taobao.vmarket.eticket.codes.get");
    }
}
