//! The platform's settings: timings (PROTOCOL §3.5, §6), limits and defaults.

use std::time::Duration;

use protocol::Secret;

use crate::clock::{WallClock, system_wall_clock};

/// Settings of one platform. `Default` is the spec's defaults.
#[derive(Clone)]
pub struct PlatformConfig {
    /// The gateway's own base URL (`http://host:port`), for `qrcode_url` (§5.8).
    pub gateway_base_url: Option<String>,
    /// When set, `/admin/*` and `/console` need `Authorization: Bearer TOKEN`.
    pub admin_token: Option<Secret>,
    /// Real time a notification attempt may take, reply included (§3.5: 5 s).
    pub notify_deadline: Duration,
    /// Attempt times after the first (the first is at 0): 15 s, 1 min, 5 min, 15 min, 30 min, 1 h.
    pub retry_schedule: Vec<Duration>,
    /// Platform-clock time after payment when an order without codes closes (T4: 2 h).
    pub auto_close_after: Duration,
    /// How long a callback is held while its cause's attempt is open (C4: 2 s, real time).
    pub c4_hold: Duration,
    /// Gateway request bodies beyond this are refused with a TOP envelope (43).
    pub max_body_bytes: usize,
    pub default_daily_quota: u32,
    /// Platform-clock validity of a generated session (FAQ 2.6: 365 days).
    pub session_validity: Duration,
    /// Notification attempts open at once; more wait their turn (a burst of due orders must not open
    /// thousands of connections to one merchant). Each attempt's timestamp is taken when it starts.
    pub max_concurrent_attempts: usize,
    /// How long a connection may sit idle between requests, take to send a request's head, or take to send a
    /// request's body from the request's start; then it is closed (INTERFACES §1 "Connections": 30 s).
    pub connection_timeout: Duration,
    /// The first order id handed out (16 digits like real trade ids).
    pub first_order_id: i64,
    /// Real time; tests inject their own (the shared store reads order clocks on the database's clock).
    pub wall: WallClock,
    /// How long a replica's lease on a notification attempt lasts on a shared store (INTERFACES §1.2:
    /// `notify_deadline + 10 s`); `None` takes that default. A holder that dies is replaced once it expires.
    pub lease: Option<Duration>,
}

impl std::fmt::Debug for PlatformConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformConfig")
            .field("gateway_base_url", &self.gateway_base_url)
            .field("admin_token", &self.admin_token)
            .field("notify_deadline", &self.notify_deadline)
            .field("retry_schedule", &self.retry_schedule)
            .field("auto_close_after", &self.auto_close_after)
            .field("c4_hold", &self.c4_hold)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("default_daily_quota", &self.default_daily_quota)
            .field("max_concurrent_attempts", &self.max_concurrent_attempts)
            .field("connection_timeout", &self.connection_timeout)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            gateway_base_url: None,
            admin_token: None,
            notify_deadline: Duration::from_secs(5),
            retry_schedule: [15, 60, 300, 900, 1800, 3600].into_iter().map(Duration::from_secs).collect(),
            auto_close_after: Duration::from_secs(2 * 3600),
            c4_hold: Duration::from_secs(2),
            max_body_bytes: 1 << 20,
            default_daily_quota: 5000,
            session_validity: Duration::from_secs(365 * 86_400),
            max_concurrent_attempts: 256,
            connection_timeout: Duration::from_secs(30),
            first_order_id: 2_600_000_000_000_001,
            wall: system_wall_clock(),
            lease: None,
        }
    }
}

impl PlatformConfig {
    /// A shared store's lease on an attempt: [`PlatformConfig::lease`], or `notify_deadline + 10 s`.
    pub fn lease_duration(&self) -> Duration {
        self.lease.unwrap_or(self.notify_deadline + Duration::from_secs(10))
    }
}

/// A configuration breaking the timing order of PROTOCOL §6.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the C4 hold ({hold:?}) must be shorter than the notify deadline ({deadline:?})")]
    HoldNotBeforeDeadline { hold: Duration, deadline: Duration },
    #[error("the notify deadline ({deadline:?}) must be shorter than the first retry interval ({first:?})")]
    DeadlineNotBeforeRetry { deadline: Duration, first: Duration },
    #[error("retry times must increase")]
    ScheduleNotIncreasing,
    #[error("at most 200 retries")]
    ScheduleTooLong,
}

impl PlatformConfig {
    /// §6: hold < deadline < first retry interval, and retry times increase.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.c4_hold >= self.notify_deadline {
            return Err(ConfigError::HoldNotBeforeDeadline { hold: self.c4_hold, deadline: self.notify_deadline });
        }
        if let Some(first) = self.retry_schedule.first()
            && self.notify_deadline >= *first
        {
            return Err(ConfigError::DeadlineNotBeforeRetry { deadline: self.notify_deadline, first: *first });
        }
        if self.retry_schedule.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ConfigError::ScheduleNotIncreasing);
        }
        // Attempt indices are kept in a u8 per queued notification.
        if self.retry_schedule.len() > 200 {
            return Err(ConfigError::ScheduleTooLong);
        }
        Ok(())
    }

    /// The schedule in ms with the first attempt at 0.
    pub fn schedule_ms(&self) -> Vec<i64> {
        std::iter::once(0).chain(self.retry_schedule.iter().map(|d| d.as_millis() as i64)).collect()
    }

    pub fn auto_close_ms(&self) -> i64 {
        self.auto_close_after.as_millis() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec_and_a_broken_timing_order_is_refused() {
        let config = PlatformConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.schedule_ms().len(), 7);
        let broken = PlatformConfig { c4_hold: Duration::from_secs(6), ..PlatformConfig::default() };
        assert!(matches!(broken.validate(), Err(ConfigError::HoldNotBeforeDeadline { .. })));
    }
}
