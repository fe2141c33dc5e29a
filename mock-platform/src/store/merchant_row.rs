//! A merchant as a store keeps it: the secrets in clear (the model's JSON view masks them) and the quota counters,
//! the document the SQLite rows and the PostgreSQL `merchants` rows hold.

use protocol::Secret;
use serde::{Deserialize, Serialize};

use crate::model::Merchant;
use crate::model::merchant::{NotifyCharset, Phase};

/// A merchant as stored: the secrets in clear (the JSON view masks them), the quota counters kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MerchantRow {
    app_key: String,
    app_secret: String,
    notify_key: String,
    notify_url: String,
    notify_charset: NotifyCharset,
    session: String,
    session_expires_at: i64,
    codemerchant_id: Option<i64>,
    posids: Vec<String>,
    eticket_permission: bool,
    #[serde(default = "yes")]
    joined: bool,
    daily_quota: u32,
    #[serde(default)]
    calls_per_second: Option<u32>,
    phase: Phase,
    test_mobiles: Vec<String>,
    seller_nick: String,
    taobao_sid: i64,
    callback_url: Option<String>,
    quota_day: i64,
    quota_used: u32,
    /// The calls-per-second window (`calls_per_second`): kept so that replicas share it.
    #[serde(default)]
    quota_second: i64,
    #[serde(default)]
    second_used: u32,
}

impl MerchantRow {
    pub(crate) fn of(m: &Merchant) -> Self {
        MerchantRow {
            app_key: m.app_key.clone(),
            app_secret: m.app_secret.expose().to_owned(),
            notify_key: m.notify_key.expose().to_owned(),
            notify_url: m.notify_url.clone(),
            notify_charset: m.notify_charset,
            session: m.session.expose().to_owned(),
            session_expires_at: m.session_expires_at,
            codemerchant_id: m.codemerchant_id,
            posids: m.posids.clone(),
            eticket_permission: m.eticket_permission,
            joined: m.joined,
            daily_quota: m.daily_quota,
            calls_per_second: m.calls_per_second,
            phase: m.phase,
            test_mobiles: m.test_mobiles.clone(),
            seller_nick: m.seller_nick.clone(),
            taobao_sid: m.taobao_sid,
            callback_url: m.callback_url.clone(),
            quota_day: m.quota_day,
            quota_used: m.quota_used,
            quota_second: m.quota_second,
            second_used: m.second_used,
        }
    }

    pub(crate) fn into_merchant(self) -> Merchant {
        Merchant {
            app_key: self.app_key,
            app_secret: Secret::new(self.app_secret),
            notify_key: Secret::new(self.notify_key),
            notify_url: self.notify_url,
            notify_charset: self.notify_charset,
            session: protocol::Secret::new(self.session),
            session_expires_at: self.session_expires_at,
            codemerchant_id: self.codemerchant_id,
            posids: self.posids,
            eticket_permission: self.eticket_permission,
            joined: self.joined,
            daily_quota: self.daily_quota,
            calls_per_second: self.calls_per_second,
            phase: self.phase,
            test_mobiles: self.test_mobiles,
            seller_nick: self.seller_nick,
            taobao_sid: self.taobao_sid,
            callback_url: self.callback_url,
            quota_day: self.quota_day,
            quota_used: self.quota_used,
            quota_second: self.quota_second,
            second_used: self.second_used,
        }
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::{PgOptions, PgStore};

    #[tokio::test]
    async fn a_merchant_row_keeps_the_secrets_and_comes_back_from_postgresql_as_the_merchant_it_was() {
        let mut merchant = crate::NewMerchant::new("k", "app-secret", "notify-key", "http://127.0.0.1:9/notify");
        merchant.session = Some("the-session".into());
        let platform = crate::Platform::new(crate::PlatformConfig::default());
        platform.add_merchant(merchant).await.unwrap();
        let merchant: Merchant = platform.store().merchant("k", Clone::clone).await.unwrap().unwrap();
        let row = serde_json::to_value(MerchantRow::of(&merchant)).unwrap();
        assert_eq!((row["app_secret"].as_str(), row["notify_key"].as_str()), (Some("app-secret"), Some("notify-key")));

        let database = testkit::postgres::database();
        let options = PgOptions::new("a", std::time::Duration::from_secs(60));
        let store = PgStore::connect(database.url(), options).await.unwrap();
        store.put_merchant("k", merchant.session.expose(), &MerchantRow::of(&merchant)).await.unwrap();
        let back = store.merchant_by_session::<MerchantRow>("the-session").await.unwrap().unwrap().into_merchant();
        assert_eq!(serde_json::to_value(MerchantRow::of(&back)).unwrap(), row);
        assert_eq!(back.app_secret.expose(), "app-secret");
    }
}
