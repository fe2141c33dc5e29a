//! The outbox: retries on transient errors, stops on terminal ones, treats `code-alreay-send` as done,
//! and never starts a callback while the acknowledgement is still being written (C4).

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use merchant_reference::{AppState, app};
use protocol::params::Charset;
use protocol::{NotifyMethod, SubCode, TopError};
use tower::ServiceExt;

use crate::support::*;

const SEND: &str = "taobao.vmarket.eticket.send";

async fn send_with_script(name: &str, order_id: i64, answers: Vec<Answer>) -> (FakeGateway, TempDb, Running) {
    let gateway = FakeGateway::start().await;
    gateway.script(SEND, answers);
    let db = TempDb::new(name);
    let merchant = Running::start(config(&gateway.url, &db.0)).await;
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, order_id, 2)).await, ACK);
    (gateway, db, merchant)
}

async fn settled(db: &TempDb, order_id: i64) -> String {
    eventually(|| {
        let status = db.text("SELECT status FROM outbox WHERE order_id = ?1 ORDER BY id LIMIT 1", order_id)?;
        (status != "pending").then_some(status)
    })
    .await
}

#[tokio::test]
async fn transient_errors_are_retried_until_the_call_succeeds_with_the_same_codes() {
    let answers = vec![
        Answer::Error(SubCode::OrderIsProcessing.error()),
        Answer::Error(SubCode::RemoteConnectionTimeout.error()),
        Answer::Error(TopError::app_call_limited(1)),
        Answer::Http(502),
    ];
    let (gateway, db, _merchant) = send_with_script("transient", 2001, answers).await;
    assert_eq!(settled(&db, 2001).await, "done");
    let calls = gateway.calls_to(SEND, 2001);
    assert_eq!(calls.len(), 5);
    assert!(calls.iter().all(|c| c.verify_codes() == calls[0].verify_codes() && c.sign_ok));
    assert_eq!(db.scalar("SELECT attempts FROM outbox WHERE order_id = ?1", 2001), 5);
}

#[tokio::test]
async fn a_terminal_error_is_recorded_and_not_retried() {
    let (gateway, db, _merchant) =
        send_with_script("terminal", 2002, vec![Answer::Error(SubCode::InvalidOrderStatus.error())]).await;
    assert_eq!(settled(&db, 2002).await, "failed");
    let error = db.text("SELECT last_error FROM outbox WHERE order_id = ?1", 2002).unwrap();
    assert!(error.contains("invalid-order-status"), "{error}");
    // The row is no longer pending, so the worker has nothing left to call for this order.
    assert_eq!(gateway.calls_to(SEND, 2002).len(), 1);
}

#[tokio::test]
async fn a_repeated_send_after_a_terminal_failure_owes_the_callback_again_with_the_same_codes() {
    let (gateway, db, merchant) =
        send_with_script("terminal-again", 2005, vec![Answer::Error(SubCode::InvalidToken.error())]).await;
    assert_eq!(settled(&db, 2005).await, "failed");
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 2005, 2)).await, ACK);
    eventually(|| (db.outbox(2005).last().map(|(_, s)| s.as_str()) == Some("done")).then_some(())).await;
    let calls = gateway.calls_to(SEND, 2005);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].verify_codes(), calls[1].verify_codes());
}

#[tokio::test]
async fn code_already_sent_counts_as_success() {
    let (gateway, db, _merchant) =
        send_with_script("already", 2003, vec![Answer::Error(SubCode::CodeAlreadySent.error())]).await;
    assert_eq!(settled(&db, 2003).await, "done");
    assert_eq!(gateway.calls_to(SEND, 2003).len(), 1);
}

#[tokio::test]
async fn the_exchange_stays_open_until_the_acknowledgement_body_is_written() {
    let gateway = FakeGateway::start().await;
    let db = TempDb::new("c4");
    let state = AppState::new(config(&gateway.url, &db.0)).unwrap();
    let _worker = merchant_reference::outbox::spawn(state.clone());
    let params = signed(&notification(NotifyMethod::Send, 2004, 1), &notify_key());
    let request = Request::post("/notify")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(params.to_urlencoded(Charset::Utf8)))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    // The work is committed, but the answer has not been written yet: the order is still open.
    assert_eq!(db.outbox(2004), [("send".to_owned(), "pending".to_owned())]);
    assert!(state.exchanges.is_open(2004));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], ACK);
    assert!(!state.exchanges.is_open(2004));
    gateway.wait_for(SEND, 2004, 1).await;
}

#[tokio::test]
async fn a_callback_still_owed_at_shutdown_is_made_by_the_next_start() {
    // Held for the whole test: no other test's server can take the port and answer in its place.
    let refusing = testkit::RefusingPort::new();
    let closed = refusing.url("/router/rest");
    let db = TempDb::new("restart");
    let merchant = Running::start(config(&closed, &db.0)).await;
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 2007, 2)).await, ACK);
    merchant.stop().await;
    assert_eq!(db.outbox(2007), [("send".to_owned(), "pending".to_owned())]);

    let gateway = FakeGateway::start().await;
    let _merchant = Running::start(config(&gateway.url, &db.0)).await;
    let mut issued = db.codes(2007);
    issued.sort();
    assert_eq!(gateway.wait_for(SEND, 2007, 1).await[0].verify_codes(), issued);
}

#[tokio::test]
async fn callbacks_of_one_order_go_out_oldest_first() {
    let (gateway, db, merchant) = send_with_script(
        "fifo",
        2008,
        vec![Answer::Error(SubCode::OpFailed.error()), Answer::Error(SubCode::OpFailed.error())],
    )
    .await;
    gateway.wait_for(SEND, 2008, 1).await;
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Resend, 2008, 2)).await, ACK);
    gateway.wait_for("taobao.vmarket.eticket.resend", 2008, 1).await;
    let apis: Vec<String> = gateway.calls().into_iter().map(|c| c.api).collect();
    assert_eq!(apis, [SEND, SEND, SEND, "taobao.vmarket.eticket.resend"]);
    eventually(|| (db.outbox(2008).iter().all(|(_, s)| s == "done")).then_some(())).await;
}

/// Delivers `method` for every order at once and waits until no outbox row is pending.
async fn deliver_all_and_drain(merchant: &Running, db: &TempDb, method: NotifyMethod, orders: &[i64]) {
    let mut deliveries = tokio::task::JoinSet::new();
    for &order_id in orders {
        let url = merchant.notify_url();
        deliveries.spawn(async move { deliver(&url, &notification(method, order_id, 2)).await });
    }
    while let Some(body) = deliveries.join_next().await {
        assert_eq!(body.unwrap(), ACK);
    }
    eventually(|| {
        (db.conn().query_row("SELECT count(*) FROM outbox WHERE status = 'pending'", [], |r| r.get::<_, i64>(0)).ok()
            == Some(0))
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn each_owed_callback_is_made_exactly_once_when_many_orders_arrive_together() {
    const RESEND: &str = "taobao.vmarket.eticket.resend";
    let gateway = FakeGateway::start().await;
    let db = TempDb::new("once");
    let merchant = Running::start(config(&gateway.url, &db.0)).await;
    let orders: Vec<i64> = (5001..5041).collect();
    // Every send arrives twice (a platform retry): the repeat owes nothing new.
    let twice: Vec<i64> = orders.iter().flat_map(|&o| [o, o]).collect();
    deliver_all_and_drain(&merchant, &db, NotifyMethod::Send, &twice).await;
    deliver_all_and_drain(&merchant, &db, NotifyMethod::Resend, &orders).await;
    deliver_all_and_drain(&merchant, &db, NotifyMethod::Resend, &orders).await;
    // A last order whose callback is made after every other one was started: a duplicate of an
    // earlier callback would have reached the gateway by the time this one is done.
    assert_eq!(deliver(&merchant.notify_url(), &notification(NotifyMethod::Send, 5999, 1)).await, ACK);
    settled(&db, 5999).await;
    gateway.wait_for(SEND, 5999, 1).await;

    // (order, eticket.send calls, eticket.resend calls) of every order that did not get exactly 1 and 2.
    let wrong: Vec<(i64, usize, usize)> = orders
        .iter()
        .map(|&o| (o, gateway.calls_to(SEND, o).len(), gateway.calls_to(RESEND, o).len()))
        .filter(|&(_, sends, resends)| (sends, resends) != (1, 2))
        .collect();
    assert!(wrong.is_empty(), "(order, sends, resends) off the expected (_, 1, 2): {wrong:?}");
    assert_eq!(gateway.calls().len(), orders.len() * 3 + 1);
}
