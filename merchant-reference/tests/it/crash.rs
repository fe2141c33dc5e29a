//! Crash safety: the merchant binary is killed with SIGKILL mid-flight and restarted on the same
//! database. Every acknowledged order must end with its codes reported, the same codes as before the
//! crash, never a second set.

use protocol::{NotifyMethod, SubCode};

use crate::support::*;

const SEND: &str = "taobao.vmarket.eticket.send";

#[tokio::test]
async fn killed_between_the_ack_and_the_callback_it_reports_the_same_codes_after_restart() {
    // A gateway that is not there: the callback cannot happen before the crash.
    // Held for the whole test: no other test's server can take the port and answer in its place.
    let refusing = testkit::RefusingPort::new();
    let closed = refusing.url("/router/rest");
    let db = TempDb::new("crash-before");
    let merchant = Process::spawn(&closed, &db.0);
    for order_id in [4001, 4002] {
        assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, order_id, 3)).await, ACK);
    }
    let mut issued = db.codes(4001);
    issued.sort();
    merchant.kill();

    let gateway = FakeGateway::start().await;
    let restarted = Process::spawn(&gateway.url, &db.0);
    for order_id in [4001, 4002] {
        let calls = gateway.wait_for(SEND, order_id, 1).await;
        assert!(calls[0].sign_ok);
        assert_eq!(calls[0].verify_codes().iter().map(|(_, n)| n).sum::<i64>(), 3);
    }
    assert_eq!(gateway.calls_to(SEND, 4001)[0].verify_codes(), issued, "the codes issued before the crash");

    // The platform repeats the send (its ack may have been lost): still no second set of codes.
    assert_eq!(deliver(&restarted.notify_url(), &notification(NotifyMethod::Send, 4001, 3)).await, ACK);
    assert_eq!(db.scalar("SELECT count(*) FROM codes WHERE order_id = ?1", 4001), 1);
}

#[tokio::test]
async fn killed_during_the_callback_it_calls_again_with_the_same_codes_and_accepts_already_sent() {
    let gateway = FakeGateway::start().await;
    // The first call reaches the platform and the merchant dies waiting for the answer; the platform
    // had recorded it, so the repeat is answered `code-alreay-send`.
    gateway.script(SEND, [Answer::Hold, Answer::Error(SubCode::CodeAlreadySent.error())]);
    let db = TempDb::new("crash-during");
    let merchant = Process::spawn(&gateway.url, &db.0);
    let mut n = notification(NotifyMethod::Send, 4003, 2);
    n.consume_type = Some("1".into());
    assert_eq!(deliver(&merchant.notify_url(), &n).await, ACK);
    let held = gateway.wait_for(SEND, 4003, 1).await[0].verify_codes();
    merchant.kill();
    assert_eq!(db.outbox(4003), [("send".to_owned(), "pending".to_owned())], "still owed after the crash");

    let _restarted = Process::spawn(&gateway.url, &db.0);
    let calls = gateway.wait_for(SEND, 4003, 2).await;
    assert_eq!(calls[1].verify_codes(), held);
    eventually(|| (db.outbox(4003) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
    assert_eq!(db.scalar("SELECT count(*) FROM codes WHERE order_id = ?1", 4003), 2);
}

#[tokio::test]
async fn killed_with_two_resends_owed_it_makes_both_after_restart() {
    const RESEND: &str = "taobao.vmarket.eticket.resend";
    let gateway = FakeGateway::start().await;
    // The first resend callback reaches the platform and the merchant dies waiting for the answer.
    gateway.script(RESEND, [Answer::Hold]);
    let db = TempDb::new("crash-resends");
    let merchant = Process::spawn(&gateway.url, &db.0);
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 4004, 2)).await, ACK);
    eventually(|| (db.outbox(4004) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Resend, 4004, 2)).await, ACK);
    let held = gateway.wait_for(RESEND, 4004, 1).await[0].verify_codes();
    // The second notification is acknowledged while the first callback is in flight.
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Modified, 4004, 2)).await, ACK);
    merchant.kill();
    let owed = [("resend".to_owned(), "pending".to_owned()), ("resend".to_owned(), "pending".to_owned())];
    assert_eq!(db.outbox(4004)[1..], owed, "both still owed after the crash");

    let _restarted = Process::spawn(&gateway.url, &db.0);
    // The interrupted call is made again, then the second notification's own call.
    let calls = gateway.wait_for(RESEND, 4004, 3).await;
    assert!(calls.iter().all(|c| c.verify_codes() == held && c.sign_ok));
    eventually(|| (db.outbox(4004).iter().all(|(_, s)| s == "done")).then_some(())).await;
    assert_eq!(gateway.calls_to(RESEND, 4004).len(), 3);
    assert_eq!(gateway.calls_to(SEND, 4004).len(), 1, "the codes were never sent twice");
}

#[tokio::test]
async fn killed_waiting_for_a_consume_answer_it_settles_the_consume_from_the_platforms_log_after_restart() {
    const CONSUME: &str = "taobao.vmarket.eticket.consume";
    let gateway = FakeGateway::start().await;
    // The consume reaches the platform and the merchant dies waiting for the answer.
    gateway.script(CONSUME, [Answer::Hold]);
    let db = TempDb::new("crash-consume");
    let merchant = Process::spawn(&gateway.url, &db.0);
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 4005, 3)).await, ACK);
    let code = gateway.wait_for(SEND, 4005, 1).await[0].verify_codes()[0].0.clone();
    let url = format!("{}/pos/consume", merchant.base);
    let body = serde_json::json!({"code": code, "num": 2});
    // The clerk's request never gets an answer: its error after the kill is expected and ignored.
    let clerk = tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await.is_ok() });
    let serial = gateway.wait_for(CONSUME, 4005, 1).await[0].get("serial_num").unwrap().to_owned();
    merchant.kill();
    assert!(!clerk.await.unwrap(), "the clerk got no answer");
    let status = |db: &TempDb| db.text("SELECT status FROM consumes WHERE order_id = ?1", 4005);
    assert_eq!(status(&db).as_deref(), Some("pending"), "the row was written before the call");
    assert_eq!(db.scalar("SELECT remaining FROM codes WHERE order_id = ?1", 4005), 3);
    // The restart comes after the grace period: age the row instead of waiting two minutes.
    db.conn().execute("UPDATE consumes SET created_at = '2020-01-01 00:00:00'", []).unwrap();

    // The platform had redeemed it: its log lists the serial, and the code has 1 left.
    gateway.script(
        "taobao.vmarket.eticket.oplogs.get",
        [Answer::Success(serde_json::json!({
            "eticket_op_logs": {"eticket_op_log": [{"consume_serial_num": serial, "num": 2, "op_type": 1, "order_id": 4005}]},
            "total_results": 1,
        }))],
    );
    gateway.script(
        "taobao.vmarket.eticket.codes.get",
        [Answer::Success(serde_json::json!({
            "eticket_codes": {"eticket_code": [{"order_id": 4005, "code": code, "num": 1, "status": 1}]},
            "total_results": 1,
        }))],
    );
    let _restarted = Process::spawn(&gateway.url, &db.0);
    eventually(|| (status(&db).as_deref() == Some("done")).then_some(())).await;
    assert_eq!(db.scalar("SELECT remaining FROM codes WHERE order_id = ?1", 4005), 1);
    assert_eq!(gateway.calls_to(CONSUME, 4005).len(), 1, "redeemed once, by the call before the crash");
}
