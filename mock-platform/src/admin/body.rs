//! The admin API's body limit: bodies over 2 MiB get 413 `{"error": …}` that the client can read (INTERFACES §1).

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::ApiError;

/// The largest admin body taken (axum's default limit, kept explicit here).
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// How much of an oversized body is still read and dropped before the 413 goes out. A server that answers and
/// closes while the client is still sending makes the client's kernel see a reset, and the client then reads no
/// answer at all; reading to the end lets it read the 413. Beyond this bound the connection is cut mid-body.
const DRAIN_BYTES: usize = 64 << 20;

/// Buffers the body (at most [`MAX_BODY_BYTES`]) before the handler runs; refuses a larger one with 413 after
/// draining it.
pub async fn limit(request: Request, next: Next) -> Response {
    if declared_length(&request).is_some_and(|n| n > DRAIN_BYTES as u64) {
        return ApiError::too_large().into_response();
    }
    let (parts, body) = request.into_parts();
    match read(body).await {
        Ok(kept) => next.run(Request::from_parts(parts, Body::from(kept))).await,
        Err(error) => error.into_response(),
    }
}

/// Reads and drops a body that will not be used (an unknown route's), for the same reason as [`limit`].
pub async fn discard(request: Request) {
    if declared_length(&request).is_none_or(|n| n <= DRAIN_BYTES as u64) {
        let _ = read(request.into_body()).await;
    }
}

fn declared_length(request: &Request) -> Option<u64> {
    request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

/// The body if it is at most [`MAX_BODY_BYTES`]; else 413 once up to [`DRAIN_BYTES`] of it have been read.
async fn read(mut body: Body) -> Result<Vec<u8>, ApiError> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::BadRequest("body: the connection failed while it was read".into()))?;
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen <= MAX_BODY_BYTES {
            kept.extend_from_slice(&data);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    if seen > MAX_BODY_BYTES { Err(ApiError::too_large()) } else { Ok(kept) }
}
