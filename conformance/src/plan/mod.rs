//! The plan: every check the suite runs, with its stable id, title and the rule it enforces.
//!
//! Each check buys its own orders, so checks are independent and run concurrently; the quiet window is the
//! floor of a run's duration.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::event::CheckInfo;
use crate::outcome::Verdict;
use crate::platform_client::{BadNotification, PlatformError};

mod ack;
mod bad_notification;
mod cancel;
mod duplicate;
mod issue;
pub mod judge;
mod modify;
pub mod probe;
pub mod redeem;
mod reissue;
mod retry;
pub mod timeline;

pub use probe::{Context, Probe};

/// What a check's body returns: a verdict, or the platform failing under it (reported as `Error`).
pub type CheckResult = Result<Verdict, PlatformError>;

type RunFn = dyn Fn(Arc<Probe>) -> BoxFuture<'static, CheckResult> + Send + Sync;

/// One check of the plan.
#[derive(Clone)]
pub struct Check {
    pub info: CheckInfo,
    run: Arc<RunFn>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Check {
    pub fn new<F, Fut>(id: &'static str, title: &'static str, rule: &'static str, run: F) -> Self
    where
        F: Fn(Arc<Probe>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckResult> + Send + 'static,
    {
        Self { info: CheckInfo { id, title, rule, advisory: false }, run: Arc::new(move |p| Box::pin(run(p))) }
    }

    /// Marks a check outside C1–C14: at most a warning.
    pub fn advisory(mut self) -> Self {
        self.info.advisory = true;
        self
    }

    pub fn run(&self, probe: Arc<Probe>) -> BoxFuture<'static, CheckResult> {
        (self.run)(probe)
    }

    /// Whether `--only` selects this check: no pattern, or one pattern matching the id.
    pub fn selected_by(&self, patterns: &[String]) -> bool {
        patterns.is_empty() || patterns.iter().any(|p| matches_pattern(p, self.info.id))
    }
}

/// `*` matches any run of characters; without `*`, a pattern matches any id containing it.
fn matches_pattern(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return id.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !id.starts_with(first) || id.len() < first.len() + last.len() || !id.ends_with(last) {
        return false;
    }
    let mut rest = &id[first.len()..id.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Every check, in the order reports list them.
pub fn all_checks() -> Vec<Check> {
    use BadNotification as B;
    let mut checks = vec![
        Check::new(
            "C1.send.ack",
            "send is acknowledged with the exact bytes {\"code\":200} within the deadline",
            "C1 · FAQ 2.26",
            ack::send_ack,
        ),
        Check::new(
            "C1.send.extra-params",
            "send carrying unknown extra params is still verified and acknowledged",
            "C1 · FAQ 2.14",
            ack::send_extra_params,
        ),
    ];
    let bad: [(&'static str, &'static str, B); 8] = [
        ("C2.tampered-value", "a notification whose value was changed after signing is rejected", B::Tamper),
        ("C2.wrong-key", "a notification signed with another key is rejected", B::WrongKey),
        ("C2.missing-sign", "a notification without sign is rejected", B::DropSign),
        ("C2.utf8-sign", "a notification signed over UTF-8 instead of GBK bytes is rejected", B::Utf8Sign),
        ("C2.stale-past", "a validly signed notification 11 minutes old is rejected", B::StaleTimestamp),
        ("C2.stale-future", "a validly signed notification 11 minutes ahead is rejected", B::FutureTimestamp),
        ("C2.missing-timestamp", "a validly signed notification without timestamp is rejected", B::DropTimestamp),
        (
            "C2.malformed-timestamp",
            "a validly signed notification with a malformed timestamp is rejected",
            B::MalformedTimestamp,
        ),
    ];
    for (id, title, kind) in bad {
        checks.push(Check::new(id, title, "C2 · FAQ 2.25, 2.14", move |p| bad_notification::rejected(p, kind)));
    }
    checks.extend([
        Check::new(
            "C3.send.callback",
            "after acking send, eticket.send reports unique codes summing to num, with the token",
            "C3 · FAQ 2.9",
            issue::callback,
        ),
        Check::new(
            "C3.send.consume-type-1",
            "with consume_type=1 every code counts 1",
            "C3 · FAQ 2.9",
            issue::consume_type_one,
        ),
        Check::new(
            "C4.send.ack-before-callback",
            "no callback before the notification causing it is acknowledged",
            "C4 · FAQ 2.27",
            issue::ack_before_callback,
        ),
        Check::new(
            "C5.send.duplicate",
            "a repeated send is acknowledged and yields no new codes",
            "C5 · FAQ 2.26",
            duplicate::duplicate_send,
        ),
        Check::new(
            "C6.resend.pairing",
            "resend: {\"code\":200} with the same codes, or {\"code\":300} with new ones summing to left_num",
            "C6 · FAQ 2.26, 2.27",
            reissue::resend,
        ),
        Check::new(
            "C6.modified.pairing",
            "modified (new mobile): the same pairing of ack and eticket.resend",
            "C6 · FAQ 2.20, 2.27",
            reissue::modified,
        ),
        Check::new(
            "C7.cancel.no-callback",
            "cancel is acknowledged; a late resend after it causes no callback",
            "C7 · FAQ 2.22, 2.23",
            cancel::no_callback_after_cancel,
        ),
        Check::new(
            "C8.transient.isp-timeout",
            "isp.top-remote-connection-timeout twice: the callback is retried to success",
            "C8 · FAQ 2.24",
            |p| retry::transient(p, retry::Transient::IspTimeout),
        ),
        Check::new(
            "C8.transient.flow-control",
            "code 7 (App Call Limited) twice: the callback is retried to success",
            "C8 · FAQ 2.24",
            |p| retry::transient(p, retry::Transient::FlowControl),
        ),
        Check::new(
            "C8.transient.service-unavailable",
            "isv.eticket-service-unavailable twice: the callback is retried to success",
            "C8 · FAQ 2.24",
            |p| retry::transient(p, retry::Transient::ServiceUnavailable),
        ),
        Check::new(
            "C8.terminal.no-hammering",
            "after invalid-order-status at most one more identical call",
            "C8 · FAQ 2.9",
            retry::terminal,
        ),
        Check::new(
            "C9.top-call",
            "TOP calls signed with the app secret, with app_key, session, v=2.0, a fresh timestamp and the token",
            "C9 · FAQ 2.13, 2.14, 2.29",
            issue::top_call,
        ),
        Check::new(
            "C10.order-modify.validity",
            "order_modify sub_method=1 (validity changed) is acknowledged with {\"code\":200}",
            "C10 · FAQ 2.20",
            modify::validity,
        ),
        Check::new(
            "C10.order-modify.rights",
            "order_modify sub_method=2 (rights claim upheld) is acknowledged with {\"code\":200}",
            "C10 · FAQ 2.20",
            modify::rights,
        ),
        Check::new(
            "C11.redeem.first",
            "asked to redeem 2 of a code's 4 units, the merchant redeems them through the platform, once, with a serial",
            "C11 · FAQ 2.8",
            redeem::once::first,
        ),
        Check::new(
            "C11.redeem.uses-up",
            "a second redemption of the rest of the code uses it up (PARTLY_CONSUMED → CONSUMED)",
            "C11 · FAQ 2.8",
            redeem::once::uses_up,
        ),
        Check::new(
            "C12.refused.used-up",
            "a redemption of a used-up code is refused to the clerk and redeems nothing",
            "C12 · FAQ 2.8",
            redeem::refuse::used_up,
        ),
        Check::new(
            "C12.refused.refunded",
            "a redemption of a code voided by a refund is refused and redeems nothing",
            "C12 · FAQ 2.8, 2.23",
            redeem::refuse::refunded,
        ),
        Check::new(
            "C12.refused.overflow",
            "a redemption of more units than the code has left is refused",
            "C12 · FAQ 2.8",
            redeem::refuse::overflow,
        ),
        Check::new(
            "C12.refused.platform-refusal",
            "the platform's code-not-available is passed to the clerk as refused, and not hammered",
            "C12 · FAQ 2.8",
            redeem::refuse::platform_refusal,
        ),
        Check::new(
            "C12.refused.last-unit-race",
            "two concurrent redemptions of a code's last unit: exactly one is redeemed, the other refused",
            "C12 · FAQ 2.8",
            redeem::refuse::last_unit_race,
        ),
        Check::new(
            "C13.lost-answer.close",
            "a consume applied but answered by a closed connection is not redeemed again nor told refused",
            "C13 · FAQ 2.8",
            |p| redeem::lost::lost_answer(p, "close"),
        ),
        Check::new(
            "C13.lost-answer.transient",
            "a consume applied but answered isp.top-remote-connection-timeout is not redeemed again nor told refused",
            "C13 · FAQ 2.8",
            |p| redeem::lost::lost_answer(p, "transient"),
        ),
        Check::new(
            "C14.reverse.by-serial",
            "reverse (冲正) by serial undoes exactly that consume: code, count and serial",
            "C14 · FAQ 2.8",
            redeem::reverse::by_serial,
        ),
        Check::new(
            "C14.reverse.refused",
            "a reverse of an unknown serial, or of one already reversed, is refused",
            "C14 · FAQ 2.8",
            redeem::reverse::refused,
        ),
        Check::new(
            "X.beforeconsume",
            "a redemption asks beforeconsume (验码前置确认) before consume",
            "advisory · FAQ 2.8",
            redeem::beforeconsume,
        )
        .advisory(),
        Check::new(
            "X.ack-latency",
            "send is acknowledged within 1 s (well inside the deadline)",
            "advisory · FAQ 2.26",
            ack::latency,
        )
        .advisory(),
        Check::new(
            "X.gbk-body",
            "send with a GBK-encoded body (legacy charset option) is verified and acknowledged",
            "advisory · FAQ 2.25, PROTOCOL §3.1",
            ack::gbk_body,
        )
        .advisory(),
    ]);
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_rule_names_a_source() {
        let checks = all_checks();
        let mut ids: Vec<_> = checks.iter().map(|c| c.info.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), checks.len());
        assert!(checks.iter().all(|c| c.info.rule.contains("FAQ")));
        for rule in ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11", "C12", "C13", "C14"] {
            assert!(checks.iter().any(|c| c.info.rule.starts_with(&format!("{rule} "))), "{rule} has no check");
        }
    }

    #[test]
    fn only_checks_outside_c1_to_c10_are_advisory() {
        for check in all_checks() {
            assert_eq!(check.info.advisory, check.info.id.starts_with('X'), "{}", check.info.id);
        }
    }

    #[test]
    fn patterns_match_substrings_and_wildcards() {
        assert!(matches_pattern("C2", "C2.wrong-key"));
        assert!(matches_pattern("C2.*-key", "C2.wrong-key"));
        assert!(matches_pattern("*timestamp", "C2.missing-timestamp"));
        assert!(!matches_pattern("C2.*-key", "C2.missing-sign"));
        assert!(!matches_pattern("C10", "C1.send.ack"));
        assert!(matches_pattern("C1.*", "C1.send.ack"));
    }
}
