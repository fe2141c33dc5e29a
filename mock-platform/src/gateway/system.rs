//! PROTOCOL §4.9 steps 2–12: the system checks every call passes before its API runs, in exactly that order.

use chrono::{DateTime, Utc};
use protocol::time::check_timestamp_param;
use protocol::{
    Params, ResponseFormat, SignError, SignMethod, TimestampError, TopError, notify_sign, top_sign, verify_top,
};
use std::sync::Arc;

use super::apis::{self, Api, ParamKind};
use crate::model::Merchant;

/// A call that passed steps 2–12.
#[derive(Debug)]
pub struct Checked {
    pub api: &'static Api,
    pub format: ResponseFormat,
    pub simplify: bool,
    pub app_key: Arc<str>,
}

/// A refused call: the error, the format to render it in, and (for 25) a diagnosis.
#[derive(Debug)]
pub struct Refusal {
    pub error: TopError,
    pub format: ResponseFormat,
    pub sign_diagnosis: Option<&'static str>,
}

fn refuse(error: TopError, format: ResponseFormat) -> Refusal {
    Refusal { error, format, sign_diagnosis: None }
}

/// Whether `value` is a Number param (§5: a decimal int64).
pub fn is_number(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && value.parse::<i64>().is_ok()
}

/// A sign verified before the store's lock was taken (MD5 or HMAC over every param is the costliest step,
/// and every call waits for the lock): the secret it was checked with, and the verdict.
pub type PreVerified = Option<(protocol::Secret, Result<SignMethod, SignError>)>;

/// Verifies the sign with the app secret of `app_key`, outside the store's lock; [`check`] uses the verdict if
/// the secret is still the app's.
pub fn pre_verify(app_secret: Option<protocol::Secret>, params: &Params) -> PreVerified {
    app_secret.map(|secret| {
        let verdict = verify_top(&secret, params);
        (secret, verdict)
    })
}

/// Step 6's verdict, computed before the lock like the sign's (it reads only the param and the wall clock).
pub fn pre_check_timestamp(params: &Params, wall_now: DateTime<Utc>) -> Result<(), TimestampError> {
    check_timestamp_param(params.get("timestamp"), wall_now).map(|_| ())
}

/// Steps 2–12 on the merchant named by `app_key` (`None`: no such app), its session and quota changed in place.
pub fn check(
    merchant: Option<(&std::sync::Arc<str>, &mut Merchant)>,
    params: &Params,
    pre: PreVerified,
    timestamp: Result<(), TimestampError>,
    now_ms: i64,
) -> Result<Checked, Refusal> {
    let xml = ResponseFormat::Xml;
    // 2. method present (21) and known (22).
    let method = params.non_empty("method").ok_or_else(|| refuse(TopError::MISSING_METHOD, xml))?;
    let api = apis::find(method).ok_or_else(|| refuse(TopError::INVALID_METHOD, xml))?;
    // 3. format; an empty value is taken as absent (SDKs send `format=` when unset).
    let format = ResponseFormat::parse(params.non_empty("format")).map_err(|e| refuse(e, xml))?;
    let simplify = format == ResponseFormat::Json && params.get("simplify") == Some("true");
    // 4. app_key present (28) and known (29).
    params.non_empty("app_key").ok_or_else(|| refuse(TopError::MISSING_APP_KEY, format))?;
    let (key, merchant) = merchant.ok_or_else(|| refuse(TopError::INVALID_APP_KEY, format))?;
    let key = key.clone();
    // 5. sign present (24) and valid (25).
    let verdict = match pre {
        Some((secret, verdict)) if secret == merchant.app_secret => verdict,
        _ => verify_top(&merchant.app_secret, params),
    };
    match verdict {
        Ok(_) => {}
        Err(SignError::Missing) => return Err(refuse(TopError::MISSING_SIGNATURE, format)),
        Err(_) => {
            let diagnosis = signed_with_notify_key(params, &merchant.notify_key).then_some("notify_key");
            return Err(Refusal { error: TopError::INVALID_SIGNATURE, format, sign_diagnosis: diagnosis });
        }
    }
    // 6. timestamp present (30), parseable and within 10 min of the wall clock (31).
    match timestamp {
        Ok(_) => {}
        Err(TimestampError::Missing) => return Err(refuse(TopError::MISSING_TIMESTAMP, format)),
        Err(_) => return Err(refuse(TopError::INVALID_TIMESTAMP, format)),
    }
    // 7. v present (32) and 2.0 (33).
    match params.non_empty("v") {
        None => return Err(refuse(TopError::MISSING_VERSION, format)),
        Some("2.0") => {}
        Some(_) => return Err(refuse(TopError::INVALID_VERSION, format)),
    }
    // 8. session present (26), this app's (27), unexpired (27 session-expired).
    let session = params.non_empty("session").ok_or_else(|| refuse(TopError::MISSING_SESSION, format))?;
    // Sessions are unique per app (the store refuses a session issued to another), so "this app's" is "equal to
    // the app's session".
    if !protocol::signs_equal(merchant.session.expose(), session) {
        return Err(refuse(TopError::INVALID_SESSION, format));
    }
    if merchant.session_expires_at <= now_ms {
        return Err(refuse(TopError::SESSION_EXPIRED, format));
    }
    // 9. permission to the e-voucher API package (trade.fullinfo.get is always granted).
    if api.needs_permission && !merchant.eticket_permission {
        return Err(refuse(TopError::INSUFFICIENT_ISV_PERMISSIONS, format));
    }
    // 10. flow control: every request reaching this step counts.
    merchant.count_call(now_ms).map_err(|seconds| refuse(TopError::app_call_limited(seconds), format))?;
    // 11. required API params, in §5 order; empty counts as missing.
    let present = |p: &&apis::ParamSpec| match p.kind {
        ParamKind::File => params.file(p.name).is_some(),
        _ => params.non_empty(p.name).is_some(),
    };
    if let Some(missing) = api.params.iter().find(|p| p.required && !present(p)) {
        return Err(refuse(TopError::missing_argument(missing.name), format));
    }
    // 12. rules needing no order data: Number params, then the API's own.
    if let Some(bad) = api
        .params
        .iter()
        .filter(|p| p.kind == ParamKind::Number)
        .find(|p| params.non_empty(p.name).is_some_and(|v| !is_number(v)))
    {
        return Err(refuse(TopError::invalid_argument(bad.name), format));
    }
    (api.check)(params).map_err(|e| refuse(e, format))?;
    Ok(Checked { api, format, simplify, app_key: key })
}

/// C9 diagnosis: a sign made with the notify key (either scheme) instead of the app secret.
fn signed_with_notify_key(params: &Params, notify_key: &protocol::Secret) -> bool {
    let Some(received) = params.non_empty("sign") else { return false };
    let method = SignMethod::of_params(params).unwrap_or_default();
    protocol::signs_equal(&top_sign(notify_key, method, params), received)
        || protocol::signs_equal(&notify_sign(notify_key, params), received)
}
