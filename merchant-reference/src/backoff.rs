//! How long to wait before retrying a callback: capped exponential backoff with jitter.
//!
//! The first retries are fast (≈200 ms, 400 ms, 800 ms…) because a transient gateway error usually
//! clears within a second and the platform closes an order two hours after payment without codes
//! (FAQ 2.9); the cap (5 s) keeps a long outage from stretching the gaps to minutes. Jitter (each
//! delay drawn between half and all of its nominal value) keeps many orders that failed together from
//! retrying in lockstep.

use std::time::Duration;

use rand::Rng;

/// Nominal delay before the first retry.
pub const FIRST: Duration = Duration::from_millis(200);
/// Longest nominal delay.
pub const CAP: Duration = Duration::from_secs(5);

/// The delay before retry number `attempt` (1 = the first retry).
pub fn delay(attempt: u32, rng: &mut impl Rng) -> Duration {
    let nominal = FIRST.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(CAP);
    let half = nominal / 2;
    half + half.mul_f64(rng.random::<f64>())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn delays_double_from_200_ms_and_stop_at_5_s() {
        let mut rng = StdRng::seed_from_u64(1);
        let nominal = [200, 400, 800, 1600, 3200, 5000, 5000];
        for (i, ms) in nominal.into_iter().enumerate() {
            let d = delay(i as u32 + 1, &mut rng);
            let ms = Duration::from_millis(ms);
            assert!(d >= ms / 2 && d <= ms, "attempt {}: {d:?}", i + 1);
        }
        assert!(delay(u32::MAX, &mut rng) <= CAP);
    }
}
