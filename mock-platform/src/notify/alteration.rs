//! The building of an attempt's params, sign and body, with its alteration applied (PROTOCOL §2.4, §6 C1
//! variant and C2 kinds; the alteration itself is data in `model::alteration`).

use chrono::{DateTime, Duration, Utc};
use md5::{Digest, Md5};
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Notification, Params, Secret, notify_canonical, notify_sign};

pub use crate::model::alteration::Alteration;

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
