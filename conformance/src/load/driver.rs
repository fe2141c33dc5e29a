//! The open-model driver: buys each order at its scheduled instant, whatever the merchant is doing, and keeps
//! the instant it was *scheduled* for, so every latency is measured from there (no coordinated omission).
//!
//! Buying is spawned, never awaited by the schedule: a slow platform or merchant cannot delay the next order.
//! If the tool itself starts an order late (a starved runtime), the lag is recorded and the report says so.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::live::Live;
use super::schedule::Stage;
use super::target::Target;

/// Time between the start call and the first scheduled order, to set up before the clock runs.
const LEAD: Duration = Duration::from_millis(100);

/// Every order's item title.
const TITLE: &str = "聚划算 flash sale ticket";

/// One scheduled order and what buying it gave.
#[derive(Debug, Clone)]
pub struct Buy {
    /// Which step of the run (always 0 without `--find-max`).
    pub stage: usize,
    /// Epoch ms the order was scheduled for.
    pub scheduled_ms: i64,
    /// How late the tool started buying it (ms).
    pub start_lag_ms: f64,
    /// The order id, or why the platform refused it.
    pub result: Result<i64, String>,
}

/// What a stage needs besides its schedule.
#[derive(Debug, Clone)]
pub struct Order {
    pub app_key: String,
    pub num: u32,
}

/// Epoch milliseconds now (the platform's exchanges use the same wall clock).
pub fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Buys the stage's orders on schedule; returns when every purchase has answered.
pub async fn drive(target: &Target, stage_index: usize, stage: Stage, order: &Order, live: &Arc<Live>) -> Vec<Buy> {
    let total = stage.orders();
    let start = Instant::now() + LEAD;
    let start_wall = wall_ms() + LEAD.as_millis() as i64;
    live.begin_stage(stage, start, total);
    // Results come back through a channel into a plain vector: a finished task kept in a `JoinSet` until the end
    // would hold its whole future (about 1.6 KiB), growing the tool's memory with every order of a long run.
    let (done, mut results) = mpsc::unbounded_channel::<Buy>();
    for n in 0..total {
        let offset = stage.offset_of(n);
        let due = start + offset;
        tokio::time::sleep_until(due.into()).await;
        let start_lag_ms = Instant::now().saturating_duration_since(due).as_secs_f64() * 1000.0;
        let scheduled_ms = start_wall + offset.as_millis() as i64;
        let mobile = format!("138{:08}", n % 100_000_000);
        let body = mock_platform::NewOrderBody::new(&order.app_key, i64::from(order.num), &mobile, TITLE);
        let target = target.clone();
        let live = live.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let result = target.buy(body).await;
            live.bought(&result, scheduled_ms, start_lag_ms);
            let _ = done.send(Buy { stage: stage_index, scheduled_ms, start_lag_ms, result });
        });
    }
    drop(done);
    let mut buys = Vec::with_capacity(total);
    // Ends when every purchase task has sent its result and dropped its sender.
    while let Some(buy) = results.recv().await {
        buys.push(buy);
    }
    buys.sort_by_key(|b| b.scheduled_ms);
    buys
}
