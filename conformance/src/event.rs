//! The events a run emits. The runner produces them; reporters only consume them (the nextest model).

use std::time::Duration;

use serde::Serialize;

use crate::outcome::{Outcome, Verdict};

/// A check as the plan lists it: what `conformance list` prints and every report names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    /// Stable id, e.g. `C2.tampered-value`; `--only` matches on it.
    pub id: &'static str,
    pub title: &'static str,
    /// The PROTOCOL rule and FAQ section enforced, e.g. `C2 · FAQ 2.25`.
    pub rule: &'static str,
    /// Outside C1–C10: reported, at most a warning, never decides certification.
    pub advisory: bool,
}

/// Who sent or answered one line of a check's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A notification attempt the platform sent to the merchant.
    Notification,
    /// A TOP call the merchant made to the gateway.
    Gateway,
    /// Something the suite did itself: an admin action, or a notification it signed and posted.
    Suite,
    /// A request the suite made to the merchant's POS hook, and its answer (INTERFACES §4).
    Pos,
}

/// One line of a check's exchange timeline: a notification attempt, a gateway call, or a suite action.
///
/// Every string here may hold merchant-supplied bytes; reporters escape them for their format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub kind: EntryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
    /// When it started: RFC 3339 UTC with milliseconds (the platform's record, or the suite's clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// E.g. `send · attempt 1` or `taobao.vmarket.eticket.send`.
    pub title: String,
    /// Params as sent (the session key masked).
    pub params: Vec<(String, String)>,
    /// The merchant's reply bytes, or the gateway's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// How the reply was read: `ack`, `not ack: …`, `code 25 Invalid signature`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Annotations: the alteration applied, the C4 hold, the causality verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TimelineEntry {
    pub fn new(kind: EntryKind, title: impl Into<String>) -> Self {
        Self {
            kind,
            order_id: None,
            at: None,
            title: title.into(),
            params: Vec::new(),
            reply: None,
            verdict: None,
            duration_ms: None,
            notes: Vec::new(),
        }
    }
}

/// A finished check: its verdict, how long it took, the orders it used and what was exchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    #[serde(flatten)]
    pub info: CheckInfo,
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(serialize_with = "as_millis")]
    pub duration: Duration,
    pub orders: Vec<i64>,
    pub timeline: Vec<TimelineEntry>,
}

/// Counts per outcome and the wall time of the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    pub error: usize,
    #[serde(serialize_with = "as_millis")]
    pub duration: Duration,
}

impl Summary {
    pub fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Warn => self.warn += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::Error => self.error += 1,
        }
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        match outcome {
            Outcome::Pass => self.pass,
            Outcome::Fail => self.fail,
            Outcome::Warn => self.warn,
            Outcome::Skip => self.skip,
            Outcome::Error => self.error,
        }
    }

    /// No check failed or errored (exit 0).
    pub fn is_success(&self) -> bool {
        self.fail == 0 && self.error == 0
    }

    /// Certified: no check failed or errored, and none was skipped (a run narrowed by `--only`, or a check
    /// whose precondition the merchant did not meet, certifies nothing).
    pub fn is_certified(&self) -> bool {
        self.is_success() && self.skip == 0
    }
}

/// What the runner tells reporters, in order: one `PlanStarted`, for each check a `CheckStarted` then a
/// `CheckFinished` (checks interleave), one `RunFinished`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PlanStarted { merchant_url: String, checks: Vec<CheckInfo> },
    CheckStarted { info: CheckInfo },
    CheckFinished(Box<CheckReport>),
    RunFinished(Summary),
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_each_outcome_and_fails_on_fail_or_error() {
        let mut s = Summary::default();
        for o in [Outcome::Pass, Outcome::Warn, Outcome::Skip] {
            s.add(o);
        }
        assert!(s.is_success());
        assert!(!s.is_certified(), "a skipped check certifies nothing");
        s.add(Outcome::Error);
        assert!(!s.is_success());
        assert_eq!((s.total, s.pass, s.warn, s.skip, s.error), (4, 1, 1, 1, 1));
        let mut clean = Summary::default();
        clean.add(Outcome::Pass);
        clean.add(Outcome::Warn);
        assert!(clean.is_certified());
    }
}
