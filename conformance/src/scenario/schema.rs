//! The scenario file format (`fixtures/scenarios/*.toml`): a title, optional merchant settings, and steps
//! that map one to one onto admin calls, suite actions and expectations. Documented in the README.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub title: String,
    /// The FAQ section the scenario plays, e.g. `2.23` (reported as the rule).
    #[serde(default)]
    pub faq: Option<String>,
    /// Merchant settings other than the defaults (phase live, no test mobiles).
    #[serde(default)]
    pub merchant: Option<MerchantSettings>,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// `[merchant]`: orders of the scenario are bought for a registration with these settings (see README).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSettings {
    /// `test` or `live`.
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub test_mobiles: Vec<String>,
}

/// What an admin action is expected to be refused with instead of succeeding.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// The HTTP status, e.g. 422 (FAQ 2.28) or 409 (the state forbids it).
    pub status: u16,
    /// A substring of the error message.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A gateway answer injected instead of the real one (`POST /admin/faults`, target gateway).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFaultSpec {
    /// `send` or `taobao.vmarket.eticket.send`.
    pub api: String,
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub sub_code: Option<String>,
    /// Instead of an answer: the call is applied, then its answer lost (`close` or `transient`, C13).
    #[serde(default)]
    pub lost_answer: Option<String>,
}

/// One step. `do` names it; the other keys are its options.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `POST /admin/orders`; the order becomes the scenario's current order.
    Buy {
        #[serde(default)]
        num: Option<u32>,
        #[serde(default)]
        consume_type: Option<u8>,
        #[serde(default)]
        item_title: Option<String>,
        #[serde(default)]
        mobile: Option<String>,
        #[serde(default)]
        valid_start: Option<String>,
        #[serde(default)]
        valid_ends: Option<String>,
        #[serde(default)]
        eticket_enabled: Option<bool>,
        /// An alteration of the `send` notification's first attempt (`tamper`, `wrong_key`, …).
        #[serde(default)]
        alteration: Option<String>,
        /// Armed before the order exists, so the merchant's first callback meets it.
        #[serde(default)]
        gateway_fault: Option<GatewayFaultSpec>,
        #[serde(default)]
        refused: Option<Refusal>,
    },
    /// A notification fault on the current order: an alteration of the next notification's first attempt,
    /// or `duplicate` (the last acknowledged notification delivered again).
    Fault { kind: String },
    /// A gateway fault for the current order.
    GatewayFault(GatewayFaultSpec),
    /// Removes every pending gateway fault of the current order.
    ClearFaults,
    Resend {
        #[serde(default)]
        alteration: Option<String>,
        #[serde(default)]
        refused: Option<Refusal>,
    },
    ModifyMobile {
        mobile: String,
        #[serde(default)]
        alteration: Option<String>,
        #[serde(default)]
        refused: Option<Refusal>,
    },
    Refund {
        #[serde(default)]
        alteration: Option<String>,
        #[serde(default)]
        refused: Option<Refusal>,
    },
    Extend {
        valid_ends: String,
        #[serde(default)]
        valid_start: Option<String>,
        #[serde(default)]
        alteration: Option<String>,
        #[serde(default)]
        refused: Option<Refusal>,
    },
    RightsProtection {
        #[serde(default)]
        alteration: Option<String>,
        #[serde(default)]
        refused: Option<Refusal>,
    },
    /// `POST /admin/clock` with the merchant's `app_key`: its clock moves forward (auto-close, validity, retries).
    AdvanceClock { seconds: i64 },
    /// Waits, in real time.
    Wait { seconds: f64 },
    /// The suite signs a notification with the notify key and posts it to the merchant itself (FAQ 2.31):
    /// the params of the current order's `send`, `method` replaced, `params` added or replaced.
    Post {
        method: String,
        #[serde(default)]
        params: BTreeMap<String, String>,
        /// `ack_200`, `ack_300` or `not_ack`.
        #[serde(default)]
        expect: Option<String>,
    },
    /// The suite makes a TOP call in the merchant's name (its app_key, session and app secret); `order_id`
    /// and `token` of the current order are filled in unless given.
    Call {
        api: String,
        #[serde(default)]
        params: BTreeMap<String, String>,
        /// The expected error code (absent: success expected unless `sub_code` is given).
        #[serde(default)]
        code: Option<i64>,
        #[serde(default)]
        sub_code: Option<String>,
    },
    /// The suite asks the merchant's POS hook (INTERFACES §4) to redeem `num` units of the current order's
    /// code number `code` (0-based, in the platform's order); the hook must answer `expect`.
    Redeem {
        #[serde(default)]
        code: usize,
        num: u32,
        /// `redeemed` (2xx), `refused` or `unknown` (`outcome_unknown`).
        expect: String,
    },
    /// The suite asks the POS hook to reverse a redemption: `serial`, or the last one redeemed.
    ReverseAtPos {
        #[serde(default)]
        serial: Option<String>,
        /// `reversed` (default) or `refused`.
        #[serde(default)]
        expect: Option<String>,
    },
    /// A notification attempt of `method` since the last action, read exactly as `verdict`.
    ExpectAck {
        method: String,
        verdict: String,
        #[serde(default)]
        within: Option<f64>,
        /// Which attempt (1 = first).
        #[serde(default)]
        attempt: Option<u32>,
    },
    /// No notification attempt of the current order since the last action, for `within` seconds.
    ExpectNoNotification {
        #[serde(default)]
        within: Option<f64>,
    },
    /// A gateway call of `api` since the last action: successful (or answered `sub_code`), with the token,
    /// and optionally `codes` codes summing to `sum`, or the same codes as the last issued set.
    ExpectCallback {
        api: String,
        #[serde(default)]
        within: Option<f64>,
        #[serde(default)]
        sub_code: Option<String>,
        #[serde(default)]
        codes: Option<usize>,
        #[serde(default)]
        sum: Option<u64>,
        #[serde(default)]
        same_codes: bool,
        #[serde(default)]
        different_codes: bool,
    },
    /// No gateway call (of `api`, or any) since the last action, for `within` seconds.
    ExpectNoCallback {
        #[serde(default)]
        api: Option<String>,
        #[serde(default)]
        within: Option<f64>,
    },
    /// The current order's state and fields, polled until they match or `within` passes.
    ExpectState {
        state: String,
        #[serde(default)]
        within: Option<f64>,
        #[serde(default)]
        left_num: Option<u32>,
        #[serde(default)]
        cancel_num: Option<u32>,
        #[serde(default)]
        mobile: Option<String>,
        /// Every code issued has this status (`usable`, `used_up`, `voided`).
        #[serde(default)]
        codes_status: Option<String>,
    },
}

impl Step {
    /// The `do` name, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Buy { .. } => "buy",
            Step::Fault { .. } => "fault",
            Step::GatewayFault(_) => "gateway_fault",
            Step::ClearFaults => "clear_faults",
            Step::Resend { .. } => "resend",
            Step::ModifyMobile { .. } => "modify_mobile",
            Step::Refund { .. } => "refund",
            Step::Extend { .. } => "extend",
            Step::RightsProtection { .. } => "rights_protection",
            Step::AdvanceClock { .. } => "advance_clock",
            Step::Wait { .. } => "wait",
            Step::Post { .. } => "post",
            Step::Call { .. } => "call",
            Step::ExpectAck { .. } => "expect_ack",
            Step::ExpectNoNotification { .. } => "expect_no_notification",
            Step::ExpectCallback { .. } => "expect_callback",
            Step::ExpectNoCallback { .. } => "expect_no_callback",
            Step::ExpectState { .. } => "expect_state",
            Step::Redeem { .. } => "redeem",
            Step::ReverseAtPos { .. } => "reverse_at_pos",
        }
    }

    /// Whether the step advances the merchant's clock (scenarios of one merchant then run one at a time).
    pub fn advances_clock(&self) -> bool {
        matches!(self, Step::AdvanceClock { .. })
    }
}

/// Why a scenario file was refused before anything ran.
#[derive(Debug, thiserror::Error)]
#[error("scenario {path}: {reason}")]
pub struct ScenarioError {
    pub path: String,
    pub reason: String,
}

/// A scenario file read and checked, with its id (`scenario.<file stem>`).
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    pub id: String,
    pub scenario: Scenario,
}

/// Reads and validates one scenario file.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let error = |reason: String| ScenarioError { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let scenario = parse(&text).map_err(error)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).ok_or_else(|| error("no file name".into()))?;
    Ok(LoadedScenario { id: format!("scenario.{stem}"), scenario })
}

/// Parses and validates scenario TOML.
pub fn parse(text: &str) -> Result<Scenario, String> {
    let scenario: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
    if scenario.steps.is_empty() {
        return Err("no [[step]]".into());
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let bad = |why: String| Err(format!("step {} ({}): {why}", i + 1, step.name()));
        match step {
            Step::ExpectAck { verdict, .. } | Step::Post { expect: Some(verdict), .. }
                if !["ack_200", "ack_300", "not_ack"].contains(&verdict.as_str()) =>
            {
                return bad(format!("{verdict:?} is not ack_200, ack_300 or not_ack"));
            }
            Step::ExpectCallback { same_codes: true, different_codes: true, .. } => {
                return bad("same_codes and different_codes exclude each other".into());
            }
            Step::Redeem { expect, .. } if !["redeemed", "refused", "unknown"].contains(&expect.as_str()) => {
                return bad(format!("expect {expect:?} is not redeemed, refused or unknown"));
            }
            Step::ReverseAtPos { expect: Some(expect), .. } if !["reversed", "refused"].contains(&expect.as_str()) => {
                return bad(format!("expect {expect:?} is not reversed or refused"));
            }
            Step::GatewayFault(GatewayFaultSpec { lost_answer: Some(form), .. })
                if !["close", "transient"].contains(&form.as_str()) =>
            {
                return bad(format!("lost_answer {form:?} is not close or transient"));
            }
            Step::Wait { seconds } if !(0.0..=600.0).contains(seconds) => {
                return bad("seconds must be between 0 and 600".into());
            }
            _ => {}
        }
    }
    if let Some(phase) = scenario.merchant.as_ref().and_then(|m| m.phase.as_deref())
        && phase != "test"
        && phase != "live"
    {
        return Err(format!("[merchant] phase {phase:?} is not test or live"));
    }
    Ok(scenario)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_kind_parses_from_toml() {
        let text = r#"
            title = "all steps"
            faq = "2.9"
            [merchant]
            phase = "test"
            test_mobiles = ["13800000000"]
            [[step]]
            do = "buy"
            num = 2
            gateway_fault = { api = "send", times = 3, sub_code = "isv.eticket-order-status-error:invalid-order-status" }
            [[step]]
            do = "gateway_fault"
            api = "resend"
            code = 7
            [[step]]
            do = "expect_ack"
            method = "send"
            verdict = "ack_200"
            within = 5
            [[step]]
            do = "expect_callback"
            api = "send"
            codes = 2
            sum = 2
            [[step]]
            do = "modify_mobile"
            mobile = "13911112222"
            refused = { status = 409 }
            [[step]]
            do = "advance_clock"
            seconds = 7201
            [[step]]
            do = "clear_faults"
            [[step]]
            do = "post"
            method = "send"
            expect = "ack_200"
            params = { sub_method = "1" }
            [[step]]
            do = "gateway_fault"
            api = "consume"
            lost_answer = "close"
            times = 1
            [[step]]
            do = "redeem"
            code = 0
            num = 2
            expect = "redeemed"
            [[step]]
            do = "reverse_at_pos"
        "#;
        let s = parse(text).unwrap();
        assert_eq!(s.steps.len(), 11);
        assert!(matches!(&s.steps[9], Step::Redeem { num: 2, expect, .. } if expect == "redeemed"));
        assert!(s.steps.iter().any(Step::advances_clock));
        assert!(matches!(&s.steps[1], Step::GatewayFault(fault) if fault.code == Some(7)));
    }

    #[test]
    fn unknown_keys_and_bad_verdicts_are_refused() {
        let typo = "title = \"t\"\n[[step]]\ndo = \"buy\"\nnumm = 2\n";
        assert!(parse(typo).unwrap_err().contains("numm"), "{}", parse(typo).unwrap_err());
        let verdict = "title = \"t\"\n[[step]]\ndo = \"expect_ack\"\nmethod = \"send\"\nverdict = \"200\"\n";
        assert!(parse(verdict).unwrap_err().contains("step 1 (expect_ack)"));
        assert!(parse("title = \"t\"\n").is_err());
        assert!(parse("title = \"t\"\n[[step]]\ndo = \"fly\"\n").is_err());
        let redeem = "title = \"t\"\n[[step]]\ndo = \"redeem\"\nnum = 1\nexpect = \"maybe\"\n";
        assert!(parse(redeem).unwrap_err().contains("step 1 (redeem)"));
    }
}
