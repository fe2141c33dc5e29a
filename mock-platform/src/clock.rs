//! The platform clock (order state) and the wall clock (notification timestamps, 10-minute windows).
//!
//! PROTOCOL §2.2: the order clock is the wall clock plus an offset the admin API moves forward; it drives
//! validity, auto-close, retry due times and the daily call count. Timestamps on the wire are always the
//! wall clock, so a merchant's own clock stays valid however far the suite has advanced the platform.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, Duration, Utc};
use protocol::Gmt8Timestamp;

/// A source of real time; tests inject a fixed or stepped one.
pub type WallClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system wall clock.
pub fn system_wall_clock() -> WallClock {
    Arc::new(Utc::now)
}

/// The largest single `POST /admin/clock` advance: 10 years in seconds (INTERFACES §1).
pub const MAX_ADVANCE_SECONDS: u64 = 315_360_000;

/// The largest total offset: 1,000 years. However often the clock is advanced, the order clock stays a
/// four-digit year well inside chrono's range, so no time arithmetic or formatting can overflow.
pub const MAX_OFFSET_MS: i64 = 1_000 * 365 * 86_400_000;

/// Wall clock plus an offset that only grows, up to [`MAX_OFFSET_MS`].
#[derive(Clone)]
pub struct PlatformClock {
    wall: WallClock,
    /// Milliseconds added to the wall clock. Atomic because every request reads it and only the admin API writes it.
    offset_ms: Arc<AtomicI64>,
}

impl std::fmt::Debug for PlatformClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformClock").field("offset_ms", &self.offset_ms.load(Ordering::Relaxed)).finish()
    }
}

impl PlatformClock {
    pub fn new(wall: WallClock) -> Self {
        Self { wall, offset_ms: Arc::new(AtomicI64::new(0)) }
    }

    /// Real time: notification timestamps, the gateway's 10-minute window, deadlines.
    pub fn wall_now(&self) -> DateTime<Utc> {
        (self.wall)()
    }

    /// The order clock. The offset is bounded, so this only saturates for a wall clock near chrono's limits.
    pub fn now(&self) -> DateTime<Utc> {
        let wall = self.wall_now();
        wall.checked_add_signed(Duration::milliseconds(self.offset_ms())).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The order clock in epoch milliseconds (how the store keeps times).
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Sets the offset (used when a persisted store is reopened); never moves the clock back, never past
    /// [`MAX_OFFSET_MS`].
    pub fn restore_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.fetch_max(offset_ms.clamp(0, MAX_OFFSET_MS), Ordering::SeqCst);
    }

    /// Seconds the clock may still be advanced before its offset reaches [`MAX_OFFSET_MS`].
    pub fn headroom_seconds(&self) -> u64 {
        u64::try_from((MAX_OFFSET_MS - self.offset_ms()) / 1000).unwrap_or(0)
    }

    /// Moves the order clock forward, saturating at [`MAX_OFFSET_MS`]; returns the new order time.
    pub fn advance(&self, seconds: u64) -> DateTime<Utc> {
        let ms = i64::try_from(seconds).unwrap_or(i64::MAX).saturating_mul(1000);
        let step = |offset: i64| Some(offset.saturating_add(ms).min(MAX_OFFSET_MS));
        // The closure never answers None, so the update always happens.
        let _ = self.offset_ms.fetch_update(Ordering::SeqCst, Ordering::SeqCst, step);
        self.now()
    }
}

/// Formats epoch milliseconds as `yyyy-MM-dd HH:mm:ss` GMT+8.
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| Gmt8Timestamp::from_utc(t).format()).unwrap_or_default()
}

/// Parses `yyyy-MM-dd HH:mm:ss` GMT+8 into epoch milliseconds.
pub fn parse_ms(text: &str) -> Option<i64> {
    Gmt8Timestamp::parse_datetime(text).ok().map(Gmt8Timestamp::epoch_millis)
}

/// The GMT+8 day number of an instant (days since the epoch), for the daily quota.
pub fn gmt8_day(ms: i64) -> i64 {
    (ms + 8 * 3_600_000).div_euclid(86_400_000)
}

/// Seconds from `ms` to the next midnight GMT+8 (error 7's sub_msg).
pub fn seconds_to_gmt8_midnight(ms: i64) -> i64 {
    let next = (gmt8_day(ms) + 1) * 86_400_000 - 8 * 3_600_000;
    (next - ms + 999) / 1000
}

/// Today 00:00:00 GMT+8 on the order clock, in epoch milliseconds.
pub fn gmt8_midnight_ms(ms: i64) -> i64 {
    gmt8_day(ms) * 86_400_000 - 8 * 3_600_000
}

/// The ISO weekday (1 = Monday) of an instant in GMT+8.
pub fn gmt8_weekday(ms: i64) -> u32 {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| Gmt8Timestamp::from_utc(t).naive().weekday().number_from_monday())
        .unwrap_or(1)
}

/// `ms` rendered as an RFC 3339 UTC string with milliseconds (exchange records).
pub fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// 23:59:59 GMT+8 of the day `days` after the day of `ms`.
pub fn end_of_day_after(ms: i64, days: i64) -> i64 {
    gmt8_midnight_ms(ms) + days * 86_400_000 + 86_399_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &str) -> WallClock {
        let t = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        Arc::new(move || t)
    }

    #[test]
    fn advancing_moves_the_order_clock_but_not_the_wall_clock() {
        let clock = PlatformClock::new(fixed("2026-01-01T00:00:00Z"));
        clock.advance(7200);
        assert_eq!(format_ms(clock.now_ms()), "2026-01-01 10:00:00");
        assert_eq!(Gmt8Timestamp::from_utc(clock.wall_now()).format(), "2026-01-01 08:00:00");
    }

    #[test]
    fn the_offset_saturates_at_its_bound_whatever_is_added() {
        let clock = PlatformClock::new(fixed("2026-01-01T00:00:00Z"));
        for seconds in [u64::MAX, i64::MAX as u64, MAX_ADVANCE_SECONDS, 1] {
            clock.advance(seconds);
        }
        assert_eq!(clock.offset_ms(), MAX_OFFSET_MS);
        assert_eq!(clock.headroom_seconds(), 0);
        assert!(format_ms(clock.now_ms()).starts_with("3025-"), "{}", format_ms(clock.now_ms()));
        clock.restore_offset_ms(i64::MAX);
        assert_eq!(clock.offset_ms(), MAX_OFFSET_MS);
    }

    #[test]
    fn midnight_and_day_boundaries_are_gmt8() {
        let ms = parse_ms("2026-01-01 23:59:00").unwrap();
        assert_eq!(seconds_to_gmt8_midnight(ms), 60);
        assert_eq!(format_ms(gmt8_midnight_ms(ms)), "2026-01-01 00:00:00");
        assert_eq!(format_ms(end_of_day_after(ms, 30)), "2026-01-31 23:59:59");
        assert_eq!(gmt8_weekday(ms), 4);
    }
}
