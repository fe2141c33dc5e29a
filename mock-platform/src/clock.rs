//! The order clocks (order state; platform-wide and per merchant) and the wall clock (notification timestamps,
//! 10-minute windows).
//!
//! PROTOCOL §2.2: the order clock is the wall clock plus an offset the admin API moves forward; it drives
//! validity, auto-close, retry due times and the daily call count. Timestamps on the wire are always the
//! wall clock, so a merchant's own clock stays valid however far the suite has advanced the platform.
//!
//! INTERFACES §1: each merchant has its own order clock, the wall clock + the platform-wide offset + that
//! merchant's own offset, so checks and scenarios on a shared platform never move each other's time.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

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

/// The order clocks' offsets from the wall clock, each only growing: the platform-wide one and each
/// merchant's own. Shared by [`PlatformClock`] (reads) and the store, which moves them under its lock together
/// with the timers they shift (`Data::shift_timers`), so the two never disagree.
#[derive(Clone, Default)]
pub struct Offsets(Arc<RwLock<OffsetTable>>);

/// The offsets in milliseconds. Invariant: the platform-wide offset plus any merchant's own stays within
/// [`MAX_OFFSET_MS`] (advances are bounded by [`Offsets::headroom_ms`] and saturate there).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OffsetTable {
    pub platform_ms: i64,
    /// Merchants whose own clock was advanced; any other merchant's own offset is 0.
    pub merchants: HashMap<Arc<str>, i64>,
    /// Counts the changes, so that the SQLite store writes the table only when it moved.
    pub version: u64,
}

impl std::fmt::Debug for Offsets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.read().fmt(f)
    }
}

impl Offsets {
    /// A poisoned lock is taken over: every change leaves the table consistent.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, OffsetTable> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, OffsetTable> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The platform-wide offset.
    pub fn platform_ms(&self) -> i64 {
        self.read().platform_ms
    }

    /// The total offset of a merchant's clock (platform-wide + its own); an unknown app has the platform's.
    pub fn total_ms(&self, app_key: &str) -> i64 {
        let table = self.read();
        let own = table.merchants.get(app_key).copied().unwrap_or(0);
        table.platform_ms.saturating_add(own).min(MAX_OFFSET_MS)
    }

    /// How far a clock may still be advanced: that merchant's (`Some`), or the platform-wide one (`None`),
    /// which moves every merchant's clock, so the merchant furthest ahead bounds it.
    pub fn headroom_ms(&self, app_key: Option<&str>) -> i64 {
        let table = self.read();
        let own = match app_key {
            Some(key) => table.merchants.get(key).copied().unwrap_or(0),
            None => table.merchants.values().copied().max().unwrap_or(0),
        };
        (MAX_OFFSET_MS - table.platform_ms.saturating_add(own)).max(0)
    }

    /// Moves one merchant's clock (`Some`) or every clock (`None`) forward by up to `ms`, saturating at the
    /// bound; returns the milliseconds actually added. Use `Platform::advance_clock`, which also shifts the
    /// timers of the clocks moved.
    pub fn advance(&self, app_key: Option<&Arc<str>>, ms: i64) -> i64 {
        let applied = ms.clamp(0, self.headroom_ms(app_key.map(|k| &**k)));
        let mut table = self.write();
        match app_key {
            Some(key) => {
                let own = table.merchants.entry(key.clone()).or_insert(0);
                *own = own.saturating_add(applied);
            }
            None => table.platform_ms = table.platform_ms.saturating_add(applied),
        }
        table.version += 1;
        applied
    }

    /// Sets the offsets read back from a store: clamped so the bound holds; never moves a clock back.
    pub fn restore(&self, platform_ms: i64, merchants: impl IntoIterator<Item = (Arc<str>, i64)>) {
        let mut table = self.write();
        table.platform_ms = table.platform_ms.max(platform_ms.clamp(0, MAX_OFFSET_MS));
        let room = MAX_OFFSET_MS - table.platform_ms;
        for (key, ms) in merchants {
            let own = table.merchants.entry(key).or_insert(0);
            *own = (*own).max(ms.clamp(0, room));
        }
        table.version += 1;
    }

    /// The version of the table (it grows with every change).
    pub fn version(&self) -> u64 {
        self.read().version
    }

    /// A copy of the table, to persist it.
    pub fn snapshot(&self) -> OffsetTable {
        self.read().clone()
    }
}

/// The wall clock and the order clocks ([`Offsets`]).
#[derive(Clone)]
pub struct PlatformClock {
    wall: WallClock,
    offsets: Offsets,
}

impl std::fmt::Debug for PlatformClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformClock").field("offsets", &self.offsets).finish()
    }
}

impl PlatformClock {
    pub fn new(wall: WallClock) -> Self {
        Self::with_offsets(wall, Offsets::default())
    }

    /// A clock reading the offsets the store keeps.
    pub fn with_offsets(wall: WallClock, offsets: Offsets) -> Self {
        Self { wall, offsets }
    }

    pub fn offsets(&self) -> &Offsets {
        &self.offsets
    }

    /// Real time: notification timestamps, the gateway's 10-minute window, deadlines.
    pub fn wall_now(&self) -> DateTime<Utc> {
        (self.wall)()
    }

    /// The platform-wide order clock (a merchant without an offset of its own). The offset is bounded, so this
    /// only saturates for a wall clock near chrono's limits.
    pub fn now(&self) -> DateTime<Utc> {
        shifted(self.wall_now(), self.offset_ms())
    }

    /// The platform-wide order clock in epoch milliseconds (how the store keeps times).
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// That merchant's order clock in epoch milliseconds: every order-clock read for an order uses its merchant's.
    pub fn now_ms_for(&self, app_key: &str) -> i64 {
        shifted(self.wall_now(), self.offset_ms_for(app_key)).timestamp_millis()
    }

    /// The platform-wide offset.
    pub fn offset_ms(&self) -> i64 {
        self.offsets.platform_ms()
    }

    /// The total offset of that merchant's clock from the wall clock.
    pub fn offset_ms_for(&self, app_key: &str) -> i64 {
        self.offsets.total_ms(app_key)
    }

    /// Sets the platform-wide offset (used when a persisted store is reopened); never moves the clock back,
    /// never past [`MAX_OFFSET_MS`].
    pub fn restore_offset_ms(&self, offset_ms: i64) {
        self.offsets.restore(offset_ms, []);
    }

    /// Seconds the platform-wide clock may still be advanced before a total offset reaches [`MAX_OFFSET_MS`].
    pub fn headroom_seconds(&self) -> u64 {
        u64::try_from(self.offsets.headroom_ms(None) / 1000).unwrap_or(0)
    }

    /// Seconds that merchant's clock may still be advanced.
    pub fn headroom_seconds_for(&self, app_key: &str) -> u64 {
        u64::try_from(self.offsets.headroom_ms(Some(app_key)) / 1000).unwrap_or(0)
    }

    /// Moves the platform-wide clock forward, saturating at [`MAX_OFFSET_MS`]; returns the ms added. Timers are
    /// not shifted: use `Platform::advance_clock`.
    pub fn advance(&self, seconds: u64) -> i64 {
        self.offsets.advance(None, seconds_to_ms(seconds))
    }
}

/// Seconds as milliseconds, saturating.
pub fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX).saturating_mul(1000)
}

fn shifted(wall: DateTime<Utc>, offset_ms: i64) -> DateTime<Utc> {
    wall.checked_add_signed(Duration::milliseconds(offset_ms)).unwrap_or(DateTime::<Utc>::MAX_UTC)
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
    fn a_merchants_clock_adds_its_own_offset_to_the_platform_wide_one_within_the_bound() {
        let clock = PlatformClock::new(fixed("2026-01-01T00:00:00Z"));
        let a: Arc<str> = Arc::from("a");
        assert_eq!(clock.offsets().advance(Some(&a), 60_000), 60_000);
        assert_eq!(clock.advance(3600), 3_600_000);
        assert_eq!(
            (clock.offset_ms_for("a"), clock.offset_ms_for("b"), clock.offset_ms()),
            (3_660_000, 3_600_000, 3_600_000)
        );
        assert_eq!(format_ms(clock.now_ms_for("a")), "2026-01-01 09:01:00");
        // The merchant furthest ahead bounds the platform-wide advance; each merchant is bounded on its own.
        assert_eq!(clock.offsets().advance(Some(&a), i64::MAX), MAX_OFFSET_MS - 3_660_000);
        assert_eq!(clock.offset_ms_for("a"), MAX_OFFSET_MS);
        assert_eq!((clock.headroom_seconds(), clock.advance(1)), (0, 0));
        assert_eq!(clock.headroom_seconds_for("b"), u64::try_from((MAX_OFFSET_MS - 3_600_000) / 1000).unwrap());
        let restored = Offsets::default();
        restored.restore(i64::MAX, [(a.clone(), i64::MAX)]);
        assert_eq!((restored.platform_ms(), restored.total_ms("a")), (MAX_OFFSET_MS, MAX_OFFSET_MS));
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
