//! Judges one step of a load run from every order's measurements (PROTOCOL §6.2): latency percentiles against
//! the thresholds, the error rate, integrity (all `ISSUED`, codes unique and summing to `num`, no second
//! successful `eticket.send`, no callback before its ack) and the merchant's reaction to error 7.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::driver::Buy;
use super::measure::OrderMeasure;
use super::stats::{Latencies, Percentiles};

/// Lists of order ids in the report are cut at this length (the counts stay exact).
const LIST_CAP: usize = 50;
/// A merchant whose call rate after its first error 7 is at least this fraction of the rate before keeps
/// hammering the gateway.
const HAMMERING_RATIO: f64 = 0.5;
/// …counted only when it made at least this many calls after the 7 (a few retries are not hammering).
const HAMMERING_MIN_CALLS: usize = 20;

/// The limits a step is judged against (INTERFACES §2 defaults: 1000 ms, 5000 ms, 0.1 %).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub max_ack_p99_ms: u64,
    pub max_callback_p99_ms: u64,
    pub max_error_rate_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { max_ack_p99_ms: 1000, max_callback_p99_ms: 5000, max_error_rate_pct: 0.1 }
    }
}

/// One threshold's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdResult {
    pub name: &'static str,
    pub limit: f64,
    pub value: Option<f64>,
    pub held: bool,
}

/// Ids of orders (the first `LIST_CAP`) and how many there were.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderList {
    pub count: usize,
    pub order_ids: Vec<i64>,
}

impl OrderList {
    fn push(&mut self, id: i64) {
        self.count += 1;
        if self.order_ids.len() < LIST_CAP {
            self.order_ids.push(id);
        }
    }
}

/// A code found on more than one order.
#[derive(Debug, Clone, Serialize)]
pub struct SharedCode {
    pub code: String,
    pub order_ids: Vec<i64>,
}

/// Integrity under load: any entry fails the run whatever the latencies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Integrity {
    pub held: bool,
    /// Bought orders not `ISSUED` at the end of the drain window (orders left so by error 7 excluded).
    pub not_issued: OrderList,
    pub shared_codes: Vec<SharedCode>,
    /// Issued orders whose codes do not sum to `num`.
    pub wrong_code_sum: OrderList,
    /// Orders with two or more successful `eticket.send`.
    pub sent_twice: OrderList,
    /// Orders with a callback the gateway found before its `send` was acknowledged, or with no cause (C4).
    pub callback_before_ack: OrderList,
}

impl Integrity {
    /// No violation that overload alone can explain away: only orders still without codes at the end of the
    /// drain (what the step `--find-max` breaks on may leave) are left out.
    pub fn held_but_for_late_orders(&self) -> bool {
        self.shared_codes.is_empty()
            && self.wrong_code_sum.count == 0
            && self.sent_twice.count == 0
            && self.callback_before_ack.count == 0
    }
}

/// The merchant's reaction to error 7 (FAQ 2.24).
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowControl {
    /// Gateway calls answered 7.
    pub limited_calls: usize,
    /// Seconds from the step's first gateway call to its first 7.
    pub first_limited_after_s: Option<f64>,
    pub calls_per_s_before: Option<f64>,
    pub calls_per_s_after: Option<f64>,
    /// Kept calling after its first 7 at (nearly) the rate before.
    pub hammering: bool,
    /// Orders left without codes because calls for them were answered 7.
    pub left_without_codes: OrderList,
}

/// How well the tool kept its own schedule.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleKeeping {
    pub p99_start_lag_ms: f64,
    pub max_start_lag_ms: f64,
    /// The tool started orders late by more than 10 ms at p99 or 100 ms at worst: the figures include its delay.
    pub behind: bool,
}

/// One second of the step, by the orders' scheduled time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Second {
    pub second: u64,
    /// Orders scheduled in this second (the target rate).
    pub scheduled: u64,
    pub bought: u64,
    pub acked: u64,
    pub issued: u64,
    pub errors: u64,
    pub ack_p50_ms: Option<u64>,
    pub ack_p99_ms: Option<u64>,
    pub callback_p99_ms: Option<u64>,
    /// Gateway calls the merchant started in this second, and how many were answered 7.
    pub calls: u64,
    pub limited: u64,
}

/// Errors: orders the platform refused to sell, and `send` notifications not acknowledged on the first attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Errors {
    pub buy_failed: usize,
    pub first_attempt_not_acked: usize,
    pub rate_pct: f64,
    /// The first few reasons a purchase failed.
    pub buy_failures: Vec<String>,
}

/// The verdict and figures of one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: usize,
    pub rate_from: f64,
    pub rate_to: f64,
    pub duration_s: f64,
    pub scheduled: usize,
    pub bought: usize,
    pub issued: usize,
    /// Orders bought per second of the schedule.
    pub achieved_rate: f64,
    pub schedule: ScheduleKeeping,
    pub ack_ms: Percentiles,
    pub callback_lag_ms: Percentiles,
    pub end_to_end_ms: Percentiles,
    pub errors: Errors,
    /// `send` attempts beyond the first, by why the attempt before failed.
    pub retries: BTreeMap<String, u64>,
    pub near_misses: BTreeMap<String, u64>,
    pub integrity: Integrity,
    pub thresholds: Vec<ThresholdResult>,
    pub flow_control: FlowControl,
    pub time_series: Vec<Second>,
    /// Integrity held, every threshold held, and the merchant did not hammer.
    pub held: bool,
}

/// What a step was and what it gave.
#[derive(Debug, Clone, Copy)]
pub struct StepShape {
    pub step: usize,
    pub rate_from: f64,
    pub rate_to: f64,
    pub duration_s: f64,
}

/// Judges a step from its purchases and the measurements of its orders (one per bought order).
pub fn judge(
    shape: StepShape,
    buys: &[Buy],
    measures: &[OrderMeasure],
    thresholds: Thresholds,
    limits_set: bool,
) -> StepReport {
    let first_ms = buys.first().map_or(0, |b| b.scheduled_ms);
    let second_of = |ms: i64| ((ms - first_ms).max(0) / 1000) as usize;
    let seconds = buys.last().map_or(0, |b| second_of(b.scheduled_ms) + 1);
    let mut series: Vec<Second> = (0..seconds).map(|s| Second { second: s as u64, ..Default::default() }).collect();
    let mut series_ack: Vec<Latencies> = vec![Latencies::default(); seconds];
    let mut series_callback: Vec<Latencies> = vec![Latencies::default(); seconds];

    let mut lags = Latencies::default();
    let mut buy_failures = Vec::new();
    let mut buy_failed = 0;
    for b in buys {
        lags.record(b.start_lag_ms.round() as i64);
        let s = &mut series[second_of(b.scheduled_ms)];
        s.scheduled += 1;
        match &b.result {
            Ok(_) => s.bought += 1,
            Err(e) => {
                s.errors += 1;
                buy_failed += 1;
                if buy_failures.len() < 5 {
                    buy_failures.push(e.clone());
                }
            }
        }
    }
    let max_start_lag_ms = buys.iter().map(|b| b.start_lag_ms).fold(0.0, f64::max);
    let p99_start_lag_ms = lags.quantile(0.99).unwrap_or(0) as f64;

    let (mut ack, mut callback, mut e2e) = (Latencies::default(), Latencies::default(), Latencies::default());
    let mut retries = BTreeMap::new();
    let mut near_misses = BTreeMap::new();
    let mut integrity = Integrity::default();
    let mut flow = FlowControl::default();
    let mut first_not_acked = 0;
    let mut issued = 0;
    let mut code_owners: HashMap<&str, Vec<i64>> = HashMap::new();
    let mut calls: Vec<(i64, bool)> = Vec::new();
    for m in measures {
        let sec = second_of(m.scheduled_ms).min(seconds.saturating_sub(1));
        if let Some(ms) = m.ack_ms {
            ack.record(ms);
            if let Some(h) = series_ack.get_mut(sec) {
                h.record(ms);
            }
        }
        if let Some(ms) = m.callback_lag_ms {
            callback.record(ms);
            if let Some(h) = series_callback.get_mut(sec) {
                h.record(ms);
            }
        }
        if let Some(ms) = m.end_to_end_ms {
            e2e.record(ms);
        }
        if let Some(s) = series.get_mut(sec) {
            s.acked += u64::from(m.ack_ms.is_some());
            s.issued += u64::from(m.issued());
            s.errors += u64::from(m.first_attempt_failed);
        }
        if m.first_attempt_failed {
            first_not_acked += 1;
        }
        for reason in &m.retry_reasons {
            *retries.entry(reason.clone()).or_insert(0) += 1;
        }
        for miss in &m.near_misses {
            *near_misses.entry(miss.clone()).or_insert(0) += 1;
        }
        calls.extend(m.calls_ms.iter().map(|&t| (t, false)));
        calls.extend(m.limited_ms.iter().map(|&t| (t, true)));
        // Integrity.
        if m.issued() {
            issued += 1;
            let sum: u32 = m.codes.iter().map(|(_, n)| n).sum();
            if Some(sum) != m.num {
                integrity.wrong_code_sum.push(m.order_id);
            }
        } else if limits_set && m.blocked_by_flow_control() {
            flow.left_without_codes.push(m.order_id);
        } else {
            integrity.not_issued.push(m.order_id);
        }
        for (code, _) in &m.codes {
            code_owners.entry(code.as_str()).or_default().push(m.order_id);
        }
        if m.successful_sends > 1 {
            integrity.sent_twice.push(m.order_id);
        }
        if m.c4_violations > 0 {
            integrity.callback_before_ack.push(m.order_id);
        }
    }
    let mut shared: Vec<SharedCode> = code_owners
        .into_iter()
        .filter(|(_, owners)| owners.len() > 1)
        .map(|(code, order_ids)| SharedCode { code: code.to_owned(), order_ids })
        .collect();
    shared.sort_by(|a, b| a.code.cmp(&b.code));
    shared.truncate(LIST_CAP);
    integrity.shared_codes = shared;
    integrity.held = integrity.not_issued.count == 0
        && integrity.shared_codes.is_empty()
        && integrity.wrong_code_sum.count == 0
        && integrity.sent_twice.count == 0
        && integrity.callback_before_ack.count == 0;

    // `calls` holds every call once as (t, false) and the 7s once more as (t, true).
    let all_calls: Vec<i64> = {
        let mut v: Vec<i64> = calls.iter().filter(|(_, limited)| !limited).map(|(t, _)| *t).collect();
        v.sort_unstable();
        v
    };
    for &(t, limited) in &calls {
        if let Some(s) = series.get_mut(second_of(t).min(seconds.saturating_sub(1))) {
            if limited {
                s.limited += 1;
            } else {
                s.calls += 1;
            }
        }
    }
    flow.limited_calls = calls.iter().filter(|(_, limited)| *limited).count();
    flow_reaction(&mut flow, &all_calls, calls.iter().filter(|(_, l)| *l).map(|(t, _)| *t).min());

    for (i, s) in series.iter_mut().enumerate() {
        s.ack_p50_ms = series_ack[i].quantile(0.5);
        s.ack_p99_ms = series_ack[i].quantile(0.99);
        s.callback_p99_ms = series_callback[i].quantile(0.99);
    }

    let scheduled = buys.len();
    let errors = buy_failed + first_not_acked;
    let rate_pct = if scheduled == 0 { 0.0 } else { errors as f64 * 100.0 / scheduled as f64 };
    let ack_summary = ack.summary();
    let callback_summary = callback.summary();
    let thresholds = vec![
        threshold("ack_p99_ms", thresholds.max_ack_p99_ms as f64, ack_summary.p99.map(|v| v as f64)),
        threshold("callback_p99_ms", thresholds.max_callback_p99_ms as f64, callback_summary.p99.map(|v| v as f64)),
        threshold("error_rate_pct", thresholds.max_error_rate_pct, Some(rate_pct)),
    ];
    let held = integrity.held && !flow.hammering && thresholds.iter().all(|t| t.held);
    let bought = scheduled - buy_failed;
    StepReport {
        step: shape.step,
        rate_from: shape.rate_from,
        rate_to: shape.rate_to,
        duration_s: shape.duration_s,
        scheduled,
        bought,
        issued,
        achieved_rate: if shape.duration_s > 0.0 { bought as f64 / shape.duration_s } else { 0.0 },
        schedule: ScheduleKeeping {
            p99_start_lag_ms,
            max_start_lag_ms: (max_start_lag_ms * 10.0).round() / 10.0,
            behind: p99_start_lag_ms > 10.0 || max_start_lag_ms > 100.0,
        },
        ack_ms: ack_summary,
        callback_lag_ms: callback_summary,
        end_to_end_ms: e2e.summary(),
        errors: Errors { buy_failed, first_attempt_not_acked: first_not_acked, rate_pct, buy_failures },
        retries,
        near_misses,
        integrity,
        thresholds,
        flow_control: flow,
        time_series: series,
        held,
    }
}

/// A latency without samples breaks its threshold only when orders were bought (nothing was acknowledged).
fn threshold(name: &'static str, limit: f64, value: Option<f64>) -> ThresholdResult {
    ThresholdResult { name, limit, value, held: value.is_some_and(|v| v <= limit) }
}

/// The merchant's calls per second before its first 7 and after it.
fn flow_reaction(flow: &mut FlowControl, calls: &[i64], first_limited: Option<i64>) {
    let (Some(&first), Some(&last), Some(t7)) = (calls.first(), calls.last(), first_limited) else { return };
    let before = calls.iter().filter(|&&t| t < t7).count();
    let after = calls.len() - before;
    let per_s = |n: usize, from: i64, to: i64| n as f64 / (((to - from) as f64) / 1000.0).max(1.0);
    let rate_before = per_s(before, first, t7);
    let rate_after = per_s(after, t7, last);
    flow.first_limited_after_s = Some((t7 - first) as f64 / 1000.0);
    flow.calls_per_s_before = Some((rate_before * 10.0).round() / 10.0);
    flow.calls_per_s_after = Some((rate_after * 10.0).round() / 10.0);
    flow.hammering = after >= HAMMERING_MIN_CALLS && rate_after >= HAMMERING_RATIO * rate_before;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(id: i64, codes: &[&str]) -> OrderMeasure {
        OrderMeasure {
            order_id: id,
            scheduled_ms: 1000 + id * 10,
            ack_ms: Some(20),
            callback_lag_ms: Some(30),
            end_to_end_ms: Some(60),
            successful_sends: 1,
            state: Some("ISSUED".into()),
            num: Some(codes.len() as u32),
            codes: codes.iter().map(|c| ((*c).to_owned(), 1)).collect(),
            ..Default::default()
        }
    }

    fn buys(n: i64) -> Vec<Buy> {
        (0..n).map(|id| Buy { stage: 0, scheduled_ms: 1000 + id * 10, start_lag_ms: 0.0, result: Ok(id) }).collect()
    }

    const SHAPE: StepShape = StepShape { step: 0, rate_from: 100.0, rate_to: 100.0, duration_s: 1.0 };

    #[test]
    fn a_clean_step_holds_and_a_code_on_two_orders_breaks_integrity() {
        let good = [measure(0, &["a"]), measure(1, &["b"])];
        let report = judge(SHAPE, &buys(2), &good, Thresholds::default(), false);
        assert!(report.held && report.integrity.held, "{report:?}");
        assert_eq!(report.ack_ms.p99, Some(20));
        let bad = [measure(0, &["a"]), measure(1, &["a"])];
        let report = judge(SHAPE, &buys(2), &bad, Thresholds::default(), false);
        assert!(!report.held);
        assert_eq!(report.integrity.shared_codes[0].order_ids, [0, 1]);
    }

    #[test]
    fn an_order_left_without_codes_breaks_integrity_but_only_a_wrong_one_breaks_it_under_overload() {
        let mut late = measure(1, &[]);
        late.state = Some("NOTIFIED".into());
        let report = judge(SHAPE, &buys(2), &[measure(0, &["a"]), late], Thresholds::default(), false);
        assert!(!report.integrity.held && report.integrity.held_but_for_late_orders());
        assert_eq!(report.integrity.not_issued.order_ids, [1]);
        let twice = OrderMeasure { successful_sends: 2, ..measure(0, &["a"]) };
        let report = judge(SHAPE, &buys(1), &[twice], Thresholds::default(), false);
        assert!(!report.integrity.held_but_for_late_orders());
    }

    #[test]
    fn slow_acks_break_the_threshold_but_not_integrity() {
        let mut slow = measure(0, &["a"]);
        slow.ack_ms = Some(4000);
        let report = judge(SHAPE, &buys(1), &[slow], Thresholds::default(), false);
        assert!(report.integrity.held && !report.held);
        assert!(!report.thresholds[0].held && report.thresholds[1].held);
    }

    #[test]
    fn calling_on_at_the_same_rate_after_error_7_is_hammering() {
        let mut flow = FlowControl::default();
        let calls: Vec<i64> = (0..100).map(|i| i * 100).collect();
        flow_reaction(&mut flow, &calls, Some(5000));
        assert!(flow.hammering);
        let mut calm = FlowControl::default();
        let backed_off: Vec<i64> = (0..50).map(|i| i * 100).chain([9000, 20000]).collect();
        flow_reaction(&mut calm, &backed_off, Some(4900));
        assert!(!calm.hammering);
    }
}
