//! `POST /admin/merchants`, `GET /admin/merchants/{app_key}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::Secret;
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;

use super::{AdminJson, ApiError};
use crate::Platform;
use crate::clock::parse_ms;
use crate::model::{Merchant, NotifyCharset, Phase};

/// The body of `POST /admin/merchants` (INTERFACES §1.1).
#[derive(Debug, Clone, Deserialize)]
pub struct NewMerchant {
    pub app_key: String,
    pub app_secret: Secret,
    pub notify_key: Secret,
    pub notify_url: String,
    pub session: Option<String>,
    pub session_expires_at: Option<String>,
    pub codemerchant_id: Option<i64>,
    #[serde(default)]
    pub posids: Vec<String>,
    pub eticket_permission: Option<bool>,
    /// Default true; false: the merchant has not joined the e-voucher platform (B1 on every e-voucher API).
    pub joined: Option<bool>,
    pub daily_quota: Option<u32>,
    /// TOP calls allowed per second (default: no per-second limit); error 7 beyond it (FAQ 2.24).
    pub calls_per_second: Option<u32>,
    pub phase: Option<Phase>,
    #[serde(default)]
    pub test_mobiles: Vec<String>,
    pub seller_nick: Option<String>,
    pub taobao_sid: Option<i64>,
    pub callback_url: Option<String>,
    /// `utf-8` (default) or `gbk` (PROTOCOL §3.1 legacy option).
    pub notify_charset: Option<NotifyCharset>,
}

pub async fn create(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<NewMerchant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let view = platform.add_merchant(body)?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn get_one(State(platform): State<Platform>, Path(app_key): Path<String>) -> Result<Json<Value>, ApiError> {
    let data = platform.data();
    let merchant = data
        .merchants
        .get(app_key.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("app_key {app_key:?}: no such merchant")))?;
    Ok(Json(serde_json::to_value(merchant).unwrap_or_default()))
}

impl NewMerchant {
    /// A merchant with the required fields and every default (phase `test`, generated session and sid).
    pub fn new(app_key: &str, app_secret: &str, notify_key: &str, notify_url: &str) -> Self {
        Self {
            app_key: app_key.to_owned(),
            app_secret: Secret::new(app_secret),
            notify_key: Secret::new(notify_key),
            notify_url: notify_url.to_owned(),
            session: None,
            session_expires_at: None,
            codemerchant_id: None,
            posids: Vec::new(),
            eticket_permission: None,
            joined: None,
            daily_quota: None,
            calls_per_second: None,
            phase: None,
            test_mobiles: Vec::new(),
            seller_nick: None,
            taobao_sid: None,
            callback_url: None,
            notify_charset: None,
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

impl Platform {
    /// Registers a merchant; returns it as stored, secrets masked.
    pub fn add_merchant(&self, body: NewMerchant) -> Result<Value, ApiError> {
        for (field, value) in [
            ("app_key", body.app_key.as_str()),
            ("app_secret", body.app_secret.expose()),
            ("notify_key", body.notify_key.expose()),
            ("notify_url", body.notify_url.as_str()),
        ] {
            if value.trim().is_empty() {
                return Err(ApiError::field(field, "must not be empty"));
            }
        }
        if body.calls_per_second == Some(0) {
            return Err(ApiError::field("calls_per_second", "must be at least 1 (leave it out for no limit)"));
        }
        if let Some(nick) = &body.seller_nick {
            super::orders::check_text("seller_nick", nick)?;
        }
        let url = reqwest::Url::parse(&body.notify_url).map_err(|e| ApiError::field("notify_url", e))?;
        if url.scheme() != "http" {
            return Err(ApiError::field("notify_url", "must be an http:// URL (the mock speaks plain HTTP)"));
        }
        if url.query().is_some() {
            return Err(ApiError::field("notify_url", "must not carry a query string (PROTOCOL §1.1)"));
        }
        let now = self.clock().now_ms();
        let session_expires_at = match &body.session_expires_at {
            Some(text) => {
                parse_ms(text).ok_or_else(|| ApiError::field("session_expires_at", "must be yyyy-MM-dd HH:mm:ss"))?
            }
            None => now + self.config().session_validity.as_millis() as i64,
        };
        let session =
            body.session.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| format!("6102{}", random_hex(16)));
        let taobao_sid = body.taobao_sid.unwrap_or_else(|| rand::rng().random_range(100_000_000..1_000_000_000));
        let mut data = self.data();
        if data.merchants.contains_key(body.app_key.as_str()) {
            return Err(ApiError::Conflict(format!("app_key {:?} is already registered", body.app_key)));
        }
        if data.sessions.contains_key(&session) {
            return Err(ApiError::Conflict("session: already issued to another app".into()));
        }
        let key: Arc<str> = Arc::from(body.app_key.as_str());
        let merchant = Merchant {
            app_key: body.app_key,
            app_secret: body.app_secret,
            notify_key: body.notify_key,
            notify_url: body.notify_url,
            notify_charset: body.notify_charset.unwrap_or_default(),
            session: session.clone(),
            session_expires_at,
            codemerchant_id: body.codemerchant_id,
            posids: body.posids,
            eticket_permission: body.eticket_permission.unwrap_or(true),
            joined: body.joined.unwrap_or(true),
            daily_quota: body.daily_quota.unwrap_or(self.config().default_daily_quota),
            calls_per_second: body.calls_per_second,
            phase: body.phase.unwrap_or_default(),
            test_mobiles: body.test_mobiles,
            seller_nick: body
                .seller_nick
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| format!("mock_seller_{taobao_sid}")),
            taobao_sid,
            callback_url: body.callback_url,
            quota_day: 0,
            quota_used: 0,
            quota_second: 0,
            second_used: 0,
        };
        tracing::info!(app_key = %merchant.app_key, "merchant registered");
        let view = serde_json::to_value(&merchant).unwrap_or_default();
        data.sessions.insert(session, key.clone());
        data.merchants.insert(key, merchant);
        Ok(view)
    }
}
