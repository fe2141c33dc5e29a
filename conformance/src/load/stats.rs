//! Latency summaries of `conformance load`: `hdrhistogram` recorders and the percentiles the report shows.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The highest latency a histogram keeps exactly: one hour in ms (longer values are clamped to it).
const MAX_MS: u64 = 3_600_000;

/// A millisecond latency histogram.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, MAX_MS, 3).expect("static bounds are valid"))
    }
}

impl Latencies {
    /// Records one latency in ms; negative values (clock granularity on loopback) count as 0.
    pub fn record(&mut self, ms: i64) {
        let value = (ms.max(0) as u64).clamp(0, MAX_MS);
        // `saturating_record` clamps to the histogram's range, so nothing is ever lost.
        self.0.saturating_record(value);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at `q` (0.0–1.0), `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        (!self.0.is_empty()).then(|| self.0.value_at_quantile(q))
    }

    pub fn summary(&self) -> Percentiles {
        let at = |q| self.quantile(q);
        Percentiles {
            count: self.0.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: (!self.0.is_empty()).then(|| self.0.max()),
            mean: (!self.0.is_empty()).then(|| (self.0.mean() * 10.0).round() / 10.0),
        }
    }
}

/// What the report shows of one latency (ms); all `null` without samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub p999: Option<u64>,
    pub max: Option<u64>,
    pub mean: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_values() {
        let mut h = Latencies::default();
        for ms in 1..=1000 {
            h.record(ms);
        }
        h.record(-3);
        let s = h.summary();
        assert_eq!(s.count, 1001);
        assert_eq!(s.p50, Some(500));
        assert_eq!(s.p99, Some(990));
        assert_eq!(s.max, Some(1000));
        assert_eq!(Latencies::default().summary(), Percentiles::default());
    }
}
