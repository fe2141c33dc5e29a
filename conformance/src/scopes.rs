//! The two halves a run certifies (PROTOCOL §6, §6.1): `notifications` (C1–C10) and `redemption` (C11–C14),
//! each certified, failed or not run, read from the checks' verdicts only.

use serde::Serialize;

use crate::event::CheckReport;
use crate::outcome::Outcome;

/// Where one half stands after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeStatus {
    /// Every certifying check of the half passed.
    Certified,
    /// Some check of the half failed, errored, or was skipped while others ran.
    Failed,
    /// Every check of the half was skipped (no POS hook, or not selected by `--only`).
    NotRun,
}

/// Both halves (the JSON report's `scopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scopes {
    pub notifications: ScopeStatus,
    pub redemption: ScopeStatus,
}

/// The half a certifying check belongs to, from its rule (`C12 · FAQ 2.8` → redemption); `None` for advisory
/// checks, which certify nothing.
fn half_of(report: &CheckReport) -> Option<bool> {
    if report.info.advisory {
        return None;
    }
    let rule: u32 = report.info.rule.strip_prefix('C')?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some(rule >= 11)
}

fn status(outcomes: impl Iterator<Item = Outcome>) -> ScopeStatus {
    let outcomes: Vec<Outcome> = outcomes.collect();
    if outcomes.iter().all(|o| *o == Outcome::Skip) {
        ScopeStatus::NotRun
    } else if outcomes.iter().all(|o| *o == Outcome::Pass) {
        ScopeStatus::Certified
    } else {
        ScopeStatus::Failed
    }
}

impl Scopes {
    pub fn of(reports: &[CheckReport]) -> Self {
        let outcomes = |redemption: bool| {
            reports.iter().filter(move |r| half_of(r) == Some(redemption)).map(|r| r.verdict.outcome)
        };
        let notifications = match status(outcomes(false)) {
            // The notification half always runs: all of it skipped certifies nothing.
            ScopeStatus::NotRun => ScopeStatus::Failed,
            other => other,
        };
        Self { notifications, redemption: status(outcomes(true)) }
    }

    /// The run certifies the merchant: the notification half is certified and the redemption half did not
    /// fail (it may not have run; `scopes` says so).
    pub fn certified(&self) -> bool {
        self.notifications == ScopeStatus::Certified && self.redemption != ScopeStatus::Failed
    }

    /// `notifications: certified, redemption: not run — pass --pos-url`.
    pub fn line(&self) -> String {
        let word = |s: ScopeStatus| match s {
            ScopeStatus::Certified => "certified",
            ScopeStatus::Failed => "failed",
            ScopeStatus::NotRun => "not run — pass --pos-url",
        };
        format!("notifications: {}, redemption: {}", word(self.notifications), word(self.redemption))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::CheckInfo;
    use crate::outcome::Verdict;

    fn report(id: &'static str, rule: &'static str, outcome: Outcome) -> CheckReport {
        let verdict = match outcome {
            Outcome::Pass => Verdict::pass("p"),
            Outcome::Skip => Verdict::skip("s"),
            Outcome::Warn => Verdict::warn("w"),
            Outcome::Fail => Verdict::fail("f"),
            Outcome::Error => Verdict::error("e"),
        };
        let info = CheckInfo { id, title: "t", rule, advisory: id.starts_with('X') };
        CheckReport { info, verdict, duration: Duration::ZERO, orders: vec![], timeline: vec![] }
    }

    #[test]
    fn each_half_is_judged_from_its_own_rules_and_advisory_checks_count_for_neither() {
        use Outcome::*;
        let run = |c11: Outcome, c1: Outcome| {
            Scopes::of(&[
                report("C1.send.ack", "C1 · FAQ 2.26", c1),
                report("C10.x", "C10 · FAQ 2.20", Pass),
                report("C11.redeem.first", "C11 · FAQ 2.8", c11),
                report("C14.x", "C14 · FAQ 2.8", if c11 == Skip { Skip } else { Pass }),
                report("X.beforeconsume", "advisory · FAQ 2.8", Warn),
            ])
        };
        let not_run = run(Skip, Pass);
        assert_eq!((not_run.notifications, not_run.redemption), (ScopeStatus::Certified, ScopeStatus::NotRun));
        assert!(not_run.certified());
        assert_eq!(not_run.line(), "notifications: certified, redemption: not run — pass --pos-url");
        assert_eq!(run(Pass, Pass).redemption, ScopeStatus::Certified);
        assert!(!run(Fail, Pass).certified());
        assert_eq!(run(Fail, Pass).redemption, ScopeStatus::Failed);
        assert_eq!(run(Pass, Fail).notifications, ScopeStatus::Failed);
        assert_eq!(run(Pass, Skip).notifications, ScopeStatus::Failed, "a skipped check certifies nothing");
    }
}
