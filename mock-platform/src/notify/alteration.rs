//! Alterations of a notification's first attempt (PROTOCOL §2.4, §6 C1 variant and C2 kinds), and the
//! building of an attempt's params, sign and body.

use chrono::{DateTime, Duration, Utc};
use md5::{Digest, Md5};
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Notification, Params, Secret, notify_canonical, notify_sign};
use serde::{Deserialize, Serialize};

/// How the first attempt of a notification is altered. Every kind that the spec says is "validly
/// signed" is signed after the alteration; the sign-breaking kinds leave a sign that does not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Alteration {
    /// C2: a value (`item_title`, else `seller_nick`) changed after signing.
    Tamper,
    /// C2: no `sign` param.
    DropSign,
    /// C2: signed with a key that is not the notify key.
    WrongKey,
    /// C2: signed over UTF-8 bytes instead of GBK (differs only on non-ASCII values).
    Utf8Sign,
    /// C2: `timestamp` 11 min in the past, validly signed.
    StaleTimestamp,
    /// C2: `timestamp` 11 min in the future, validly signed.
    FutureTimestamp,
    /// C2: no `timestamp`, validly signed.
    MissingTimestamp,
    /// C2: `timestamp` as `yyyy/MM/dd HH:mm:ss`, validly signed.
    MalformedTimestamp,
    /// N1 legacy option: GBK body with `charset=gbk`, validly signed.
    GbkBody,
    /// C1 variant: extra params (default `sub_method=1`, `id_card`), validly signed.
    ExtraParams {
        #[serde(default)]
        params: Vec<(String, String)>,
    },
}

impl Alteration {
    /// The fault name (`POST /admin/faults` `fault`, and `alteration` in exchanges).
    pub fn name(&self) -> &'static str {
        match self {
            Alteration::Tamper => "tamper",
            Alteration::DropSign => "drop_sign",
            Alteration::WrongKey => "wrong_key",
            Alteration::Utf8Sign => "utf8_sign",
            Alteration::StaleTimestamp => "stale_timestamp",
            Alteration::FutureTimestamp => "future_timestamp",
            Alteration::MissingTimestamp => "missing_timestamp",
            Alteration::MalformedTimestamp => "malformed_timestamp",
            Alteration::GbkBody => "gbk_body",
            Alteration::ExtraParams { .. } => "extra_params",
        }
    }

    /// Parses a fault name; `extra` are the params of `extra_params`.
    pub fn from_name(name: &str, extra: Vec<(String, String)>) -> Option<Self> {
        Some(match name {
            "tamper" => Alteration::Tamper,
            "drop_sign" => Alteration::DropSign,
            "wrong_key" => Alteration::WrongKey,
            "utf8_sign" => Alteration::Utf8Sign,
            "stale_timestamp" => Alteration::StaleTimestamp,
            "future_timestamp" => Alteration::FutureTimestamp,
            "missing_timestamp" => Alteration::MissingTimestamp,
            "malformed_timestamp" => Alteration::MalformedTimestamp,
            "gbk_body" => Alteration::GbkBody,
            "extra_params" => Alteration::ExtraParams { params: extra },
            _ => return None,
        })
    }

    pub const NAMES: [&'static str; 10] = [
        "tamper",
        "drop_sign",
        "wrong_key",
        "utf8_sign",
        "stale_timestamp",
        "future_timestamp",
        "missing_timestamp",
        "malformed_timestamp",
        "gbk_body",
        "extra_params",
    ];
}

/// One attempt's wire form.
#[derive(Debug, Clone)]
pub struct WireNotification {
    pub params: Params,
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

/// Builds the params (fresh `timestamp` from the wall clock), signs them with the notify key and
/// serialises the body, applying `alteration` if any.
pub fn build(
    notification: &Notification,
    key: &Secret,
    charset: Charset,
    wall_now: DateTime<Utc>,
    alteration: Option<&Alteration>,
) -> WireNotification {
    let now = Gmt8Timestamp::from_utc(wall_now);
    let mut params = notification.to_params(now);
    let mut charset = charset;
    match alteration {
        Some(Alteration::StaleTimestamp) => {
            params.set("timestamp", Gmt8Timestamp::from_utc(wall_now - Duration::minutes(11)).format())
        }
        Some(Alteration::FutureTimestamp) => {
            params.set("timestamp", Gmt8Timestamp::from_utc(wall_now + Duration::minutes(11)).format())
        }
        Some(Alteration::MissingTimestamp) => {
            params.remove("timestamp");
        }
        Some(Alteration::MalformedTimestamp) => params.set("timestamp", now.format_with("%Y/%m/%d %H:%M:%S")),
        Some(Alteration::ExtraParams { params: extra }) => {
            let defaults = [("sub_method", "1"), ("id_card", "mock-extra-param")];
            if extra.is_empty() {
                for (n, v) in defaults {
                    params.insert(n.into(), v.into());
                }
            }
            for (n, v) in extra.iter().filter(|(n, v)| !v.is_empty() && n != "sign") {
                params.insert(n.clone(), v.clone());
            }
        }
        Some(Alteration::GbkBody) => charset = Charset::Gbk,
        _ => {}
    }
    let sign = match alteration {
        Some(Alteration::WrongKey) => notify_sign(&Secret::new(wrong_key(key)), &params).into(),
        Some(Alteration::Utf8Sign) => {
            let text = format!("{}{}", key.expose(), notify_canonical(&params));
            hex::encode_upper(Md5::digest(text.as_bytes()))
        }
        _ => notify_sign(key, &params).into(),
    };
    if alteration != Some(&Alteration::DropSign) {
        params.set("sign", sign);
    }
    if alteration == Some(&Alteration::Tamper) {
        let target = if params.get("item_title").is_some() { "item_title" } else { "seller_nick" };
        let tampered = format!("{}X", params.get(target).unwrap_or_default());
        params.set(target, tampered);
    }
    let body = match charset {
        Charset::Utf8 => params.to_urlencoded(Charset::Utf8).into_bytes(),
        // `to_urlencoded` percent-encodes GBK bytes, so the body itself is ASCII.
        Charset::Gbk => params.to_urlencoded(Charset::Gbk).into_bytes(),
    };
    let content_type = match charset {
        Charset::Utf8 => "application/x-www-form-urlencoded; charset=utf-8",
        Charset::Gbk => "application/x-www-form-urlencoded; charset=gbk",
    };
    WireNotification { params, body, content_type }
}

/// A key that is certainly not the notify key (the notify key reversed, plus a suffix).
fn wrong_key(key: &Secret) -> String {
    let mut k: String = key.expose().chars().rev().collect();
    k.push_str("-wrong");
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{NotifyMethod, OrderId, verify_notify};

    fn sample() -> Notification {
        let mut n = Notification::new(NotifyMethod::Send, OrderId::new(9).unwrap(), "1", "卖家");
        n.item_title = Some("银子岩门票".into());
        n
    }

    fn check(alteration: Option<Alteration>, verifies: bool) {
        let key = Secret::new("k");
        let wire = build(&sample(), &key, Charset::Utf8, Utc::now(), alteration.as_ref());
        assert_eq!(verify_notify(&key, &wire.params).is_ok(), verifies, "{alteration:?}");
        let mut back = Params::new();
        back.extend_urlencoded(&wire.body, Charset::from_content_type(Some(wire.content_type))).unwrap();
        assert_eq!(back, wire.params);
    }

    #[test]
    fn sign_breaking_kinds_do_not_verify_and_the_others_do() {
        check(None, true);
        for kind in [Alteration::Tamper, Alteration::DropSign, Alteration::WrongKey, Alteration::Utf8Sign] {
            check(Some(kind), false);
        }
        for kind in [
            Alteration::StaleTimestamp,
            Alteration::FutureTimestamp,
            Alteration::MissingTimestamp,
            Alteration::MalformedTimestamp,
            Alteration::GbkBody,
            Alteration::ExtraParams { params: vec![] },
        ] {
            check(Some(kind), true);
        }
    }

    #[test]
    fn every_name_round_trips() {
        for name in Alteration::NAMES {
            assert_eq!(Alteration::from_name(name, vec![]).unwrap().name(), name);
        }
    }
}
