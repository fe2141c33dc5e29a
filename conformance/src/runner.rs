//! The runner: runs the selected checks concurrently and emits events; it never prints anything itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::event::{CheckReport, Event, Summary};
use crate::outcome::Verdict;
use crate::plan::{Check, Context, Probe, timeline};

/// Something that consumes the run's events: a terminal, a report file.
pub trait Reporter: Send {
    fn on_event(&mut self, event: &Event) -> std::io::Result<()>;
}

/// Fans events out to several reporters; a reporter that fails is remembered, not allowed to stop the run.
#[derive(Default)]
pub struct Reporters {
    reporters: Vec<Box<dyn Reporter>>,
    pub errors: Vec<std::io::Error>,
}

impl std::fmt::Debug for Reporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporters").field("count", &self.reporters.len()).field("errors", &self.errors).finish()
    }
}

impl Reporters {
    pub fn push(&mut self, reporter: Box<dyn Reporter>) {
        self.reporters.push(reporter);
    }

    pub fn emit(&mut self, event: &Event) {
        for r in &mut self.reporters {
            if let Err(e) = r.on_event(event) {
                self.errors.push(e);
            }
        }
    }
}

/// How the runner schedules checks.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Checks running at once. Each holds an order or two, so this bounds the load on the merchant.
    pub concurrency: usize,
    /// Checks still running at this instant end as `Error`; the run never waits for pending retries.
    pub deadline: Instant,
}

/// Runs `checks` (those not selected by `only` are reported as skipped) and emits every event to `out`.
pub async fn run(
    checks: Vec<Check>,
    only: &[String],
    ctx: Arc<Context>,
    limits: RunLimits,
    out: &mut Reporters,
) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::default();
    out.emit(&Event::PlanStarted {
        merchant_url: ctx.merchant.url.clone(),
        checks: checks.iter().map(|c| c.info.clone()).collect(),
    });

    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<usize>();
    let semaphore = Arc::new(Semaphore::new(limits.concurrency.max(1)));
    let mut set = JoinSet::new();
    let mut task_index = HashMap::new();
    for (index, check) in checks.iter().enumerate() {
        if !check.selected_by(only) {
            let report = CheckReport {
                info: check.info.clone(),
                verdict: Verdict::skip("not selected by --only"),
                duration: Duration::ZERO,
                orders: Vec::new(),
                timeline: Vec::new(),
            };
            summary.add(report.verdict.outcome);
            out.emit(&Event::CheckFinished(Box::new(report)));
            continue;
        }
        let (check, ctx, semaphore, started_tx) = (check.clone(), ctx.clone(), semaphore.clone(), started_tx.clone());
        let handle = set.spawn(async move {
            let _permit = semaphore.acquire_owned().await.expect("the semaphore is never closed");
            let _ = started_tx.send(index);
            run_one(check, ctx).await
        });
        task_index.insert(handle.id(), index);
    }
    drop(started_tx);

    let deadline = tokio::time::Instant::from_std(limits.deadline);
    loop {
        tokio::select! {
            // Biased: a task sends its start before it can finish, so polling starts first keeps every
            // `CheckStarted` ahead of its `CheckFinished`.
            biased;
            Some(index) = started_rx.recv() => {
                out.emit(&Event::CheckStarted { info: checks[index].info.clone() });
            }
            joined = set.join_next_with_id() => {
                let Some(joined) = joined else { break };
                let report = match joined {
                    Ok((id, report)) => {
                        task_index.remove(&id);
                        report
                    }
                    Err(e) => {
                        let index = task_index.remove(&e.id()).expect("every task is indexed");
                        lost(&checks[index], Verdict::error(format!("the check panicked: {e}")))
                    }
                };
                summary.add(report.verdict.outcome);
                out.emit(&Event::CheckFinished(Box::new(report)));
            }
            () = tokio::time::sleep_until(deadline) => {
                set.abort_all();
                let mut left: Vec<usize> = task_index.drain().map(|(_, i)| i).collect();
                left.sort_unstable();
                for index in left {
                    let report = lost(&checks[index], Verdict::error("the run bound elapsed before this check ended"));
                    summary.add(report.verdict.outcome);
                    out.emit(&Event::CheckFinished(Box::new(report)));
                }
                break;
            }
        }
    }
    summary.duration = started.elapsed();
    out.emit(&Event::RunFinished(summary.clone()));
    summary
}

fn lost(check: &Check, verdict: Verdict) -> CheckReport {
    let verdict = if check.info.advisory { verdict.capped_at_warn() } else { verdict };
    CheckReport {
        info: check.info.clone(),
        verdict,
        duration: Duration::ZERO,
        orders: Vec::new(),
        timeline: Vec::new(),
    }
}

async fn run_one(check: Check, ctx: Arc<Context>) -> CheckReport {
    let probe = Arc::new(Probe::new(ctx.clone()));
    let started = Instant::now();
    let verdict = match check.run(probe.clone()).await {
        Ok(verdict) => verdict,
        Err(e) => Verdict::error(format!("the platform failed under the check: {e}")),
    };
    let verdict = if check.info.advisory { verdict.capped_at_warn() } else { verdict };
    let duration = started.elapsed();
    let orders = probe.orders();
    let mut entries = Vec::new();
    for order_id in &orders {
        if let Ok(exchanges) = ctx.platform.exchanges(*order_id).await {
            entries.extend(timeline::entries(*order_id, &exchanges, &ctx.merchant.session));
        }
    }
    entries.extend(probe.entries());
    // One timeline in time order: the platform's exchanges and the suite's own actions interleaved.
    entries.sort_by(|a, b| match (&a.at, &b.at) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    CheckReport { info: check.info, verdict, duration, orders, timeline: entries }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use protocol::Secret;

    use super::*;
    use crate::config::{MerchantConfig, Windows};
    use crate::outcome::Outcome;
    use crate::platform_client::PlatformClient;

    #[derive(Clone, Default)]
    struct Record(Arc<Mutex<Vec<Event>>>);

    impl Reporter for Record {
        fn on_event(&mut self, event: &Event) -> std::io::Result<()> {
            self.0.lock().unwrap().push(event.clone());
            Ok(())
        }
    }

    /// A context whose merchant and platform are unreachable: for checks that must decide before any I/O.
    pub(crate) fn context() -> Arc<Context> {
        let merchant = MerchantConfig {
            url: "http://127.0.0.1:1/notify".into(),
            app_key: "k".into(),
            app_secret: Secret::new("s"),
            session: "sess".into(),
            notify_key: Secret::new("n"),
            codemerchant_id: None,
        };
        // Nothing listens there: these checks never reach the platform.
        Arc::new(Context::new(PlatformClient::new("http://127.0.0.1:1", None), merchant, Windows::default(), 1))
    }

    fn checks() -> Vec<Check> {
        vec![
            Check::new("C1.pass", "passes", "C1 · FAQ", |_| async { Ok(Verdict::pass("ok")) }),
            Check::new("C2.fail", "fails", "C2 · FAQ", |_| async { Ok(Verdict::fail("bad")) }),
            Check::new("X.fail", "advisory", "advisory · FAQ", |_| async { Ok(Verdict::fail("meh")) }).advisory(),
            Check::new("C3.forever", "never ends", "C3 · FAQ", |_| async {
                std::future::pending::<()>().await;
                Ok(Verdict::pass("unreachable"))
            }),
            Check::new("C4.panics", "panics", "C4 · FAQ", |_| async { panic!("boom") }),
        ]
    }

    async fn run_checks(only: &[String]) -> (Summary, Vec<Event>) {
        let record = Record::default();
        let mut out = Reporters::default();
        out.push(Box::new(record.clone()));
        let limits = RunLimits { concurrency: 4, deadline: Instant::now() + Duration::from_secs(72) };
        let summary = run(checks(), only, context(), limits, &mut out).await;
        let events = record.0.lock().unwrap().clone();
        (summary, events)
    }

    fn outcome_of(events: &[Event], id: &str) -> Outcome {
        events
            .iter()
            .find_map(|e| match e {
                Event::CheckFinished(r) if r.info.id == id => Some(r.verdict.outcome),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id} did not finish"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_still_running_at_the_run_bound_ends_as_error_and_the_run_finishes() {
        let (summary, events) = run_checks(&[]).await;
        assert_eq!(outcome_of(&events, "C3.forever"), Outcome::Error);
        assert_eq!(outcome_of(&events, "C4.panics"), Outcome::Error);
        assert_eq!(outcome_of(&events, "X.fail"), Outcome::Warn, "advisory checks are capped at warn");
        assert_eq!(outcome_of(&events, "C2.fail"), Outcome::Fail);
        assert_eq!((summary.total, summary.pass, summary.fail, summary.warn, summary.error), (5, 1, 1, 1, 2));
        assert!(!summary.is_success());
    }

    #[tokio::test(start_paused = true)]
    async fn events_come_plan_first_started_before_finished_and_run_finished_last() {
        let (_, events) = run_checks(&[]).await;
        assert!(matches!(&events[0], Event::PlanStarted { checks, .. } if checks.len() == 5));
        assert!(matches!(events.last(), Some(Event::RunFinished(_))));
        for (i, e) in events.iter().enumerate() {
            if let Event::CheckFinished(r) = e {
                let started =
                    events[..i].iter().any(|s| matches!(s, Event::CheckStarted { info } if info.id == r.info.id));
                assert!(started, "{} finished before it started", r.info.id);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn checks_not_selected_by_only_are_skipped_without_running() {
        let (summary, events) = run_checks(&["C1".to_owned()]).await;
        assert_eq!(outcome_of(&events, "C1.pass"), Outcome::Pass);
        for id in ["C2.fail", "X.fail", "C3.forever", "C4.panics"] {
            assert_eq!(outcome_of(&events, id), Outcome::Skip, "{id}");
        }
        assert!(summary.is_success());
    }
}
