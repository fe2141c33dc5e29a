//! C6 pairing: every acknowledged `resend` / `modified` gets an `eticket.resend` of its own, even when
//! it arrives while the callback for the previous one is still in flight, and the calls of one order
//! still go out one at a time, oldest first.

use protocol::NotifyMethod;
use serde_json::json;

use crate::support::*;

const SEND: &str = "taobao.vmarket.eticket.send";
const RESEND: &str = "taobao.vmarket.eticket.resend";
const CONSUME: &str = "taobao.vmarket.eticket.consume";

/// Issues one code of 3 units, holds the first `eticket.resend` in flight, redeems one unit at the POS
/// and delivers the second notification while the first callback is still held. The redemption makes
/// the two callbacks tell apart: the first reports 3 units, the second 2.
async fn second_notification_while_the_first_callback_is_held(method: NotifyMethod, order_id: i64) {
    let gateway = FakeGateway::start().await;
    let db = TempDb::new(&format!("pairing-{method}"));
    let merchant = Running::start(config(&gateway.url, &db.0)).await;
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, order_id, 3)).await, ACK);
    let code = gateway.wait_for(SEND, order_id, 1).await[0].verify_codes()[0].0.clone();
    eventually(|| (db.outbox(order_id) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;

    let gate = Gate::default();
    gateway.script(RESEND, [Answer::Gated(gate.clone())]);
    let mut first = notification(method, order_id, 3);
    first.mobile = Some("13900000001".into());
    assert_eq!(deliver(&merchant.notify_url(), &first).await, ACK);
    gateway.wait_for(RESEND, order_id, 1).await;

    gateway.script(CONSUME, [Answer::Success(json!({"ret_code": 1, "left_num": 2, "code_left_num": 2}))]);
    let consumed = reqwest::Client::new()
        .post(format!("{}/pos/consume", merchant.base))
        .json(&json!({"code": code, "num": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(consumed.status().as_u16(), 200);
    let mut second = notification(method, order_id, 2);
    second.mobile = Some("13900000002".into());
    assert_eq!(deliver(&merchant.notify_url(), &second).await, ACK);
    assert_eq!(
        db.outbox(order_id).iter().filter(|(api, status)| api == "resend" && status == "pending").count(),
        2,
        "the second acknowledgement owes a callback of its own, written before the ack"
    );
    assert_eq!(gateway.calls_to(RESEND, order_id).len(), 1, "one call at a time per order");

    gate.open();
    let calls = gateway.wait_for(RESEND, order_id, 2).await;
    let reported: Vec<Vec<(String, i64)>> = calls.iter().map(Call::verify_codes).collect();
    assert_eq!(reported, [vec![(code.clone(), 3)], vec![(code, 2)]], "in order, each with the codes usable then");
    assert!(calls.iter().all(|c| c.sign_ok));
    eventually(|| (db.outbox(order_id).iter().all(|(_, s)| s == "done")).then_some(())).await;
    assert_eq!(gateway.calls_to(RESEND, order_id).len(), 2, "no third call once both rows are done");
    // `modified` carries the buyer's new mobile; the last one acknowledged is the one kept.
    let mobile = db.text("SELECT mobile FROM orders WHERE order_id = ?1", order_id);
    let expected = if method == NotifyMethod::Modified { "13900000002" } else { "18077113872" };
    assert_eq!(mobile.as_deref(), Some(expected));
}

#[tokio::test]
async fn a_second_resend_during_the_first_callback_gets_its_own_callback_after_it() {
    second_notification_while_the_first_callback_is_held(NotifyMethod::Resend, 6001).await;
}

#[tokio::test]
async fn a_second_modified_during_the_first_callback_gets_its_own_callback_after_it() {
    second_notification_while_the_first_callback_is_held(NotifyMethod::Modified, 6002).await;
}

#[tokio::test]
async fn two_resends_queued_behind_a_slow_send_get_two_callbacks() {
    let gateway = FakeGateway::start().await;
    let gate = Gate::default();
    gateway.script(SEND, [Answer::Gated(gate.clone())]);
    let db = TempDb::new("pairing-queued");
    let merchant = Running::start(config(&gateway.url, &db.0)).await;
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 6003, 2)).await, ACK);
    gateway.wait_for(SEND, 6003, 1).await;
    for _ in 0..2 {
        assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Resend, 6003, 2)).await, ACK);
    }
    gate.open();
    let calls = gateway.wait_for(RESEND, 6003, 2).await;
    assert_eq!(calls[0].verify_codes(), calls[1].verify_codes());
    eventually(|| (db.outbox(6003).iter().all(|(_, s)| s == "done")).then_some(())).await;
    let apis: Vec<String> = gateway.calls().into_iter().map(|c| c.api).collect();
    assert_eq!(apis, [SEND, RESEND, RESEND]);
}

#[tokio::test]
async fn a_cancel_drops_every_resend_still_owed() {
    let gateway = FakeGateway::start().await;
    let db = TempDb::new("pairing-cancel");
    let merchant = Running::start(config(&gateway.url, &db.0)).await;
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 6004, 2)).await, ACK);
    eventually(|| (db.outbox(6004) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
    let gate = Gate::default();
    gateway.script(RESEND, [Answer::Gated(gate.clone())]);
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Resend, 6004, 2)).await, ACK);
    gateway.wait_for(RESEND, 6004, 1).await;
    for method in [NotifyMethod::Resend, NotifyMethod::Modified, NotifyMethod::Cancel] {
        assert_eq!(deliver(&merchant.notify_url(), &notification(method, 6004, 2)).await, ACK);
    }
    let statuses = |db: &TempDb| db.outbox(6004).into_iter().map(|(_, s)| s).collect::<Vec<_>>();
    assert_eq!(statuses(&db), ["done", "dropped", "dropped", "dropped"], "the one in flight too");
    gate.open();
    // A new order after the gate opened: by the time its callback is done the held one has settled.
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 6005, 1)).await, ACK);
    eventually(|| (db.outbox(6005) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
    assert_eq!(statuses(&db), ["done", "dropped", "dropped", "dropped"], "a late answer resurrects nothing");
    assert_eq!(gateway.calls_to(RESEND, 6004).len(), 1, "only the call already in flight at the cancel");
}
