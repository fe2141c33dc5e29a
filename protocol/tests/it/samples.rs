//! The sample notifications in `fixtures/notifications/` stay valid: each parses and verifies with the documented key.

use bytes::Bytes;
use protocol::{Notification, Params, Secret, verify_notify};

const SAMPLE_KEY: &str = "0123456789abcdef0123456789abcdef";

fn sample(name: &str, content_type: &str) -> Params {
    let path = format!("{}/../fixtures/notifications/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let body = text.strip_suffix(b"\n").expect("each sample ends with one newline").to_vec();
    Params::from_request(None, Some(content_type), Bytes::from(body)).unwrap()
}

#[test]
fn every_sample_notification_verifies_with_the_documented_key() {
    let key = Secret::new(SAMPLE_KEY);
    for (name, method) in [
        ("send.form", "send"),
        ("resend.form", "resend"),
        ("modified.form", "modified"),
        ("cancel.form", "cancel"),
        ("order_modify.form", "order_modify"),
    ] {
        let params = sample(name, "application/x-www-form-urlencoded; charset=utf-8");
        assert_eq!(verify_notify(&key, &params), Ok(()), "{name}");
        let notification = Notification::from_params(&params).unwrap();
        assert_eq!(notification.method.as_str(), method, "{name}");
    }
}

#[test]
fn the_gbk_sample_carries_the_same_params_as_the_utf8_one() {
    let utf8 = sample("send.form", "application/x-www-form-urlencoded; charset=utf-8");
    let gbk = sample("send.gbk.form", "application/x-www-form-urlencoded; charset=gbk");
    assert_eq!(gbk, utf8);
    assert_eq!(gbk.get("item_title"), Some("银子岩门票"));
    assert_eq!(verify_notify(&Secret::new(SAMPLE_KEY), &gbk), Ok(()));
}
