//! What an alteration of a notification's first attempt is (PROTOCOL §2.4, §6 C1 variant and C2 kinds): plain
//! data kept on the order; `notify::alteration` builds the altered wire form.

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
