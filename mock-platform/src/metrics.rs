//! `GET /metrics`: the platform's counters, latency histograms and queue gauges in the Prometheus text format
//! 0.0.4 (INTERFACES.md §1).
//!
//! Counting sits on the gateway's hot path, so it is cheap: plain atomics for fixed label sets, and one small
//! mutex-guarded map per concern (held for a lookup and a few adds) for the label values only known at run time.
//! Label values are from bounded sets (known API names, error codes, methods, verdicts) so no caller can grow the
//! maps. The histograms are hand-written (fixed buckets, `_bucket`/`_sum`/`_count`): no metrics crate is in the
//! tree, and rendering one is a dozen lines.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::Platform;

/// Why a gateway call naming an order was not recorded against it (INTERFACES §1 "Recorded exchanges").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrecorded {
    /// The call's `app_key` is not a registered app.
    UnknownApp,
    /// The order belongs to another app's merchant.
    OtherMerchant,
    /// No order has that id.
    NoSuchOrder,
}

impl Unrecorded {
    const ALL: [Unrecorded; 3] = [Unrecorded::UnknownApp, Unrecorded::OtherMerchant, Unrecorded::NoSuchOrder];

    pub fn as_str(self) -> &'static str {
        match self {
            Unrecorded::UnknownApp => "unknown_app",
            Unrecorded::OtherMerchant => "other_merchant",
            Unrecorded::NoSuchOrder => "no_such_order",
        }
    }
}

/// Upper bounds in seconds of the latency histograms' buckets (`+Inf` is implied): a loopback gateway call takes
/// well under a millisecond, a merchant's answer up to the 5 s notification deadline.
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A latency histogram: observations per bucket (not cumulative; rendered cumulative), their sum and count.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    /// Microseconds: an integer sum does not drift as a float one would over millions of adds.
    sum_us: u64,
    count: u64,
}

impl Histogram {
    pub fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        // The first bucket whose bound is at or above the value; past the last, only `+Inf` counts it.
        let index = LATENCY_BUCKETS.partition_point(|le| *le < seconds);
        if let Some(bucket) = self.buckets.get_mut(index) {
            *bucket += 1;
        }
        self.sum_us = self.sum_us.saturating_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        self.count += 1;
    }

    /// The sample lines of one labelled series: `labels` is `name="value"` without braces.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (le, n) in LATENCY_BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_us as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// What `GET /metrics` reads from the store at scrape time (not counted on the hot path). On a shared store they
/// count every replica's; `None` when the store did not answer (the gauge is left out of the scrape).
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Auto-closes (T4) this process fired (a counter read from the store).
    pub closes_fired: u64,
    /// Notifications queued on orders, not yet acknowledged or given up (the ones being attempted included).
    pub queued: Option<u64>,
    /// Notification attempts whose request is out and whose outcome is not recorded yet.
    pub in_flight: Option<u64>,
}

/// The counters. One per platform, shared by every handler.
#[derive(Debug, Default)]
pub struct Metrics {
    unrecorded: [AtomicU64; 3],
    /// Exchanges not kept (older gateway calls past an order's cap, notifications past the order's cap).
    dropped: AtomicU64,
    /// Delivery leases lost before the attempt's outcome was written. Always 0 until the PostgreSQL store exists
    /// (INTERFACES §1.2): in one process an attempt cannot lose its delivery to another replica.
    leases_lost: AtomicU64,
    gateway_calls: Mutex<GatewayStats>,
    attempts: Mutex<AttemptStats>,
}

#[derive(Debug, Default)]
struct GatewayStats {
    /// (API name or `other`, error code or 0) → calls.
    by_code: BTreeMap<(&'static str, i64), u64>,
    /// API name or `other` → latency from the request's arrival to its answer.
    latency: BTreeMap<&'static str, Histogram>,
}

#[derive(Debug, Default)]
struct AttemptStats {
    /// (notification method, verdict) → attempts.
    by_verdict: BTreeMap<(&'static str, &'static str), u64>,
    /// Notification method → latency of the HTTP exchange with the merchant (up to the deadline).
    latency: BTreeMap<&'static str, Histogram>,
}

impl Metrics {
    pub fn unrecorded(&self, why: Unrecorded) {
        self.unrecorded[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn unrecorded_count(&self, why: Unrecorded) -> u64 {
        self.unrecorded[why as usize].load(Ordering::Relaxed)
    }

    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A delivery lease lost (the PostgreSQL store's settle found another holder or an expired lease).
    pub fn lease_lost(&self) {
        self.leases_lost.fetch_add(1, Ordering::Relaxed);
    }

    /// A gateway call answered after `elapsed`: `api` is the API's name when the gateway serves it (else
    /// `other`), `code` the error code (0 for a success).
    pub fn gateway_call(&self, api: Option<&'static str>, code: i64, elapsed: Duration) {
        let api = api.unwrap_or("other");
        let mut calls = self.gateway_calls.lock().unwrap_or_else(|e| e.into_inner());
        *calls.by_code.entry((api, code)).or_default() += 1;
        calls.latency.entry(api).or_default().observe(elapsed);
    }

    /// A notification attempt finished with `verdict` after `elapsed` on the wire.
    pub fn notification_attempt(&self, method: &'static str, verdict: &'static str, elapsed: Duration) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        *attempts.by_verdict.entry((method, verdict)).or_default() += 1;
        attempts.latency.entry(method).or_default().observe(elapsed);
    }

    /// The text exposition (format 0.0.4), with the gauges read from the store.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        counter(
            &mut out,
            "mock_platform_gateway_calls_unrecorded_total",
            "Gateway calls naming an order that were not recorded against it, by reason.",
        );
        for why in Unrecorded::ALL {
            let _ = writeln!(
                out,
                "mock_platform_gateway_calls_unrecorded_total{{reason=\"{}\"}} {}",
                why.as_str(),
                self.unrecorded_count(why)
            );
        }
        counter(&mut out, "mock_platform_exchanges_dropped_total", "Exchanges not kept past an order's cap.");
        let _ = writeln!(out, "mock_platform_exchanges_dropped_total {}", self.dropped.load(Ordering::Relaxed));
        counter(
            &mut out,
            "mock_platform_gateway_calls_total",
            "Gateway calls answered, by API and error code (0: success).",
        );
        let (calls, call_latency) = {
            let stats = self.gateway_calls.lock().unwrap_or_else(|e| e.into_inner());
            (stats.by_code.clone(), stats.latency.clone())
        };
        for ((api, code), n) in calls {
            let _ = writeln!(out, "mock_platform_gateway_calls_total{{api=\"{api}\",code=\"{code}\"}} {n}");
        }
        counter(&mut out, "mock_platform_notification_attempts_total", "Notification attempts, by method and verdict.");
        let (attempts, attempt_latency) = {
            let stats = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            (stats.by_verdict.clone(), stats.latency.clone())
        };
        for ((method, verdict), n) in attempts {
            let _ = writeln!(
                out,
                "mock_platform_notification_attempts_total{{method=\"{method}\",verdict=\"{verdict}\"}} {n}"
            );
        }
        let name = "mock_platform_gateway_call_duration_seconds";
        header(&mut out, name, "Gateway call latency from the request's arrival to its answer, by API.", "histogram");
        for (api, histogram) in call_latency {
            histogram.render(&mut out, name, &format!("api=\"{api}\""));
        }
        let name = "mock_platform_notification_attempt_duration_seconds";
        header(
            &mut out,
            name,
            "Notification attempt latency (the HTTP exchange with the merchant), by method.",
            "histogram",
        );
        for (method, histogram) in attempt_latency {
            histogram.render(&mut out, name, &format!("method=\"{method}\""));
        }
        if let Some(queued) = gauges.queued {
            let name = "mock_platform_notifications_queued";
            header(&mut out, name, "Notifications queued on orders, not yet acknowledged or given up.", "gauge");
            let _ = writeln!(out, "{name} {queued}");
        }
        if let Some(in_flight) = gauges.in_flight {
            let name = "mock_platform_notification_attempts_in_flight";
            header(
                &mut out,
                name,
                "Notification attempts whose request is out and whose outcome is not recorded.",
                "gauge",
            );
            let _ = writeln!(out, "{name} {in_flight}");
        }
        counter(&mut out, "mock_platform_auto_closes_total", "Orders auto-closed (T4) by this process.");
        let _ = writeln!(out, "mock_platform_auto_closes_total {}", gauges.closes_fired);
        counter(
            &mut out,
            "mock_platform_leases_lost_total",
            "Delivery leases lost before the attempt's outcome was written (always 0 in process: only a shared store's leases expire).",
        );
        let _ = writeln!(out, "mock_platform_leases_lost_total {}", self.leases_lost.load(Ordering::Relaxed));
        out
    }
}

fn counter(out: &mut String, name: &str, help: &str) {
    header(out, name, help, "counter");
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// `GET /metrics`. The queue depth is counted over the orders at scrape time (a scan under the store's lock,
/// about a millisecond per 100,000 orders), so the hot paths keep no gauge up to date.
pub async fn serve(State(platform): State<Platform>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    let queued = platform.store().queued_notifications().await.ok();
    let in_flight = platform.store().attempts_open().await.ok();
    let closes_fired = platform.store().closes_fired();
    let text = platform.metrics().render(Gauges { closes_fired, queued, in_flight });
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_line_is_a_name_labels_and_a_number_after_its_help_and_type() {
        let m = Metrics::default();
        m.unrecorded(Unrecorded::UnknownApp);
        m.unrecorded(Unrecorded::UnknownApp);
        m.dropped();
        m.gateway_call(Some("taobao.vmarket.eticket.send"), 0, Duration::from_micros(300));
        m.gateway_call(None, 29, Duration::from_millis(2));
        m.notification_attempt("send", "ack_200", Duration::from_millis(20));
        let text = m.render(Gauges { closes_fired: 2, queued: Some(3), in_flight: Some(1) });
        assert!(text.contains("mock_platform_gateway_calls_unrecorded_total{reason=\"unknown_app\"} 2\n"), "{text}");
        assert!(text.contains("mock_platform_exchanges_dropped_total 1\n"), "{text}");
        assert!(text.contains("mock_platform_gateway_calls_total{api=\"other\",code=\"29\"} 1\n"), "{text}");
        assert!(text.contains("{method=\"send\",verdict=\"ack_200\"} 1\n"), "{text}");
        assert!(text.contains("mock_platform_notifications_queued 3\n"), "{text}");
        assert!(text.contains("mock_platform_notification_attempts_in_flight 1\n"), "{text}");
        assert!(text.contains("# TYPE mock_platform_leases_lost_total counter\nmock_platform_leases_lost_total 0\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok() && !series.contains(' '), "{line}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let mut h = Histogram::default();
        for ms in [0, 1, 3, 3, 40, 20_000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut out = String::new();
        h.render(&mut out, "x", "api=\"a\"");
        let value = |series: &str| -> f64 {
            let line = out.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("{series}: {out}"));
            line.rsplit_once(' ').unwrap().1.parse().unwrap()
        };
        assert_eq!(value("x_bucket{api=\"a\",le=\"0.0005\"}"), 1.0);
        assert_eq!(value("x_bucket{api=\"a\",le=\"0.001\"}"), 2.0, "a bound is inclusive");
        assert_eq!(value("x_bucket{api=\"a\",le=\"0.005\"}"), 4.0);
        assert_eq!(value("x_bucket{api=\"a\",le=\"0.05\"}"), 5.0);
        assert_eq!(value("x_bucket{api=\"a\",le=\"10\"}"), 5.0, "20 s is past the last bound");
        assert_eq!(value("x_bucket{api=\"a\",le=\"+Inf\"}"), 6.0);
        assert_eq!(value("x_count{api=\"a\"}"), 6.0);
        assert!((value("x_sum{api=\"a\"}") - 20.047).abs() < 1e-9, "{out}");
        let bounds: Vec<&str> = out.lines().filter_map(|l| l.split("le=\"").nth(1)?.split('"').next()).collect();
        assert_eq!(bounds.len(), LATENCY_BUCKETS.len() + 1);
    }
}
