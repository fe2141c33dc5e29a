//! What a check concludes: the five outcomes and the verdict that carries expected, actual and a hint.

use serde::Serialize;

/// A check's outcome, in the nextest sense: more than pass/fail.
///
/// Ordered by severity so a summary can take the worst one with `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The merchant did what the rule asks.
    Pass,
    /// Not judged (filtered out by `--only`, or a precondition the platform could not set up).
    Skip,
    /// A problem that does not decide certification (checks outside C1–C10).
    Warn,
    /// The merchant broke the rule.
    Fail,
    /// The suite could not judge (the platform misbehaved, the run deadline passed).
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [Outcome::Pass, Outcome::Fail, Outcome::Warn, Outcome::Skip, Outcome::Error];

    /// Whether this outcome makes the run exit with `exit::FAILED`.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Error)
    }

    /// Upper-case label for terminals and JUnit messages.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Skip => "SKIP",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
            Outcome::Error => "ERROR",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Skip => "skip",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
        }
    }
}

/// What a check found: the outcome, one sentence, and for failures what was expected, what happened and what
/// to read (a FAQ section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Verdict {
    fn new(outcome: Outcome, message: impl Into<String>) -> Self {
        Self { outcome, message: message.into(), expected: None, actual: None, hint: None }
    }

    pub fn pass(message: impl Into<String>) -> Self {
        Self::new(Outcome::Pass, message)
    }

    pub fn fail(message: impl Into<String>) -> Self {
        Self::new(Outcome::Fail, message)
    }

    pub fn warn(message: impl Into<String>) -> Self {
        Self::new(Outcome::Warn, message)
    }

    pub fn skip(message: impl Into<String>) -> Self {
        Self::new(Outcome::Skip, message)
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Outcome::Error, message)
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Advisory checks (outside C1–C10) never decide certification: a failure there is reported as a warning.
    pub fn capped_at_warn(mut self) -> Self {
        if self.outcome.is_failure() {
            self.outcome = Outcome::Warn;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fail_and_error_are_failures() {
        let failures: Vec<_> = Outcome::ALL.into_iter().filter(|o| o.is_failure()).collect();
        assert_eq!(failures, [Outcome::Fail, Outcome::Error]);
    }

    #[test]
    fn capping_turns_failures_into_warnings_and_keeps_the_rest() {
        assert_eq!(Verdict::fail("x").capped_at_warn().outcome, Outcome::Warn);
        assert_eq!(Verdict::error("x").capped_at_warn().outcome, Outcome::Warn);
        assert_eq!(Verdict::pass("x").capped_at_warn().outcome, Outcome::Pass);
        assert_eq!(Verdict::skip("x").capped_at_warn().outcome, Outcome::Skip);
    }

    #[test]
    fn the_worst_outcome_is_the_maximum() {
        assert_eq!([Outcome::Pass, Outcome::Warn, Outcome::Fail].into_iter().max(), Some(Outcome::Fail));
        assert!(Outcome::Error > Outcome::Fail);
    }
}
