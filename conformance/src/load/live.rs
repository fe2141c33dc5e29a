//! What a load run shows while it runs: counters the driver updates, a bounded sample of orders read for
//! live ack and callback percentiles, and the progress display (a bar on a terminal, plain lines otherwise).
//!
//! The live figures are an estimate from the sample; the report's figures come from every order, read once
//! at the end.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::measure::OrderMeasure;
use super::schedule::Stage;
use super::stats::Latencies;
use super::target::Target;

/// Orders read per tick for the live figures, and how many may wait to be read.
const SAMPLE_PER_TICK: usize = 32;
const SAMPLE_QUEUE: usize = 256;
/// An order is sampled this long after it was bought, when its ack and callback have usually happened.
const SAMPLE_AGE: Duration = Duration::from_secs(2);
/// Without a terminal, one progress line this often.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct State {
    stage: Option<Stage>,
    stage_start: Instant,
    stage_total: usize,
    scheduled: usize,
    bought: usize,
    errors: usize,
    max_start_lag_ms: f64,
    ack: Latencies,
    callback: Latencies,
    sample: VecDeque<(i64, i64, Instant)>,
}

/// The live counters, shared by the driver, the sampler and the display.
#[derive(Debug)]
pub struct Live {
    state: Mutex<State>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                stage: None,
                stage_start: Instant::now(),
                stage_total: 0,
                scheduled: 0,
                bought: 0,
                errors: 0,
                max_start_lag_ms: 0.0,
                ack: Latencies::default(),
                callback: Latencies::default(),
                sample: VecDeque::new(),
            }),
        }
    }
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn begin_stage(&self, stage: Stage, start: Instant, total: usize) {
        let mut s = self.lock();
        s.stage = Some(stage);
        s.stage_start = start;
        s.stage_total = total;
        s.scheduled = 0;
        s.bought = 0;
        s.errors = 0;
        s.max_start_lag_ms = 0.0;
        s.ack = Latencies::default();
        s.callback = Latencies::default();
        s.sample.clear();
    }

    pub fn bought(&self, result: &Result<i64, String>, scheduled_ms: i64, start_lag_ms: f64) {
        let mut s = self.lock();
        s.scheduled += 1;
        s.max_start_lag_ms = s.max_start_lag_ms.max(start_lag_ms);
        match result {
            Ok(id) => {
                s.bought += 1;
                if s.sample.len() < SAMPLE_QUEUE {
                    s.sample.push_back((*id, scheduled_ms, Instant::now() + SAMPLE_AGE));
                }
            }
            Err(_) => s.errors += 1,
        }
    }

    /// Reads up to a tick's worth of sampled orders that are old enough.
    async fn sample(&self, target: &Target) {
        let now = Instant::now();
        let due: Vec<(i64, i64)> = {
            let mut s = self.lock();
            let mut due = Vec::new();
            while due.len() < SAMPLE_PER_TICK && s.sample.front().is_some_and(|(_, _, at)| *at <= now) {
                if let Some((id, scheduled, _)) = s.sample.pop_front() {
                    due.push((id, scheduled));
                }
            }
            due
        };
        for (id, scheduled) in due {
            let exchanges = target.exchanges(id).await;
            let m = OrderMeasure::read(id, scheduled, None, &exchanges);
            let mut s = self.lock();
            if let Some(ms) = m.ack_ms {
                s.ack.record(ms);
            }
            if let Some(ms) = m.callback_lag_ms {
                s.callback.record(ms);
            }
            if m.first_attempt_failed {
                s.errors += 1;
            }
        }
    }

    /// One line: target and achieved rate, sampled percentiles, errors, how late the tool is.
    fn line(&self) -> (String, f64) {
        let s = self.lock();
        let elapsed = Instant::now().saturating_duration_since(s.stage_start);
        let (target, fraction) = match s.stage {
            Some(stage) => (
                stage.rate_at(elapsed),
                (elapsed.as_secs_f64() / stage.duration.as_secs_f64().max(1e-9)).clamp(0.0, 1.0),
            ),
            None => (0.0, 0.0),
        };
        let achieved = if elapsed.as_secs_f64() > 0.0 { s.bought as f64 / elapsed.as_secs_f64() } else { 0.0 };
        let ms = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        let behind = if s.max_start_lag_ms > 50.0 {
            format!(" | tool behind schedule by up to {:.0} ms", s.max_start_lag_ms)
        } else {
            String::new()
        };
        (
            format!(
                "target {target:.1}/s achieved {achieved:.1}/s | orders {}/{} | ack p50 {} p99 {} ms | callback p50 {} p99 {} ms | errors {}{behind}",
                s.bought,
                s.stage_total,
                ms(s.ack.quantile(0.5)),
                ms(s.ack.quantile(0.99)),
                ms(s.callback.quantile(0.5)),
                ms(s.callback.quantile(0.99)),
                s.errors,
            ),
            fraction,
        )
    }
}

/// Samples and shows progress until dropped (the returned task is aborted by the caller).
pub fn spawn_display(live: Arc<Live>, target: Target) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(1000);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {elapsed} {msg}")
                    .expect("a static template")
                    .progress_chars("=> "),
            );
            bar
        });
        let mut last_plain = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            live.sample(&target).await;
            let (line, fraction) = live.line();
            match &bar {
                Some(bar) => {
                    bar.set_position((fraction * 1000.0) as u64);
                    bar.set_message(line);
                }
                None if last_plain.elapsed() >= PLAIN_EVERY => {
                    last_plain = Instant::now();
                    eprintln!("load: {line}");
                }
                None => {}
            }
        }
    })
}
