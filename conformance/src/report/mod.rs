//! Reporters: each consumes the runner's events and renders them one way (terminal, JSON, JUnit, HTML).

pub mod html;
pub mod json;
pub mod junit;
pub mod terminal;

use crate::event::{CheckInfo, CheckReport, Event, Summary};

/// What the file reporters need at the end: the plan, every finished check in plan order, the summary.
/// Built from events only.
#[derive(Debug, Default, Clone)]
pub struct Collected {
    pub merchant_url: String,
    pub plan: Vec<CheckInfo>,
    pub reports: Vec<CheckReport>,
}

impl Collected {
    /// Feeds one event; answers the summary once the run is finished.
    pub fn push(&mut self, event: &Event) -> Option<Summary> {
        match event {
            Event::PlanStarted { merchant_url, checks } => {
                self.merchant_url = merchant_url.clone();
                self.plan = checks.clone();
                None
            }
            Event::CheckStarted { .. } => None,
            Event::CheckFinished(report) => {
                self.reports.push((**report).clone());
                None
            }
            Event::RunFinished(summary) => {
                let position = |id: &str| self.plan.iter().position(|c| c.id == id).unwrap_or(usize::MAX);
                self.reports.sort_by_key(|r| position(r.info.id));
                Some(summary.clone())
            }
        }
    }
}

/// Writes `contents` to `path`, creating parent directories.
pub(crate) fn write_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents)
}

#[cfg(test)]
pub(crate) mod sample {
    //! A fixed run for the reporters' snapshot tests.

    use std::time::Duration;

    use crate::event::{CheckInfo, CheckReport, EntryKind, Event, Summary, TimelineEntry};
    use crate::outcome::{Outcome, Verdict};

    pub fn events() -> Vec<Event> {
        let pass =
            CheckInfo { id: "C1.send.ack", title: "send is acknowledged", rule: "C1 · FAQ 2.26", advisory: false };
        let fail = CheckInfo {
            id: "C2.tampered-value",
            title: "a tampered notification is rejected",
            rule: "C2 · FAQ 2.25",
            advisory: false,
        };
        let warn = CheckInfo {
            id: "X.ack-latency",
            title: "send is acknowledged within 1 s",
            rule: "advisory · FAQ 2.26",
            advisory: true,
        };
        let mut attempt = TimelineEntry::new(EntryKind::Notification, "send · attempt 1");
        attempt.order_id = Some(1001);
        attempt.at = Some("2026-11-26T12:00:00.000Z".into());
        attempt.params = vec![("method".into(), "send".into()), ("item_title".into(), "银子岩<门票>&".into())];
        attempt.reply = Some("{\"code\":200}\n<script>alert(1)</script>".into());
        attempt.verdict = Some("not ack: whitespace".into());
        attempt.duration_ms = Some(12);
        let mut call = TimelineEntry::new(EntryKind::Gateway, "taobao.vmarket.eticket.send");
        call.order_id = Some(1001);
        call.params = vec![("verify_codes".into(), "a1:1,a2:2".into())];
        call.verdict = Some("ok".into());
        call.notes = vec!["causality: ok".into()];
        let mut summary = Summary::default();
        for o in [Outcome::Pass, Outcome::Fail, Outcome::Warn] {
            summary.add(o);
        }
        summary.duration = Duration::from_millis(5321);
        vec![
            Event::PlanStarted {
                merchant_url: "http://127.0.0.1:9/notify".into(),
                checks: vec![pass.clone(), fail.clone(), warn.clone()],
            },
            Event::CheckStarted { info: fail.clone() },
            Event::CheckFinished(Box::new(CheckReport {
                info: fail,
                verdict: Verdict::fail("a send notification with a value changed after signing was acknowledged")
                    .expected("no acknowledgement")
                    .actual(r#"HTTP 200 "{"code":200}""#)
                    .hint("recompute the sign (FAQ 2.25)"),
                duration: Duration::from_millis(1234),
                orders: vec![1001],
                timeline: vec![attempt, call],
            })),
            Event::CheckStarted { info: pass.clone() },
            Event::CheckFinished(Box::new(CheckReport {
                info: pass,
                verdict: Verdict::pass("send acknowledged with {\"code\":200} in 3 ms"),
                duration: Duration::from_millis(50),
                orders: vec![1000],
                timeline: vec![],
            })),
            Event::CheckFinished(Box::new(CheckReport {
                info: warn,
                verdict: Verdict::warn("send took 1500 ms to acknowledge"),
                duration: Duration::from_millis(1600),
                orders: vec![1002],
                timeline: vec![],
            })),
            Event::RunFinished(summary),
        ]
    }
}
