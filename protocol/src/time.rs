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
        if let Some(naive) = parse_exact_layout(text) {
            return Ok(Self::from_naive(naive));
        }
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
        format_exact_layout(self.0.naive_local()).unwrap_or_else(|| self.0.format(FORMAT).to_string())
    }

    /// A custom strftime rendering in GMT+8 (`%Y/%m/%d` for SMS templates).
    pub fn format_with(self, pattern: &str) -> String {
        self.0.format(pattern).to_string()
    }
}

/// `yyyy-MM-dd HH:mm:ss` read byte by byte, for the usual timestamp: every gateway call and every notification
/// carries one, and chrono's format interpreter cost about 1.3 µs of a gateway call's 30 (`mock-platform`'s load
/// example). `None` for anything else (other layouts, a leap second, a day that does not exist), which then
/// goes to chrono, so what is accepted and how is exactly what chrono alone gives.
fn parse_exact_layout(text: &str) -> Option<NaiveDateTime> {
    let bytes: &[u8; 19] = text.as_bytes().try_into().ok()?;
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, separator)| bytes[at] != separator) {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        bytes[from..to].iter().try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
    };
    let date = chrono::NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?;
    let time = chrono::NaiveTime::from_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)?;
    Some(NaiveDateTime::new(date, time))
}

/// `yyyy-MM-dd HH:mm:ss` written digit by digit, the counterpart of [`parse_exact_layout`]: a notification, an
/// order view and a recorded exchange each format several datetimes, and chrono's format interpreter cost
/// about 3% of a `conformance load` run's CPU. `None` for a year outside 0–9999 or a leap second, which then
/// go to chrono, so the text is always exactly chrono's.
fn format_exact_layout(t: NaiveDateTime) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    if t.nanosecond() >= 1_000_000_000 {
        return None;
    }
    let mut out = [0u8; 19];
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    for (at, separator) in [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')] {
        out[at] = separator;
    }
    String::from_utf8(out.to_vec()).ok()
}

impl fmt::Display for Gmt8Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
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

/// Checks a TOP call's `timestamp` param (`yyyy-MM-dd HH:mm:ss` or epoch milliseconds, PROTOCOL §4): missing,
/// unparseable and skewed are all errors.
pub fn check_timestamp_param(value: Option<&str>, now: DateTime<Utc>) -> Result<Gmt8Timestamp, TimestampError> {
    let value = value.filter(|v| !v.is_empty()).ok_or(TimestampError::Missing)?;
    let ts = Gmt8Timestamp::parse_top(value)?;
    ts.check_fresh(now)?;
    Ok(ts)
}

/// Checks a notification's `timestamp` param (PROTOCOL §3.2): `yyyy-MM-dd HH:mm:ss` GMT+8 within 10 minutes.
/// Epoch milliseconds are a TOP call's form, never a notification's: a receiver treats them as stale (C2).
pub fn check_notification_timestamp(value: Option<&str>, now: DateTime<Utc>) -> Result<Gmt8Timestamp, TimestampError> {
    let value = value.filter(|v| !v.is_empty()).ok_or(TimestampError::Missing)?;
    let ts = Gmt8Timestamp::parse_datetime(value)?;
    ts.check_fresh(now)?;
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digit_by_digit_format_writes_what_chrono_writes() {
        let chrono_text = |t: Gmt8Timestamp| t.0.format(FORMAT).to_string();
        // Every second of a day around a year's end, and instants spread over four centuries.
        let start = Gmt8Timestamp::parse_datetime("1999-12-31 12:00:00").unwrap().epoch_millis();
        let spread = (0..20_000i64).map(|i| i * 631_152_013 + 7);
        for ms in (0..86_400i64).map(|s| start + s * 1000).chain(spread.map(|ms| ms - 2_208_988_800_000)) {
            let t = Gmt8Timestamp::from_utc(DateTime::<Utc>::from_timestamp_millis(ms).unwrap());
            assert_eq!(t.format(), chrono_text(t), "{ms}");
            assert_eq!(t.to_string(), chrono_text(t));
        }
        // Outside the fast path: a five-digit year and a leap second still come out as chrono writes them.
        let far = Gmt8Timestamp::from_naive(
            chrono::NaiveDate::from_ymd_opt(12345, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap(),
        );
        assert_eq!((far.format(), chrono_text(far)), ("+12345-01-02 03:04:05".into(), "+12345-01-02 03:04:05".into()));
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_milli_opt(23, 59, 59, 1500).unwrap();
        let leap = Gmt8Timestamp::from_naive(leap);
        assert_eq!((leap.format(), chrono_text(leap)), ("2016-12-31 23:59:60".into(), "2016-12-31 23:59:60".into()));
    }

    /// What `parse_datetime` gave before its byte-by-byte fast path: chrono alone.
    fn parse_with_chrono(text: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(text, FORMAT).ok().filter(|_| text.len() == 19)
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_accepts_and_reads_exactly_what_chrono_does(
            text in "([0-9 +-]{4}|[0-9]{4})[-/ ][0-9 ]{1,2}-[0-9]{1,3}[ T][0-9]{2}:[0-9]{2}:[0-9 ]{2}",
        ) {
            let fast = Gmt8Timestamp::parse_datetime(&text).ok().map(Gmt8Timestamp::naive);
            proptest::prop_assert_eq!(fast, parse_with_chrono(&text));
        }

        #[test]
        fn every_valid_wall_time_parses_to_itself(seconds in 0i64..4_102_444_800) {
            let naive = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap().naive_utc();
            let text = naive.format(FORMAT).to_string();
            proptest::prop_assert_eq!(parse_exact_layout(&text), Some(naive));
            proptest::prop_assert_eq!(Gmt8Timestamp::parse_datetime(&text).unwrap().naive(), naive);
        }
    }

    #[test]
    fn impossible_days_and_leap_seconds_are_left_to_chrono() {
        for text in ["2016-02-30 00:00:00", "2015-02-29 00:00:00", "2016-13-01 00:00:00", "2016-04-12 24:00:00"] {
            assert_eq!(parse_exact_layout(text), None, "{text}");
            assert!(Gmt8Timestamp::parse_datetime(text).is_err(), "{text}");
        }
        assert_eq!(parse_exact_layout("2016-12-31 23:59:60"), None);
        assert_eq!(
            Gmt8Timestamp::parse_datetime("2016-12-31 23:59:60").ok().map(Gmt8Timestamp::naive),
            parse_with_chrono("2016-12-31 23:59:60")
        );
    }

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

    #[test]
    fn a_notification_timestamp_is_only_the_datetime_form() {
        let now = utc("2016-01-01T04:00:00Z");
        assert!(check_notification_timestamp(Some("2016-01-01 12:00:00"), now).is_ok());
        let millis = now.timestamp_millis().to_string();
        assert!(check_timestamp_param(Some(&millis), now).is_ok());
        assert!(matches!(check_notification_timestamp(Some(&millis), now), Err(TimestampError::Unparseable(_))));
        assert_eq!(check_notification_timestamp(Some(""), now), Err(TimestampError::Missing));
    }
}
