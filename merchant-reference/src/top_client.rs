//! Calling the TOP gateway: sign with the app secret, POST a form, read the JSON answer (PROTOCOL §4).
//!
//! Every call gets a fresh `timestamp` (the gateway refuses one more than 10 minutes off, so a retried
//! call must never reuse the first attempt's params), `v=2.0`, `format=json`, our `app_key` and
//! `session`, and `codemerchant_id` when we are a 码商. Empty values are never sent: SDKs disagree on
//! whether they enter the sign (PROTOCOL §4.4), and a param that is not there cannot be signed wrong.
//!
//! [`CallError::is_transient`] is the one place that decides what is worth retrying (C8).

use std::time::Duration;

use chrono::Utc;
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopError, TopReply, TopRequest};
use serde_json::{Map, Value};

use crate::Config;

/// Longest we wait for one gateway answer. Shorter than the platform's patience with a held callback
/// would be pointless; longer would hold an outbox slot for nothing.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a TOP call did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No HTTP answer: refused, reset, timed out. The call may or may not have reached the platform.
    #[error("gateway unreachable: {0}")]
    Transport(String),
    #[error("gateway answered HTTP {0}")]
    Status(u16),
    #[error("unreadable gateway answer: {0}")]
    Unreadable(String),
    /// An `error_response`.
    #[error("gateway error: {0}")]
    Top(TopError),
}

impl CallError {
    /// Whether trying the same call again later can succeed: no answer at all, a 5xx, or a transient
    /// TOP error (`isp.*`, `isv.eticket-service-unavailable:*`, 7 flow control; PROTOCOL §6 C8).
    /// Retrying after "no answer" is safe because the platform's answer to a repeat is recognisable:
    /// `code-alreay-send` for `send`, a duplicate serial for `consume`.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Status(status) => *status >= 500,
            CallError::Unreadable(_) => false,
            CallError::Top(e) => e.is_transient(),
        }
    }

    /// Whether the platform may have acted on the call although we got no answer we can read: no
    /// answer, a 5xx from something in front of it, or a body we could not parse. An `error_response`
    /// is an answer: the call was refused and changed nothing.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(self, CallError::Top(_))
    }

    pub fn top_error(&self) -> Option<&TopError> {
        match self {
            CallError::Top(e) => Some(e),
            _ => None,
        }
    }
}

/// A TOP client bound to one app, session and gateway.
#[derive(Debug, Clone)]
pub struct TopClient {
    http: reqwest::Client,
    gateway: String,
    app_key: String,
    app_secret: Secret,
    session: Secret,
    sign_method: SignMethod,
    codemerchant_id: Option<i64>,
}

impl TopClient {
    pub fn new(config: &Config) -> Self {
        // One client for the process: it pools connections to the gateway.
        let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build().unwrap_or_default();
        Self {
            http,
            gateway: config.gateway.clone(),
            app_key: config.app_key.clone(),
            app_secret: config.app_secret.clone(),
            session: config.session.clone(),
            sign_method: config.sign_method,
            codemerchant_id: config.codemerchant_id,
        }
    }

    /// Calls `api` with `params` (system params added here) and returns the object inside
    /// `<api>_response`.
    pub async fn call(&self, api: &str, params: &[(&str, String)]) -> Result<Map<String, Value>, CallError> {
        let now = Gmt8Timestamp::from_utc(Utc::now());
        let mut request = TopRequest::new(api, &self.app_key, self.session.expose(), now, self.sign_method);
        if let Some(id) = self.codemerchant_id {
            request = request.param("codemerchant_id", id.to_string());
        }
        for (name, value) in params {
            request = request.param(name, value.clone());
        }
        let body = request.signed(&self.app_secret).to_urlencoded(Charset::Utf8);
        let response = self
            .http
            .post(&self.gateway)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded;charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| CallError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(CallError::Status(status));
        }
        let bytes = response.bytes().await.map_err(|e| CallError::Transport(e.to_string()))?;
        match TopReply::parse_json(api, &bytes).map_err(|e| CallError::Unreadable(e.to_string()))? {
            TopReply::Success(fields) => Ok(fields),
            TopReply::Error(e) => Err(CallError::Top(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::SubCode;

    use super::*;

    #[test]
    fn only_transient_failures_are_worth_retrying() {
        assert!(CallError::Transport("refused".into()).is_transient());
        assert!(CallError::Status(502).is_transient());
        assert!(!CallError::Status(404).is_transient());
        assert!(CallError::Top(SubCode::OpFailed.error()).is_transient());
        assert!(CallError::Top(TopError::app_call_limited(2)).is_transient());
        assert!(!CallError::Top(SubCode::InvalidToken.error()).is_transient());
        assert!(!CallError::Top(SubCode::CodeAlreadySent.error()).is_transient());
    }

    #[test]
    fn only_calls_without_a_readable_answer_have_an_unknown_outcome() {
        assert!(CallError::Transport("timed out".into()).outcome_unknown());
        assert!(CallError::Status(502).outcome_unknown());
        assert!(CallError::Unreadable("truncated".into()).outcome_unknown());
        assert!(!CallError::Top(SubCode::OpFailed.error()).outcome_unknown());
    }
}
