//! `POST /admin/merchants`, `GET /admin/merchants/{app_key}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::Secret;
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;

use super::{AdminJson, ApiError, ErrorBody, checks};
use crate::Platform;
use crate::clock::parse_ms;
use crate::model::{Merchant, NotifyCharset, Phase};
use crate::store::MerchantConflict;

/// The body of `POST /admin/merchants` (INTERFACES §1.1).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMerchant {
    /// 1 to 64 printable ASCII characters without whitespace.
    #[schema(min_length = 1, max_length = 64)]
    pub app_key: String,
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    pub app_secret: Secret,
    /// Must differ from `app_secret` (FAQ 2.29).
    #[schema(value_type = String, min_length = 1, max_length = 256)]
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
    #[schema(minimum = 1)]
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

#[utoipa::path(post, path = "/admin/merchants", tag = "merchants", request_body = NewMerchant,
    responses(
        (status = 201, description = "The merchant as stored, secrets masked, the session in full", body = Merchant),
        (status = 409, description = "The app_key or session is already registered", body = ErrorBody),
        (status = "4XX", description = "A bad field, named", body = ErrorBody),
    ))]
pub async fn create(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<NewMerchant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let view = platform.add_merchant(body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/admin/merchants/{app_key}", tag = "merchants",
    params(("app_key" = String, Path, description = "The merchant's app_key")),
    responses(
        (status = 200, description = "The merchant, secrets masked", body = Merchant),
        (status = 404, description = "No such merchant", body = ErrorBody),
        (status = "4XX", description = "A bad request", body = ErrorBody),
    ))]
pub async fn get_one(State(platform): State<Platform>, Path(app_key): Path<String>) -> Result<Json<Value>, ApiError> {
    platform
        .store()
        .merchant(&app_key, |m| Json(serde_json::to_value(m).unwrap_or_default()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("app_key {app_key:?}: no such merchant")))
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
    /// Registers a merchant; returns it as stored, the app secret and notify key masked, the session in full.
    pub async fn add_merchant(&self, body: NewMerchant) -> Result<Value, ApiError> {
        checks::app_key("app_key", &body.app_key)?;
        checks::secret("app_secret", body.app_secret.expose())?;
        checks::secret("notify_key", body.notify_key.expose())?;
        // FAQ 2.29: two different secrets, one per direction (merchant-reference refuses the same value too).
        if protocol::signs_equal(body.app_secret.expose(), body.notify_key.expose()) {
            return Err(ApiError::field("notify_key", "must differ from app_secret (FAQ 2.29: two different secrets)"));
        }
        if body.calls_per_second == Some(0) {
            return Err(ApiError::field("calls_per_second", "must be at least 1 (leave it out for no limit)"));
        }
        if let Some(session) = body.session.as_deref().filter(|s| !s.is_empty()) {
            checks::secret("session", session)?;
        }
        checks::length("notify_url", &body.notify_url, 2048)?;
        checks::optional_text("seller_nick", body.seller_nick.as_deref(), 128)?;
        if let Some(url) = &body.callback_url {
            checks::length("callback_url", url, 2048)?;
            reqwest::Url::parse(url).map_err(|e| ApiError::field("callback_url", e))?;
        }
        checks::id("codemerchant_id", body.codemerchant_id)?;
        checks::id("taobao_sid", body.taobao_sid)?;
        checks::list("posids", &body.posids, 1000, |field, v| checks::text(field, v, 64))?;
        checks::list("test_mobiles", &body.test_mobiles, 1000, |field, v| checks::text(field, v, 32))?;
        let url = reqwest::Url::parse(&body.notify_url).map_err(|e| ApiError::field("notify_url", e))?;
        if url.scheme() != "http" {
            return Err(ApiError::field("notify_url", "must be an http:// URL (the mock speaks plain HTTP)"));
        }
        if url.query().is_some() {
            return Err(ApiError::field("notify_url", "must not carry a query string (PROTOCOL §1.1)"));
        }
        let now = self.store().now_ms(Some(&body.app_key)).await?;
        let session_expires_at = match &body.session_expires_at {
            Some(text) => {
                parse_ms(text).ok_or_else(|| ApiError::field("session_expires_at", "must be yyyy-MM-dd HH:mm:ss"))?
            }
            None => now + self.config().session_validity.as_millis() as i64,
        };
        let session =
            body.session.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| format!("6102{}", random_hex(16)));
        let taobao_sid = body.taobao_sid.unwrap_or_else(|| rand::rng().random_range(100_000_000..1_000_000_000));
        let merchant = Merchant {
            app_key: body.app_key,
            app_secret: body.app_secret,
            notify_key: body.notify_key,
            notify_url: body.notify_url,
            notify_charset: body.notify_charset.unwrap_or_default(),
            session: Secret::new(session.clone()),
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
        let mut view = serde_json::to_value(&merchant).unwrap_or_default();
        // The one answer that shows the session in full: the merchant may not know it (generated here).
        view["session"] = Value::String(session);
        let app_key = merchant.app_key.clone();
        match self.store().put_merchant(merchant).await? {
            Ok(()) => {}
            Err(MerchantConflict::AppKey) => {
                return Err(ApiError::Conflict(format!("app_key {app_key:?} is already registered")));
            }
            Err(MerchantConflict::Session) => {
                return Err(ApiError::Conflict("session: already issued to another app".into()));
            }
        }
        tracing::info!(app_key = %app_key, "merchant registered");
        Ok(view)
    }
}
