//! Platform timestamps: `yyyy-MM-dd HH:mm:ss` in GMT+8, or epoch milliseconds (PROTOCOL §4.2, §4.5).
//!
//! The caller passes "now"; nothing here reads a clock.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// The text form of every platform datetime.
pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The largest skew the gateway and the notification receiver tolerate (10 minutes).
pub const MAX_SKEW_SECONDS: i64 = 600;

/// GMT+8, the platform's only time zone.
pub fn gmt8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("timestamp is missing")]
    Missing,
    #[error("timestamp {0:?} is neither yyyy-MM-dd HH:mm:ss nor epoch milliseconds")]
    Unparseable(String),
    #[error("timestamp is {skew_seconds} s away from the receiver's clock (at most 600 s allowed)")]
    Skewed { skew_seconds: i64 },
}

/// An instant shown in GMT+8. Ordering and equality are by instant.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gmt8Timestamp(DateTime<FixedOffset>);

impl Gmt8Timestamp {
    pub fn from_utc(instant: DateTime<Utc>) -> Self {
        Self(instant.with_timezone(&gmt8()))
    }

    /// Parses the text form, read as GMT+8 wall time.
    pub fn parse_datetime(text: &str) -> Result<Self, TimestampError> {
        let naive = NaiveDateTime::parse_from_str(text, FORMAT)
            .map_err(|_| TimestampError::Unparseable(text.chars().take(64).collect()))?;
        // The strict format has no zero-width fields, so reject anything chrono accepted loosely.
        if text.len() != 19 {
            return Err(TimestampError::Unparseable(text.chars().take(64).collect()));
        }
        Ok(Self(gmt8().from_local_datetime(&naive).single().expect("a fixed offset has no gaps")))
    }

    /// Parses either form the gateway accepts: the text form, or epoch milliseconds (digits only, as the
    /// official Python SDK sends them).
    pub fn parse_top(text: &str) -> Result<Self, TimestampError> {
        if !text.is_empty() && text.len() <= 16 && text.bytes().all(|b| b.is_ascii_digit()) {
            let millis: i64 = text.parse().map_err(|_| TimestampError::Unparseable(text.to_owned()))?;
            let instant = DateTime::<Utc>::from_timestamp_millis(millis)
                .ok_or_else(|| TimestampError::Unparseable(text.to_owned()))?;
            return Ok(Self::from_utc(instant));
        }
        Self::parse_datetime(text)
    }

    /// Checks that this timestamp is within ±10 minutes of `now`.
    pub fn check_fresh(self, now: DateTime<Utc>) -> Result<(), TimestampError> {
        let skew_seconds = (self.0.timestamp_millis() - now.timestamp_millis()) / 1000;
        if skew_seconds.abs() > MAX_SKEW_SECONDS { Err(TimestampError::Skewed { skew_seconds }) } else { Ok(()) }
    }

    pub fn epoch_millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        self.0.with_timezone(&Utc)
    }

    /// The GMT+8 wall time.
    pub fn naive(self) -> NaiveDateTime {
        self.0.naive_local()
    }

    pub fn from_naive(naive: NaiveDateTime) -> Self {
        Self(gmt8().from_local_datetime(&naive).single().expect("a fixed offset has no gaps"))
    }

    /// `yyyy-MM-dd HH:mm:ss`.
    pub fn format(self) -> String {
        self.0.format(FORMAT).to_string()
    }

    /// A custom strftime rendering in GMT+8 (`%Y/%m/%d` for SMS templates).
    pub fn format_with(self, pattern: &str) -> String {
        self.0.format(pattern).to_string()
    }
}

impl fmt::Display for Gmt8Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(FORMAT))
    }
}

impl fmt::Debug for Gmt8Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gmt8Timestamp({self})")
    }
}

impl serde::Serialize for Gmt8Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Gmt8Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse_datetime(&text).map_err(serde::de::Error::custom)
    }
}

/// Checks a notification or TOP `timestamp` param: missing, unparseable and skewed are all errors.
pub fn check_timestamp_param(value: Option<&str>, now: DateTime<Utc>) -> Result<Gmt8Timestamp, TimestampError> {
    let value = value.filter(|v| !v.is_empty()).ok_or(TimestampError::Missing)?;
    let ts = Gmt8Timestamp::parse_top(value)?;
    ts.check_fresh(now)?;
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn text_form_is_gmt8() {
        let ts = Gmt8Timestamp::parse_datetime("2016-04-12 04:04:37").unwrap();
        assert_eq!(ts.to_utc(), utc("2016-04-11T20:04:37Z"));
        assert_eq!(ts.format(), "2016-04-12 04:04:37");
    }

    #[test]
    fn epoch_milliseconds_are_accepted() {
        let ts = Gmt8Timestamp::parse_top("1451620800000").unwrap();
        assert_eq!(ts.format(), "2016-01-01 12:00:00");
    }

    #[test]
    fn malformed_and_loose_forms_are_rejected() {
        for bad in ["2016-1-1 12:00:00", "2016-01-01T12:00:00", "2016-01-01 12:00", "", "abc", "12345678901234567890"] {
            assert!(Gmt8Timestamp::parse_top(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ten_minutes_is_the_limit_either_way() {
        let now = utc("2016-01-01T04:00:00Z");
        let at = |s: &str| check_timestamp_param(Some(s), now);
        assert!(at("2016-01-01 12:10:00").is_ok());
        assert!(at("2016-01-01 11:50:00").is_ok());
        assert!(matches!(at("2016-01-01 12:10:01"), Err(TimestampError::Skewed { .. })));
        assert!(matches!(at("2016-01-01 11:49:59"), Err(TimestampError::Skewed { .. })));
        assert_eq!(check_timestamp_param(None, now), Err(TimestampError::Missing));
    }
}
