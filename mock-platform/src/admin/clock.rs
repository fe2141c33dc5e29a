//! `POST /admin/clock` and `GET /admin/clock`: the platform-wide order clock (INTERFACES §1).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{AdminJson, AdminQuery, ApiError, ErrorBody};
use crate::Platform;
use crate::clock::{MAX_ADVANCE_SECONDS, MAX_OFFSET_MS, format_ms};

/// The body of `POST /admin/clock`. `app_key` (a per-merchant clock, INTERFACES §1) is not taken yet: it is
/// refused as an unknown field rather than silently moving every merchant's clock.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// Signed, so that a negative value is answered by the bound check below, naming the field.
    #[schema(minimum = 0, maximum = 315_360_000)]
    pub advance_seconds: i64,
}

/// The query of `GET /admin/clock`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClockQuery {
    /// That merchant's clock. No merchant has an offset of its own yet, so it reads the platform-wide clock; an
    /// unknown app is 404.
    pub app_key: Option<String>,
}

/// The order clock: `now` (`yyyy-MM-dd HH:mm:ss` GMT+8) and its offset from the wall clock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockAnswer {
    #[schema(example = "2026-12-07 10:00:00")]
    pub now: String,
    pub offset_seconds: i64,
}

#[utoipa::path(post, path = "/admin/clock", tag = "clock", request_body = AdvanceClock,
    responses(
        (status = 200, description = "The order clock after the advance", body = ClockAnswer),
        (status = "4XX", description = "advance_seconds out of range, or an unknown field", body = ErrorBody),
    ))]
pub async fn advance(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<AdvanceClock>,
) -> Result<Json<ClockAnswer>, ApiError> {
    let seconds = u64::try_from(body.advance_seconds).ok().filter(|s| *s <= MAX_ADVANCE_SECONDS).ok_or_else(|| {
        ApiError::field("advance_seconds", format!("must be an integer from 0 to {MAX_ADVANCE_SECONDS}"))
    })?;
    let headroom = platform.clock().headroom_seconds();
    if seconds > headroom {
        return Err(ApiError::field(
            "advance_seconds",
            format!(
                "the order clock may run at most {} years ahead of the wall clock; {headroom} s are left",
                MAX_OFFSET_MS / (365 * 86_400_000)
            ),
        ));
    }
    platform.advance_clock(seconds);
    Ok(Json(now(&platform)))
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
    if let Some(app_key) = query.app_key
        && platform.store().merchant(&app_key, |_| ()).is_none()
    {
        return Err(ApiError::NotFound(format!("app_key {app_key:?}: no such merchant")));
    }
    Ok(Json(now(&platform)))
}

fn now(platform: &Platform) -> ClockAnswer {
    ClockAnswer { now: format_ms(platform.clock().now_ms()), offset_seconds: platform.clock().offset_ms() / 1000 }
}
