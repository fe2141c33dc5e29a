//! The open-model arrival schedule of `conformance load`: when each order is bought, fixed before the run
//! starts and never adjusted to how fast the merchant answers (no coordinated omission).

use std::time::Duration;

/// One step of the run at a constant or linearly ramping rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Orders per second at the start of the stage.
    pub from_rate: f64,
    /// Orders per second at its end (equal to `from_rate` without a ramp).
    pub to_rate: f64,
    pub duration: Duration,
}

impl Stage {
    /// How many orders the stage buys: the integral of its rate, rounded down.
    pub fn orders(&self) -> usize {
        let total = self.duration.as_secs_f64() * (self.from_rate + self.to_rate) / 2.0;
        total.floor().max(0.0) as usize
    }

    /// The offset from the stage's start of order `n` (0-based): the time at which the integral of the rate
    /// reaches `n`, so arrivals follow the rate exactly, ramp included.
    pub fn offset_of(&self, n: usize) -> Duration {
        let n = n as f64;
        let d = self.duration.as_secs_f64();
        let (r0, r1) = (self.from_rate, self.to_rate);
        let slope = if d > 0.0 { (r1 - r0) / d } else { 0.0 };
        let t = if slope.abs() < 1e-12 {
            n / r0
        } else {
            // r0·t + slope·t²/2 = n  →  t = (−r0 + √(r0² + 2·slope·n)) / slope
            (-r0 + (r0 * r0 + 2.0 * slope * n).max(0.0).sqrt()) / slope
        };
        Duration::from_secs_f64(t.clamp(0.0, d))
    }

    /// The rate `t` into the stage.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let d = self.duration.as_secs_f64();
        if d <= 0.0 {
            return self.from_rate;
        }
        self.from_rate + (self.to_rate - self.from_rate) * (t.as_secs_f64() / d).clamp(0.0, 1.0)
    }
}

/// `--find-max`: each step lasts this long…
pub const FIND_MAX_STEP: Duration = Duration::from_secs(10);
/// …and buys at this many times the previous step's rate.
pub const FIND_MAX_FACTOR: f64 = 1.5;
/// A search that never breaks a threshold stops after this many steps (50 × 1.5^19 ≈ 110,000 orders/s).
pub const FIND_MAX_STEPS: usize = 20;

/// The rate of `--find-max` step `k` (0-based) from a starting rate.
pub fn find_max_rate(start: f64, k: usize) -> f64 {
    start * FIND_MAX_FACTOR.powi(k as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_spaces_orders_evenly_and_buys_rate_times_duration() {
        let stage = Stage { from_rate: 50.0, to_rate: 50.0, duration: Duration::from_secs(30) };
        assert_eq!(stage.orders(), 1500);
        assert_eq!(stage.offset_of(0), Duration::ZERO);
        assert_eq!(stage.offset_of(1), Duration::from_millis(20));
        assert_eq!(stage.offset_of(1499), Duration::from_secs_f64(1499.0 / 50.0));
    }

    #[test]
    fn a_ramp_buys_its_integral_and_orders_come_closer_as_the_rate_grows() {
        let stage = Stage { from_rate: 10.0, to_rate: 30.0, duration: Duration::from_secs(10) };
        assert_eq!(stage.orders(), 200);
        let gaps: Vec<f64> = (1..200).map(|n| (stage.offset_of(n) - stage.offset_of(n - 1)).as_secs_f64()).collect();
        assert!(gaps.windows(2).all(|w| w[1] <= w[0] + 1e-9), "gaps shrink");
        assert!((gaps[0] - 0.1).abs() < 0.01 && (gaps[198] - 1.0 / 30.0).abs() < 0.005);
        // Half the orders arrive at the time the integral reaches half of 200.
        let half = stage.offset_of(100).as_secs_f64();
        assert!((10.0 * half + half * half - 100.0).abs() < 1e-6);
        assert!(stage.offset_of(199) <= stage.duration);
    }

    #[test]
    fn a_ramp_down_is_an_arrival_schedule_too() {
        let stage = Stage { from_rate: 30.0, to_rate: 10.0, duration: Duration::from_secs(10) };
        assert_eq!(stage.orders(), 200);
        assert!((1..200).all(|n| stage.offset_of(n) > stage.offset_of(n - 1)));
        assert_eq!(stage.rate_at(Duration::from_secs(5)), 20.0);
    }

    #[test]
    fn find_max_steps_multiply_the_rate() {
        assert_eq!(find_max_rate(100.0, 0), 100.0);
        assert_eq!(find_max_rate(100.0, 2), 225.0);
    }
}
