//! `POST /notify`: receive a notification, check it is genuine, record it, acknowledge at once.
//!
//! The order of the steps is the point of this file:
//! 1. Read the params from the query string *and* the body (PROTOCOL §3.1: the platform posts a form,
//!    the FAQ 2.25 example is a query string; `charset=gbk` bodies are decoded as GBK).
//! 2. Verify the sign with the **notify key** (not the app secret, FAQ 2.29) over every param received,
//!    unknown ones included (FAQ 2.14), in constant time.
//! 3. Refuse a stale notification: `timestamp` missing, not `yyyy-MM-dd HH:mm:ss` (epoch milliseconds are
//!    a TOP call's form, not a notification's, PROTOCOL §3.2) or more than 10 minutes from our clock (C2).
//!    A replayed notification is genuine but old; without this check anyone who once saw one could replay it.
//! 4. Only then parse it into a [`Notification`] and apply it in one transaction ([`crate::orders`]).
//! 5. Answer the exact bytes `{"code":200}` (FAQ 2.26: no other characters); the callback it implies
//!    starts only after this answer is written ([`crate::exchanges`]).
//!
//! Any failure before the commit answers HTTP 200 `{"code":501}` and writes nothing: the platform will retry a
//! genuine notification, and a forged one must leave no trace but a log line. A body over [`MAX_BODY`] and any
//! method but POST are refused the same way (the platform reads only the body, so the shape matters less than
//! never answering something a careless reader could take for an ack).

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use protocol::ack::{ACK_200, REJECT_501};
use protocol::time::check_notification_timestamp;
use protocol::{Notification, Params, verify_notify};

use crate::exchanges::ExchangeGuard;
use crate::orders::ApplyError;
use crate::server::AppState;

/// The largest notification body read; a real one is a few KiB.
pub const MAX_BODY: usize = 2 << 20;

/// The handler.
pub async fn notify(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Read here rather than by an extractor: an extractor's refusal (413, a body read error) is not our answer.
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(why) => return reject(StatusCode::OK, &why),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let params = match Params::from_request(query.as_deref(), content_type, body) {
        Ok(params) => params,
        Err(e) => return reject(StatusCode::OK, &format!("unreadable params: {e}")),
    };
    if let Err(e) = verify_notify(&state.config.notify_key, &params) {
        return reject(StatusCode::OK, &format!("sign: {e}"));
    }
    let now = Utc::now();
    if let Err(e) = check_notification_timestamp(params.get("timestamp"), now) {
        return reject(StatusCode::OK, &format!("stale: {e}"));
    }
    let notification = match Notification::from_params(&params) {
        Ok(n) => n,
        Err(e) => return reject(StatusCode::OK, &e.to_string()),
    };
    // Open the exchange *before* the commit, so the worker cannot see the new row without it.
    let guard = state.exchanges.open(notification.order_id.get());
    let (method, order_id) = (notification.method, notification.order_id);
    // Committed with whatever other notifications arrived meanwhile; answered only once durable.
    let applied = state.commits.apply(notification, params, now).await;
    match applied {
        Ok(applied) => {
            tracing::info!(%method, %order_id, outcome = applied.outcome, "notification acknowledged");
            acknowledge(guard)
        }
        Err(ApplyError::Invalid(why)) => reject(StatusCode::OK, &format!("{method} {order_id}: {why}")),
        // Not acknowledging makes the platform retry later, which is what we want from a failed disk.
        Err(ApplyError::Store(e)) => reject(StatusCode::INTERNAL_SERVER_ERROR, &format!("store: {e}")),
    }
}

/// The body, at most [`MAX_BODY`] bytes. A longer one is still read on, up to 8 times that, before the
/// refusal: answering while the client is still sending makes the closing connection reset, and the client
/// may then lose the answer.
async fn read_body(mut body: Body) -> Result<Bytes, String> {
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("unreadable body: {e}"))?;
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen <= MAX_BODY {
            kept.extend_from_slice(&data);
        } else if seen > 8 * MAX_BODY {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(format!("body over {MAX_BODY} bytes"));
    }
    Ok(kept.freeze())
}

/// Any method but POST on `/notify`.
pub async fn wrong_method(method: Method) -> Response {
    reject(StatusCode::OK, &format!("method {method}"))
}

/// `{"code":200}`, with the exchange closed when the body has been written.
///
/// `map_frame` with an identity closure is the smallest way to tie a value's lifetime to a body: the
/// closure owns the guard, hyper drops the body after its last frame, and the guard's `Drop` closes
/// the exchange. `Full` keeps the exact `Content-Length: 12`.
fn acknowledge(guard: ExchangeGuard) -> Response {
    let body = Full::new(Bytes::from_static(ACK_200)).map_frame(move |frame| {
        let _open_until_written = &guard;
        frame
    });
    ([(header::CONTENT_TYPE, "application/json")], Body::new(body)).into_response()
}

/// `{"code":501}`: anything but an acknowledgement makes the platform treat the notification as not
/// received (PROTOCOL §3.4); 501 is the convention real receivers use.
fn reject(status: StatusCode, why: &str) -> Response {
    tracing::warn!(reason = why, "notification rejected");
    (status, [(header::CONTENT_TYPE, "application/json")], REJECT_501).into_response()
}
