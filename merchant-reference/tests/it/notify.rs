//! `POST /notify`: the five methods, rejections, duplicates, and what each leaves in the database.

use protocol::params::Charset;
use protocol::{NotifyMethod, Secret, notify_sign};

use crate::support::*;

const SEND: &str = "taobao.vmarket.eticket.send";
const RESEND: &str = "taobao.vmarket.eticket.resend";
const FAILSEND: &str = "taobao.vmarket.eticket.failsend";

struct World {
    gateway: FakeGateway,
    db: TempDb,
    merchant: Running,
}

async fn world(name: &str) -> World {
    let gateway = FakeGateway::start().await;
    let db = TempDb::new(name);
    let merchant = Running::start(config(&gateway.url, &db.0)).await;
    World { gateway, db, merchant }
}

/// Delivers a `send` and waits for its successful callback; returns the reported pairs.
async fn issue(w: &World, order_id: i64, num: u32) -> Vec<(String, i64)> {
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Send, order_id, num)).await, ACK);
    let calls = w.gateway.wait_for(SEND, order_id, 1).await;
    eventually(|| (w.db.outbox(order_id) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
    calls[0].verify_codes()
}

#[tokio::test]
async fn send_is_acknowledged_byte_exact_and_reported_with_one_code_for_all_units() {
    let w = world("send").await;
    let pairs = issue(&w, 1001, 3).await;
    let call = &w.gateway.calls_to(SEND, 1001)[0];
    assert!(call.sign_ok, "the callback must be signed with the app secret");
    assert_eq!(call.get("token"), Some(token_of(1001).as_str()));
    assert_eq!(call.get("app_key"), Some(APP_KEY));
    assert_eq!(call.get("session"), Some(SESSION));
    assert_eq!(call.get("v"), Some("2.0"));
    assert_eq!(call.get("format"), Some("json"));
    assert_eq!(call.get("sign_method"), Some("hmac"));
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].1, 3);
    let mut stored = w.db.codes(1001);
    stored.sort();
    assert_eq!(stored, pairs);
}

#[tokio::test]
async fn one_use_per_code_issues_one_code_of_count_one_per_unit() {
    let w = world("per-unit").await;
    let mut n = notification(NotifyMethod::Send, 1002, 4);
    n.consume_type = Some("1".into());
    assert_eq!(deliver(&w.merchant.notify_url(), &n).await, ACK);
    let pairs = w.gateway.wait_for(SEND, 1002, 1).await[0].verify_codes();
    assert_eq!(pairs.len(), 4);
    assert!(pairs.iter().all(|(_, count)| *count == 1));
    let mut codes: Vec<&String> = pairs.iter().map(|(c, _)| c).collect();
    codes.dedup();
    assert_eq!(codes.len(), 4, "codes are unique");
}

#[tokio::test]
async fn forged_unsigned_and_stale_notifications_get_501_and_change_nothing() {
    let w = world("reject").await;
    let url = w.merchant.notify_url();
    let n = notification(NotifyMethod::Send, 1003, 1);
    let before = w.db.counts();

    let check = |name: &'static str, params: protocol::Params| {
        let url = url.clone();
        async move {
            let (status, body) = post_params(&url, &params).await;
            assert_eq!(body, REJECT, "{name}: status {status}");
        }
    };

    let mut tampered = signed(&n, &notify_key());
    tampered.set("num", "100");
    check("tampered value", tampered).await;

    check("wrong key", signed(&n, &Secret::new(APP_SECRET))).await;

    let mut unsigned = signed(&n, &notify_key());
    unsigned.remove("sign");
    check("no sign", unsigned).await;

    // A sign computed over UTF-8 instead of GBK differs on the Chinese item title.
    let mut utf8 = n.to_params(protocol::Gmt8Timestamp::from_utc(chrono::Utc::now()));
    let canonical = format!("{NOTIFY_KEY}{}", protocol::notify_canonical(&utf8));
    utf8.set("sign", md5_upper_hex(canonical.as_bytes()));
    check("UTF-8 sign", utf8).await;

    for minutes in [-11i64, 11] {
        let mut stale =
            n.to_params(protocol::Gmt8Timestamp::from_utc(chrono::Utc::now() + chrono::Duration::minutes(minutes)));
        let sign = notify_sign(&notify_key(), &stale);
        stale.set("sign", sign);
        check("stale timestamp", stale).await;
    }

    // Epoch milliseconds are a TOP call's timestamp, not a notification's (PROTOCOL §3.2): stale (C2).
    let millis = chrono::Utc::now().timestamp_millis().to_string();
    for timestamp in [None, Some("yesterday"), Some(millis.as_str())] {
        let mut params = n.to_params(protocol::Gmt8Timestamp::from_utc(chrono::Utc::now()));
        match timestamp {
            None => drop(params.remove("timestamp")),
            Some(t) => params.set("timestamp", t),
        }
        let sign = notify_sign(&notify_key(), &params);
        params.set("sign", sign);
        check("missing or malformed timestamp", params).await;
    }

    assert_eq!(w.db.counts(), before, "a rejected notification leaves no trace");
    assert!(w.gateway.calls().is_empty());
}

#[tokio::test]
async fn an_oversized_body_and_other_methods_get_501_too() {
    let w = world("reject-shape").await;
    let url = w.merchant.notify_url();
    let (status, body) = post_raw(&url, "application/x-www-form-urlencoded", "a".repeat(3 << 20)).await;
    assert_eq!((status, body.as_slice()), (200, REJECT), "{}", String::from_utf8_lossy(&body));
    for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let response = reqwest::Client::new().request(method.clone(), &url).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert_eq!((status, content_type.as_str()), (200, "application/json"), "{method}");
        assert_eq!(response.bytes().await.unwrap().as_ref(), REJECT, "{method}");
    }
}

/// MD5 computed here, not through `protocol`: the wrong (UTF-8) sign must not come from the code under test.
fn md5_upper_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode_upper(md5::Md5::digest(bytes))
}

#[tokio::test]
async fn a_validly_signed_notification_without_order_id_is_rejected() {
    let w = world("invalid").await;
    let n = notification(NotifyMethod::Send, 1004, 1);
    let mut params = n.to_params(protocol::Gmt8Timestamp::from_utc(chrono::Utc::now()));
    params.remove("order_id");
    let sign = notify_sign(&notify_key(), &params);
    params.set("sign", sign);
    let before = w.db.counts();
    assert_eq!(post_params(&w.merchant.notify_url(), &params).await.1, REJECT);
    assert_eq!(w.db.counts(), before);
}

#[tokio::test]
async fn params_are_read_from_query_and_gbk_body_and_unknown_ones_are_signed() {
    let w = world("gbk").await;
    let mut n = notification(NotifyMethod::Send, 1005, 2);
    n.extra.push(("id_card".into(), "身份证".into()));
    let params = signed(&n, &notify_key());
    // Half the params in the query string (as FAQ 2.25 writes them), half in a GBK body.
    let pairs = params.pairs();
    let (first, second) = pairs.split_at(pairs.len() / 2);
    let query = protocol::Params::from_pairs(first.iter().cloned()).to_urlencoded(Charset::Utf8);
    let body = protocol::Params::from_pairs(second.iter().cloned()).to_urlencoded(Charset::Gbk);
    let url = format!("{}?{query}", w.merchant.notify_url());
    let (_, reply) = post_raw(&url, "application/x-www-form-urlencoded; charset=gbk", body).await;
    assert_eq!(reply, ACK);
    assert_eq!(w.gateway.wait_for(SEND, 1005, 1).await[0].verify_codes()[0].1, 2);
}

#[tokio::test]
async fn a_repeated_send_is_acknowledged_and_creates_no_codes_and_no_call() {
    let w = world("dup").await;
    let pairs = issue(&w, 1006, 2).await;
    let before = w.db.scalar("SELECT count(*) FROM codes WHERE order_id = ?1", 1006);
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Send, 1006, 2)).await, ACK);
    assert_eq!(w.db.scalar("SELECT count(*) FROM codes WHERE order_id = ?1", 1006), before);
    assert_eq!(w.db.outbox(1006), [("send".to_owned(), "done".to_owned())], "nothing new owed");
    assert_eq!(w.gateway.calls_to(SEND, 1006).len(), 1);
    assert_eq!(w.gateway.calls_to(SEND, 1006)[0].verify_codes(), pairs);
}

#[tokio::test]
async fn resend_and_modified_answer_200_and_resend_exactly_the_usable_codes() {
    let w = world("resend").await;
    let pairs = issue(&w, 1007, 3).await;
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Resend, 1007, 3)).await, ACK);
    let call = &w.gateway.wait_for(RESEND, 1007, 1).await[0];
    assert!(call.sign_ok);
    assert_eq!(call.verify_codes(), pairs);
    assert_eq!(call.get("token"), Some(token_of(1007).as_str()));

    let mut modified = notification(NotifyMethod::Modified, 1007, 3);
    modified.mobile = Some("13900000000".into());
    assert_eq!(deliver(&w.merchant.notify_url(), &modified).await, ACK);
    let calls = w.gateway.wait_for(RESEND, 1007, 2).await;
    assert_eq!(calls[1].verify_codes(), pairs);
    assert_eq!(w.db.text("SELECT mobile FROM orders WHERE order_id = ?1", 1007).as_deref(), Some("13900000000"));
}

#[tokio::test]
async fn cancel_voids_the_codes_and_a_late_resend_is_acknowledged_without_a_callback() {
    let w = world("cancel").await;
    issue(&w, 1008, 2).await;
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Cancel, 1008, 2)).await, ACK);
    assert_eq!(w.db.scalar("SELECT count(*) FROM codes WHERE order_id = ?1 AND voided = 0", 1008), 0);
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Resend, 1008, 2)).await, ACK);
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Send, 1008, 2)).await, ACK);
    // The handler commits before it answers: no row owed means no callback can ever be made.
    assert_eq!(w.db.outbox(1008), [("send".to_owned(), "done".to_owned())]);
    assert!(w.gateway.calls_to(RESEND, 1008).is_empty());
}

#[tokio::test]
async fn cancel_drops_a_send_callback_that_is_still_owed() {
    let w = world("cancel-pending").await;
    w.gateway.script(SEND, vec![Answer::Error(protocol::SubCode::OpFailed.error()); 50]);
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Send, 1009, 1)).await, ACK);
    w.gateway.wait_for(SEND, 1009, 1).await;
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Cancel, 1009, 1)).await, ACK);
    // A call in flight when the cancel committed may still finish; the row can never go back to pending.
    eventually(|| (w.db.outbox(1009) == [("send".to_owned(), "dropped".to_owned())]).then_some(())).await;
}

#[tokio::test]
async fn notifications_for_unknown_orders_are_acknowledged_and_do_nothing() {
    let w = world("unknown").await;
    for method in [NotifyMethod::Resend, NotifyMethod::Modified, NotifyMethod::Cancel, NotifyMethod::OrderModify] {
        assert_eq!(deliver(&w.merchant.notify_url(), &notification(method, 1010, 1)).await, ACK, "{method}");
    }
    assert_eq!(w.db.counts(), vec![4, 0, 0, 0, 0], "only the notifications are recorded");
}

#[tokio::test]
async fn order_modify_moves_the_validity_and_records_a_rights_claim() {
    let w = world("modify").await;
    issue(&w, 1011, 1).await;
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::OrderModify, 1011, 1)).await, ACK);
    assert_eq!(
        w.db.text("SELECT valid_ends FROM orders WHERE order_id = ?1", 1011).as_deref(),
        Some("2099-05-12 23:59:59")
    );
    let mut rights = notification(NotifyMethod::OrderModify, 1011, 1);
    rights.sub_method = Some("2".into());
    rights.data = Some("{}".into());
    assert_eq!(deliver(&w.merchant.notify_url(), &rights).await, ACK);
    assert_eq!(w.db.scalar("SELECT rights_claimed FROM orders WHERE order_id = ?1", 1011), 1);
    assert_eq!(w.gateway.calls().len(), 1, "order_modify causes no callback");
}

#[tokio::test]
async fn an_order_too_large_to_issue_is_reported_with_failsend() {
    let w = world("failsend").await;
    assert_eq!(deliver(&w.merchant.notify_url(), &notification(NotifyMethod::Send, 1012, 5000)).await, ACK);
    let call = &w.gateway.wait_for(FAILSEND, 1012, 1).await[0];
    assert!(call.sign_ok);
    assert_eq!(call.get("error_code"), Some("1"));
    assert!(call.get("error_msg").is_some_and(|m| m.contains("1000")));
    assert_eq!(w.db.scalar("SELECT count(*) FROM codes WHERE order_id = ?1", 1012), 0);
    assert!(w.gateway.calls_to(SEND, 1012).is_empty());
}
