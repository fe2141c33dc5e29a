//! Building a signed TOP call, the way a merchant (or an SDK) does it (PROTOCOL §4.2, §4.4).

use crate::top_sign::top_sign;
use crate::{Gmt8Timestamp, Params, Secret, SignMethod};

/// A TOP call under construction: system params plus API params, signed last.
#[derive(Debug, Clone)]
pub struct TopRequest {
    params: Params,
    sign_method: SignMethod,
}

impl TopRequest {
    /// A call of `method` with the system params `app_key`, `session`, `timestamp`, `v=2.0`,
    /// `format=json` and `sign_method`.
    pub fn new(method: &str, app_key: &str, session: &str, timestamp: Gmt8Timestamp, sign_method: SignMethod) -> Self {
        let mut params = Params::new();
        params.set("method", method);
        params.set("app_key", app_key);
        params.set("session", session);
        params.set("timestamp", timestamp.format());
        params.set("v", "2.0");
        params.set("format", "json");
        params.set("sign_method", sign_method.as_str());
        Self { params, sign_method }
    }

    /// Adds or replaces a param. Empty values are left out, as the Java SDK does.
    pub fn param(mut self, name: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        if value.is_empty() {
            self.params.remove(name);
        } else {
            self.params.set(name, value);
        }
        self
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The final params with `sign` appended.
    pub fn signed(mut self, secret: &Secret) -> Params {
        self.params.remove("sign");
        let sign = top_sign(secret, self.sign_method, &self.params);
        self.params.set("sign", sign);
        self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_request_verifies() {
        let ts = Gmt8Timestamp::parse_datetime("2016-01-01 12:00:00").unwrap();
        let secret = Secret::new("s");
        for method in SignMethod::ALL {
            let params = TopRequest::new("taobao.vmarket.eticket.send", "k", "sess", ts, method)
                .param("order_id", "1")
                .param("x", "")
                .signed(&secret);
            assert_eq!(crate::verify_top(&secret, &params), Ok(method));
            assert_eq!(params.get("x"), None);
        }
    }
}
