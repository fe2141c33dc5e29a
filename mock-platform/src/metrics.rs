//! `GET /metrics`: the platform's counters in the Prometheus text format 0.0.4 (INTERFACES.md §1).
//!
//! Counting sits on the gateway's hot path, so it is cheap: plain atomics for fixed label sets, and one small
//! mutex-guarded map (held for a hash and an add) for the label pairs only known at run time. Label values are
//! from bounded sets (known API names, error codes, methods, verdicts) so no caller can grow the maps.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The counters. One per platform, shared by every handler.
#[derive(Debug, Default)]
pub struct Metrics {
    unrecorded: [AtomicU64; 3],
    /// Exchanges not kept (older gateway calls past an order's cap, notifications past the order's cap).
    dropped: AtomicU64,
    /// (API name or `other`, error code or 0) → calls.
    gateway_calls: Mutex<BTreeMap<(&'static str, i64), u64>>,
    /// (notification method, verdict) → attempts.
    attempts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
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

    /// A gateway call answered: `api` is the API's name when the gateway serves it (else `other`), `code` the
    /// error code (0 for a success).
    pub fn gateway_call(&self, api: Option<&'static str>, code: i64) {
        let mut calls = self.gateway_calls.lock().unwrap_or_else(|e| e.into_inner());
        *calls.entry((api.unwrap_or("other"), code)).or_default() += 1;
    }

    pub fn notification_attempt(&self, method: &'static str, verdict: &'static str) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        *attempts.entry((method, verdict)).or_default() += 1;
    }

    /// The text exposition (format 0.0.4).
    pub fn render(&self) -> String {
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
        let calls = self.gateway_calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for ((api, code), n) in calls {
            let _ = writeln!(out, "mock_platform_gateway_calls_total{{api=\"{api}\",code=\"{code}\"}} {n}");
        }
        counter(&mut out, "mock_platform_notification_attempts_total", "Notification attempts, by method and verdict.");
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for ((method, verdict), n) in attempts {
            let _ = writeln!(
                out,
                "mock_platform_notification_attempts_total{{method=\"{method}\",verdict=\"{verdict}\"}} {n}"
            );
        }
        out
    }
}

fn counter(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

/// `GET /metrics`.
pub async fn serve(State(platform): State<Platform>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], platform.metrics().render()).into_response()
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
        m.gateway_call(Some("taobao.vmarket.eticket.send"), 0);
        m.gateway_call(None, 29);
        m.notification_attempt("send", "ack_200");
        let text = m.render();
        assert!(text.contains("mock_platform_gateway_calls_unrecorded_total{reason=\"unknown_app\"} 2\n"), "{text}");
        assert!(text.contains("mock_platform_exchanges_dropped_total 1\n"), "{text}");
        assert!(text.contains("mock_platform_gateway_calls_total{api=\"other\",code=\"29\"} 1\n"), "{text}");
        assert!(text.contains("{method=\"send\",verdict=\"ack_200\"} 1\n"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<u64>().is_ok() && !series.contains(' '), "{line}");
        }
    }
}
