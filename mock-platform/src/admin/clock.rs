//! `POST /admin/clock` and `GET /admin/clock`: the platform-wide order clock (INTERFACES §1).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminJson, ApiError};
use crate::Platform;
use crate::clock::{MAX_ADVANCE_SECONDS, MAX_OFFSET_MS, format_ms};

/// The body of `POST /admin/clock`. `app_key` (a per-merchant clock, INTERFACES §1) is not taken yet: it is
/// refused as an unknown field rather than silently moving every merchant's clock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// Signed, so that a negative value is answered by the bound check below, naming the field.
    pub advance_seconds: i64,
}

pub async fn advance(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<AdvanceClock>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(get(State(platform)).await)
}

pub async fn get(State(platform): State<Platform>) -> Json<Value> {
    Json(json!({
        "now": format_ms(platform.clock().now_ms()),
        "offset_seconds": platform.clock().offset_ms() / 1000,
    }))
}
