//! `POST /admin/clock` and `GET /admin/clock`: the platform-wide and per-merchant order clocks (INTERFACES §1).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{AdminJson, AdminQuery, ApiError, ErrorBody};
use crate::Platform;
use crate::clock::{MAX_ADVANCE_SECONDS, MAX_OFFSET_MS, format_ms};

/// The body of `POST /admin/clock`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// Signed, so that a negative value is answered by the bound check below, naming the field.
    #[schema(minimum = 0, maximum = 315_360_000)]
    pub advance_seconds: i64,
    /// Moves only that merchant's clock (its orders, their retries and auto-closes); absent, the platform-wide
    /// offset moves every merchant's clock. An unknown app is 404.
    #[serde(default)]
    pub app_key: Option<String>,
}

/// The query of `GET /admin/clock`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClockQuery {
    /// That merchant's clock (wall + platform-wide + its own offset); absent, the platform-wide clock. An
    /// unknown app is 404.
    pub app_key: Option<String>,
}

/// An order clock: `now` (`yyyy-MM-dd HH:mm:ss` GMT+8) and its total offset from the wall clock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockAnswer {
    #[schema(example = "2026-12-07 10:00:00")]
    pub now: String,
    pub offset_seconds: i64,
}

#[utoipa::path(post, path = "/admin/clock", tag = "clock", request_body = AdvanceClock,
    responses(
        (status = 200, description = "The clock moved (that merchant's, or the platform-wide one)", body = ClockAnswer),
        (status = 404, description = "No such merchant", body = ErrorBody),
        (status = "4XX", description = "advance_seconds out of range, or an unknown field", body = ErrorBody),
    ))]
pub async fn advance(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<AdvanceClock>,
) -> Result<Json<ClockAnswer>, ApiError> {
    let seconds = u64::try_from(body.advance_seconds).ok().filter(|s| *s <= MAX_ADVANCE_SECONDS).ok_or_else(|| {
        ApiError::field("advance_seconds", format!("must be an integer from 0 to {MAX_ADVANCE_SECONDS}"))
    })?;
    let key = match body.app_key.as_deref() {
        Some(k) => Some(merchant(&platform, k).await?),
        None => None,
    };
    let headroom = platform.store().clock(key.as_deref()).await?.headroom_seconds;
    if seconds > headroom {
        return Err(ApiError::field(
            "advance_seconds",
            format!(
                "the order clock may run at most {} years ahead of the wall clock; {headroom} s are left",
                MAX_OFFSET_MS / (365 * 86_400_000)
            ),
        ));
    }
    match &key {
        Some(key) => {
            platform.advance_merchant_clock(key, seconds).await?;
        }
        None => {
            platform.advance_clock(seconds).await?;
        }
    }
    Ok(Json(now(&platform, key.as_deref()).await?))
}

#[utoipa::path(get, path = "/admin/clock", tag = "clock", params(ClockQuery),
    responses(
        (status = 200, description = "The order clock", body = ClockAnswer),
        (status = 404, description = "No such merchant", body = ErrorBody),
        (status = "4XX", description = "A bad request", body = ErrorBody),
    ))]
pub async fn get(
    State(platform): State<Platform>,
    AdminQuery(query): AdminQuery<ClockQuery>,
) -> Result<Json<ClockAnswer>, ApiError> {
    let key = match query.app_key.as_deref() {
        Some(k) => Some(merchant(&platform, k).await?),
        None => None,
    };
    Ok(Json(now(&platform, key.as_deref()).await?))
}

/// The registered app named, or 404.
async fn merchant(platform: &Platform, app_key: &str) -> Result<Arc<str>, ApiError> {
    platform
        .store()
        .merchant(app_key, |m| Arc::<str>::from(m.app_key.as_str()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("app_key {app_key:?}: no such merchant")))
}

/// That merchant's clock, or the platform-wide one.
async fn now(platform: &Platform, app_key: Option<&str>) -> Result<ClockAnswer, ApiError> {
    let clock = platform.store().clock(app_key).await?;
    Ok(ClockAnswer { now: format_ms(clock.now_ms), offset_seconds: clock.offset_ms / 1000 })
}
