//! The load report (`conformance-load/1`, documented in conformance/README.md): JSON as written, and the
//! terminal summary printed at the end.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::judge::{StepReport, Thresholds};

/// The schema name and version of the JSON report; bump the number on an incompatible change.
pub const SCHEMA: &str = "conformance-load/1";

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub schema: &'static str,
    pub merchant_url: String,
    /// `in-process` or the remote platform's URL.
    pub platform: String,
    pub app_key: String,
    pub started_at: String,
    pub rate: f64,
    pub ramp_to: Option<f64>,
    pub duration_s: f64,
    pub num: u32,
    pub drain_window_s: f64,
    pub daily_quota: Option<u32>,
    pub calls_per_second: Option<u32>,
    pub thresholds: Thresholds,
    /// Present with `--find-max`.
    pub find_max: Option<FindMax>,
    /// One step without `--find-max`; one per rate with it.
    pub steps: Vec<StepReport>,
    /// The exit-0 condition (INTERFACES §2).
    pub passed: bool,
}

/// The outcome of `--find-max`.
#[derive(Debug, Clone, Serialize)]
pub struct FindMax {
    /// The highest rate whose step held every threshold (none if the first step broke).
    pub held_rate: Option<f64>,
    /// The first rate that did not hold, and what broke.
    pub broke_rate: Option<f64>,
    pub broke: Vec<String>,
}

/// What broke in a step: thresholds by name, `integrity`, `hammering`.
pub fn broken(step: &StepReport) -> Vec<String> {
    let mut out: Vec<String> = step
        .thresholds
        .iter()
        .filter(|t| !t.held)
        .map(|t| match t.value {
            Some(v) => format!("{} {v:.1} > {}", t.name, t.limit),
            None => format!("{} (no sample)", t.name),
        })
        .collect();
    if !step.integrity.held {
        out.push("integrity".into());
    }
    if step.flow_control.hammering {
        out.push("hammering".into());
    }
    out
}

pub fn write_json(path: &Path, report: &LoadReport) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    write_file(path, text.as_bytes())
}

pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)
}

/// The summary a person reads at the end of a run.
pub fn print_summary(out: &mut dyn Write, report: &LoadReport) -> std::io::Result<()> {
    let ms = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{v} ms"));
    for step in &report.steps {
        let rate = if step.rate_from == step.rate_to {
            format!("{:.1}/s", step.rate_from)
        } else {
            format!("{:.1}→{:.1}/s", step.rate_from, step.rate_to)
        };
        writeln!(
            out,
            "step {} at {rate} for {:.0} s: {} scheduled, {} bought ({:.1}/s), {} issued — {}",
            step.step,
            step.duration_s,
            step.scheduled,
            step.bought,
            step.achieved_rate,
            step.issued,
            if step.held { "held" } else { "BROKE" }
        )?;
        for (name, p) in
            [("ack", &step.ack_ms), ("callback lag", &step.callback_lag_ms), ("end to end", &step.end_to_end_ms)]
        {
            writeln!(
                out,
                "  {name:<13} p50 {} p90 {} p99 {} p99.9 {} max {}",
                ms(p.p50),
                ms(p.p90),
                ms(p.p99),
                ms(p.p999),
                ms(p.max)
            )?;
        }
        writeln!(
            out,
            "  errors {:.3} % ({} purchases failed, {} first attempts not acknowledged)",
            step.errors.rate_pct, step.errors.buy_failed, step.errors.first_attempt_not_acked
        )?;
        if step.schedule.behind {
            writeln!(
                out,
                "  the tool fell behind its schedule (start lag p99 {:.0} ms, max {:.0} ms): latencies include its delay",
                step.schedule.p99_start_lag_ms, step.schedule.max_start_lag_ms
            )?;
        }
        if !step.retries.is_empty() {
            writeln!(out, "  retries: {:?}", step.retries)?;
        }
        let i = &step.integrity;
        if !i.held {
            writeln!(
                out,
                "  INTEGRITY: {} not issued, {} codes on several orders, {} wrong code sums, {} sent twice, {} callbacks before their ack",
                i.not_issued.count,
                i.shared_codes.len(),
                i.wrong_code_sum.count,
                i.sent_twice.count,
                i.callback_before_ack.count
            )?;
        }
        let f = &step.flow_control;
        if f.limited_calls > 0 {
            writeln!(
                out,
                "  flow control: {} calls answered 7; calls/s before {:?}, after {:?}{}; {} orders left without codes",
                f.limited_calls,
                f.calls_per_s_before,
                f.calls_per_s_after,
                if f.hammering { " — HAMMERING" } else { "" },
                f.left_without_codes.count
            )?;
        }
        for t in step.thresholds.iter().filter(|t| !t.held) {
            writeln!(out, "  threshold {} broke: {:?} > {}", t.name, t.value, t.limit)?;
        }
    }
    if let Some(fm) = &report.find_max {
        writeln!(
            out,
            "find-max: highest rate that held {}, first that did not {} ({})",
            fm.held_rate.map_or("none".to_owned(), |r| format!("{r:.1}/s")),
            fm.broke_rate.map_or("none".to_owned(), |r| format!("{r:.1}/s")),
            fm.broke.join(", ")
        )?;
    }
    writeln!(out, "{}", if report.passed { "load: PASSED" } else { "load: FAILED" })
}
