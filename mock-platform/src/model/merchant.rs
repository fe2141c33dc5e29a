//! A merchant as the platform holds it: one TOP app, one session, one notify endpoint (PROTOCOL §1.1).

use protocol::Secret;
use serde::Serialize;

/// FAQ 1.4: a merchant in phase `test` only gets orders for its listed test mobiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    #[default]
    Test,
    Live,
}

/// The charset of notification bodies (PROTOCOL §3.1: UTF-8, or the legacy GBK option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default, utoipa::ToSchema)]
pub enum NotifyCharset {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[serde(rename = "gbk")]
    Gbk,
}

impl NotifyCharset {
    pub fn charset(self) -> protocol::params::Charset {
        match self {
            NotifyCharset::Utf8 => protocol::params::Charset::Utf8,
            NotifyCharset::Gbk => protocol::params::Charset::Gbk,
        }
    }
}

/// One registered merchant. Serialises with its secrets masked (`Secret` masks itself): the app secret, the notify
/// key and the session (INTERFACES §1: shown in full only in the answer that created it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Merchant {
    pub app_key: String,
    /// Masked: the first two characters and the length (`ab…(32)`).
    #[schema(value_type = String)]
    pub app_secret: Secret,
    /// Masked like `app_secret`.
    #[schema(value_type = String)]
    pub notify_key: Secret,
    /// Used verbatim (PROTOCOL §1.1: no query string).
    pub notify_url: String,
    pub notify_charset: NotifyCharset,
    /// Masked like `app_secret`, except in the answer of the `POST /admin/merchants` that created it.
    #[schema(value_type = String)]
    pub session: Secret,
    /// Epoch milliseconds on the platform clock (FAQ 2.6: a year by default); answered as `yyyy-MM-dd HH:mm:ss`.
    #[serde(serialize_with = "crate::model::order::ser_ms")]
    #[schema(value_type = String, example = "2027-12-07 10:00:00")]
    pub session_expires_at: i64,
    /// Set for a 码商; absent for a 信任卖家.
    pub codemerchant_id: Option<i64>,
    pub posids: Vec<String>,
    pub eticket_permission: bool,
    /// Joined the e-voucher platform (入驻); false makes every e-voucher API answer B1 (PROTOCOL §5.0).
    pub joined: bool,
    pub daily_quota: u32,
    /// TOP calls allowed per second of the platform clock (none: no per-second limit); error 7 beyond it, the
    /// ban lasting to the end of that second (PROTOCOL §4.8 flow control, FAQ 2.24).
    pub calls_per_second: Option<u32>,
    pub phase: Phase,
    pub test_mobiles: Vec<String>,
    pub seller_nick: String,
    pub taobao_sid: i64,
    pub callback_url: Option<String>,
    /// The platform-clock GMT+8 day `quota_used` counts for.
    #[serde(skip)]
    pub quota_day: i64,
    #[serde(skip)]
    pub quota_used: u32,
    /// The platform-clock second `second_used` counts for (not persisted: a second outlives no restart).
    #[serde(skip)]
    pub quota_second: i64,
    #[serde(skip)]
    pub second_used: u32,
}

impl Merchant {
    pub fn is_code_merchant(&self) -> bool {
        self.codemerchant_id.is_some()
    }

    /// FAQ 1.4: whether an order for `mobile` may be sold to this merchant now.
    pub fn accepts_mobile(&self, mobile: &str) -> bool {
        self.phase == Phase::Live || self.test_mobiles.is_empty() || self.test_mobiles.iter().any(|m| m == mobile)
    }

    /// Counts one gateway call against the daily quota and the per-second limit (§4.9 step 10); `Err(seconds
    /// the ban lasts)` when over either: to midnight for the day's quota, 1 for the second's.
    pub fn count_call(&mut self, now_ms: i64) -> Result<(), i64> {
        let day = crate::clock::gmt8_day(now_ms);
        if day != self.quota_day {
            self.quota_day = day;
            self.quota_used = 0;
        }
        self.quota_used = self.quota_used.saturating_add(1);
        let second = now_ms.div_euclid(1000);
        if second != self.quota_second {
            self.quota_second = second;
            self.second_used = 0;
        }
        self.second_used = self.second_used.saturating_add(1);
        if self.quota_used > self.daily_quota {
            return Err(crate::clock::seconds_to_gmt8_midnight(now_ms));
        }
        match self.calls_per_second {
            Some(limit) if self.second_used > limit => Err(1),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn merchant(daily_quota: u32, calls_per_second: Option<u32>) -> Merchant {
        Merchant {
            app_key: "k".into(),
            app_secret: Secret::new("s"),
            notify_key: Secret::new("n"),
            notify_url: "http://127.0.0.1:1/notify".into(),
            notify_charset: NotifyCharset::Utf8,
            session: protocol::Secret::new("session"),
            session_expires_at: 0,
            codemerchant_id: None,
            posids: Vec::new(),
            eticket_permission: true,
            joined: true,
            daily_quota,
            calls_per_second,
            phase: Phase::Live,
            test_mobiles: Vec::new(),
            seller_nick: "nick".into(),
            taobao_sid: 1,
            callback_url: None,
            quota_day: 0,
            quota_used: 0,
            quota_second: 0,
            second_used: 0,
        }
    }

    #[test]
    fn calls_beyond_the_per_second_limit_are_limited_for_the_rest_of_that_second() {
        let mut m = merchant(5000, Some(2));
        let t = 1_700_000_000_000;
        assert_eq!(m.count_call(t), Ok(()));
        assert_eq!(m.count_call(t + 300), Ok(()));
        assert_eq!(m.count_call(t + 600), Err(1));
        assert_eq!(m.count_call(t + 1000), Ok(()), "a new second starts afresh");
    }

    #[test]
    fn the_daily_quota_wins_over_a_per_second_limit_that_still_has_room() {
        let mut m = merchant(1, Some(100));
        let t = 1_700_000_000_000;
        assert_eq!(m.count_call(t), Ok(()));
        assert!(m.count_call(t + 1).unwrap_err() > 1, "banned until midnight");
        let mut unlimited = merchant(5000, None);
        assert!((0..1000).all(|i| unlimited.count_call(t + i) == Ok(())));
    }
}
