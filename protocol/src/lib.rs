//! The Taobao e-voucher protocol (淘宝电子交易凭证平台) as plain data and pure functions.
//!
//! Everything the mock platform, the conformance suite and the reference merchant must agree on lives
//! here: the two signing schemes (notifications, PROTOCOL §3.3; TOP calls, §4.4), the parameter merge
//! rules (§4.3), the wire types, the acknowledgement bytes (§3.4) and the TOP envelopes and error table
//! (§4.6–§4.8).
//!
//! Invariant: this crate performs no I/O, reads no clock and spawns nothing. "Now" is always a
//! parameter, so every rule here can be tested with fixed times and property tests.

pub mod ack;
pub mod envelope;
pub mod error_code;
#[doc(hidden)]
pub mod fuzzing;
pub mod gbk;
pub mod notification;
pub mod notify_sign;
pub mod params;
pub mod secret;
pub mod time;
pub mod top_request;
pub mod top_sign;
pub mod types;

pub use ack::{AckReply, NearMiss};
pub use envelope::{Fields, ResponseFormat, SuccessBody, TopReply, Value};
pub use error_code::{SubCode, TopError};
pub use notification::{Notification, NotificationError};
pub use notify_sign::{NotifySign, notify_canonical, notify_sign, verify_notify};
pub use params::{FilePart, Params, ParamsError};
pub use secret::Secret;
pub use time::{Gmt8Timestamp, TimestampError};
pub use top_request::TopRequest;
pub use top_sign::{SignMethod, top_sign, verify_top};
pub use types::{Code, NotifyMethod, OrderId, Token, TypeError, VerifyCodes};

/// Why a received signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the request carries no sign")]
    Missing,
    #[error("the sign does not match")]
    Mismatch,
    #[error("unknown sign_method {0:?}")]
    UnknownMethod(String),
}

/// Constant-time, ASCII-case-insensitive comparison of two hex signs.
///
/// Why constant time: a timing oracle on the comparison would let an attacker forge a sign byte by byte.
/// Case-insensitive because the platform emits upper case but some receivers compare ignoring case
/// (PROTOCOL §3.3 step 7, §4.2).
pub fn signs_equal(expected: &str, received: &str) -> bool {
    use subtle::{Choice, ConstantTimeEq};
    if expected.len() != received.len() {
        return false;
    }
    let same = expected
        .bytes()
        .zip(received.bytes())
        .fold(Choice::from(1), |same, (a, b)| same & a.to_ascii_uppercase().ct_eq(&b.to_ascii_uppercase()));
    same.into()
}
