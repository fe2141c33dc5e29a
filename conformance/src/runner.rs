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
    CheckReport { info: check.info, verdict, duration, orders, timeline: entries }
}
