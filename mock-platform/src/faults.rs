//! Gateway fault injection (`POST /admin/faults` with `target: gateway`, or `gateway_faults` of
//! `POST /admin/orders`): the next N calls of an API, optionally for one app or order, get a given answer or a
//! delay (PROTOCOL §2.4 `inject`, §6 C8), or have their answer lost after they were applied (§6.1 C13).

use protocol::TopError;
use serde::Serialize;

/// What an injected gateway fault does to a matching call.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer this error instead of processing the call.
    Answer(TopError),
    /// Process the call after this many milliseconds.
    DelayMs(u64),
    /// Process the call, then lose its answer (INTERFACES §1.1 `lost_answer`).
    LostAnswer(LostAnswer),
}

/// How a `lost_answer` fault loses the answer of a call it let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostAnswer {
    /// The connection is closed without an HTTP response.
    Close,
    /// The answer is replaced by 15 `isp.top-remote-connection-timeout`.
    Transient,
}

impl LostAnswer {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "close" => Some(Self::Close),
            "transient" => Some(Self::Transient),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Close => "close",
            Self::Transient => "transient",
        }
    }
}

/// One registered gateway fault.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GatewayFault {
    pub id: u64,
    pub method: String,
    pub app_key: Option<String>,
    pub order_id: Option<i64>,
    pub times_left: u32,
    pub action: FaultAction,
}

/// A checked gateway fault before it is armed: everything but its id and its order.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub method: String,
    pub app_key: Option<String>,
    pub times: u32,
    pub action: FaultAction,
}

/// Registers `spec` (for `order_id` when given) under the next fault id, and answers that id.
pub fn arm(faults: &mut Vec<GatewayFault>, next_id: &mut u64, spec: FaultSpec, order_id: Option<i64>) -> u64 {
    let id = *next_id;
    *next_id += 1;
    faults.push(GatewayFault {
        id,
        method: spec.method,
        app_key: spec.app_key,
        order_id,
        times_left: spec.times,
        action: spec.action,
    });
    id
}

impl GatewayFault {
    fn matches(&self, method: &str, app_key: &str, order_id: Option<i64>) -> bool {
        self.times_left > 0
            && self.method == method
            && self.app_key.as_deref().is_none_or(|k| k == app_key)
            && self.order_id.is_none_or(|id| Some(id) == order_id)
    }
}

/// Takes one use of the first fault matching a call that reached §5.0 (B0), removing used-up faults.
pub fn take(faults: &mut Vec<GatewayFault>, method: &str, app_key: &str, order_id: Option<i64>) -> Option<FaultAction> {
    let index = faults.iter().position(|f| f.matches(method, app_key, order_id))?;
    let fault = &mut faults[index];
    fault.times_left -= 1;
    let action = fault.action.clone();
    if fault.times_left == 0 {
        faults.remove(index);
    }
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_applies_the_given_number_of_times_to_matching_calls_only() {
        let mut faults = vec![GatewayFault {
            id: 1,
            method: "m".into(),
            app_key: None,
            order_id: Some(5),
            times_left: 2,
            action: FaultAction::DelayMs(1),
        }];
        assert_eq!(take(&mut faults, "m", "k", Some(6)), None);
        assert_eq!(take(&mut faults, "other", "k", Some(5)), None);
        assert!(take(&mut faults, "m", "k", Some(5)).is_some());
        assert!(take(&mut faults, "m", "k", Some(5)).is_some());
        assert_eq!(take(&mut faults, "m", "k", Some(5)), None);
        assert!(faults.is_empty());
    }
}
