//! The TOP gateway `/router/rest` (PROTOCOL §4): every answer is HTTP 200 with a TOP envelope.
//!
//! A call goes: HTTP method (9) → read and merge params (41/43) → C4 hold for callbacks → system checks
//! (`system.rs`, steps 2–12) → injected fault (B0) → the API (`apis/`, step 13) → record on the order.
//! A `lost_answer` fault lets the API run and then loses its answer (`lost.rs`).

pub mod apis;
mod lost;
pub mod system;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use protocol::{Params, ResponseFormat, SuccessBody, TopError};
use rand::Rng;

use crate::Platform;
use crate::exchange::{self, Exchange, GatewayExchange, ParamList};
use crate::faults::{FaultAction, LostAnswer};

pub fn routes() -> Router<Platform> {
    Router::new().route("/router/rest", any(router_rest)).route("/qr/{name}", axum::routing::get(qr_image))
}

/// `qrcode_url` targets (§5.8): the images uploaded with qrcode.upload.
async fn qr_image(
    State(platform): State<Platform>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match platform.store().qr_image(&name).await {
        Ok(Some(bytes)) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
        Ok(None) => crate::admin::ApiError::NotFound(format!("no QR image {name:?}")).into_response(),
        Err(e) => crate::admin::ApiError::from(e).into_response(),
    }
}

/// 12 random `[a-z0-9]` (§4.6): the base-36 digits of one uniform draw below 36^12 (one draw per call, not 12).
pub fn request_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = rand::rng().random_range(0..36u64.pow(12));
    let mut id = [0u8; 12];
    for c in &mut id {
        *c = CHARS[(n % 36) as usize];
        n /= 36;
    }
    id.iter().map(|&c| c as char).collect()
}

fn envelope(body: String, format: ResponseFormat) -> Response {
    // `from_static`: the header value is neither validated nor copied on every answer.
    let content_type = header::HeaderValue::from_static(format.content_type());
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A call refused before its params could be read (XML: no `format` is known yet), counted in `/metrics`.
fn refused(platform: &Platform, error: TopError, request_id: &str, arrived: Instant) -> Response {
    platform.metrics().gateway_call(None, error.code, arrived.elapsed());
    envelope(error.render(ResponseFormat::Xml, request_id), ResponseFormat::Xml)
}

/// What the C4 hold saw.
#[derive(Debug, Clone, Copy, Default)]
struct Hold {
    held: bool,
    held_ms: i64,
    /// The attempt was still open when the hold ended.
    timed_out: bool,
}

/// PROTOCOL §6 C4: a callback arriving while its cause's attempt is open waits for that attempt, up to the hold.
async fn hold_for_cause(platform: &Platform, order_id: i64, causes: &[protocol::NotifyMethod]) -> Hold {
    let Some(mut done) = platform.store().attempt_open(order_id, causes).await else { return Hold::default() };
    let start = Instant::now();
    let finished =
        tokio::time::timeout(platform.config().c4_hold, done.wait_for(|done| *done)).await.is_ok_and(|r| r.is_ok());
    Hold { held: true, held_ms: start.elapsed().as_millis() as i64, timed_out: !finished }
}

async fn router_rest(
    State(platform): State<Platform>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let request_id = request_id();
    // 1. GET and POST only (9).
    if method != Method::GET && method != Method::POST {
        return refused(&platform, TopError::HTTP_ACTION_NOT_ALLOWED, &request_id, arrived);
    }
    let (started, started_seq) = platform.exchange_started();
    let Ok(bytes) = axum::body::to_bytes(body, platform.config().max_body_bytes).await else {
        return refused(&platform, TopError::INVALID_PARAMETER, &request_id, arrived);
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let params = match Params::from_request(uri.query(), content_type, bytes) {
        Ok(params) => params,
        Err(e) => {
            let error = e.param_name().map_or(TopError::INVALID_PARAMETER, TopError::invalid_argument);
            return refused(&platform, error, &request_id, arrived);
        }
    };
    let api = params.non_empty("method").and_then(apis::find);
    let order_id = api.and_then(|a| a.order_param).and_then(|name| apis::number(&params, name));
    let hold = match (api, order_id) {
        (Some(api), Some(id)) if !api.causes.is_empty() => hold_for_cause(&platform, id, api.causes).await,
        _ => Hold::default(),
    };
    let mut outcome = process(&platform, &params, order_id, hold).await;
    // The fields are rendered once and not needed afterwards: moved into the body, not cloned.
    let body = match &mut outcome.result {
        Ok(fields) => SuccessBody::new(std::mem::take(&mut outcome.api_name), std::mem::take(fields)).render(
            outcome.format,
            outcome.simplify,
            &request_id,
        ),
        Err(e) => e.render(outcome.format, &request_id),
    };
    let code = outcome.result.as_ref().err().map(|e| e.code);
    platform.metrics().gateway_call(api.map(|a| a.name), code.unwrap_or(0), arrived.elapsed());
    if let Some(id) = order_id {
        let finished = platform.clock().wall_now().timestamp_millis();
        let error = outcome.result.as_ref().err();
        // Built before taking the lock, as every call was before the recording rule: the lock is held briefly.
        let exchange = GatewayExchange {
            api: match api {
                Some(api) => api.name.into(),
                None => exchange::cut(params.get("method").unwrap_or_default()).into_owned().into(),
            },
            http_method: if method == Method::GET { "GET" } else { "POST" },
            params: ParamList::of(&params),
            started_at_ms: started,
            started_seq,
            finished_at_ms: finished,
            latency_ms: finished - started,
            held_ms: hold.held_ms,
            response: body.clone(),
            error_code: error.map(|e| e.code),
            sub_code: error.and_then(|e| e.sub_code.clone()),
            causality: outcome.causality,
            cause_acked: outcome.cause_acked,
            fault: outcome.fault.take(),
            sign_diagnosis: outcome.sign_diagnosis,
            answer_lost: outcome.lost.map(|l| l.as_str().to_owned()),
        };
        match platform
            .store()
            .record_gateway_exchange(params.get("app_key").unwrap_or_default(), id, Exchange::Gateway(exchange))
            .await
        {
            Ok(Ok(true)) => platform.metrics().dropped(),
            Ok(Ok(false)) => {}
            Ok(Err(why)) => platform.metrics().unrecorded(why),
            Err(e) => tracing::warn!(order_id = id, "gateway call not recorded: {e}"),
        }
    }
    tracing::info!(
        api = params.get("method").unwrap_or_default(),
        order_id,
        code,
        held_ms = hold.held_ms,
        answer_lost = outcome.lost.map(LostAnswer::as_str),
        "gateway call"
    );
    match outcome.lost {
        None => envelope(body, outcome.format),
        Some(LostAnswer::Transient) => envelope(lost::transient_answer(outcome.format, &request_id), outcome.format),
        Some(LostAnswer::Close) => lost::close_without_answer(),
    }
}

/// The result of the checks and the API.
#[derive(Debug)]
struct Outcome {
    api_name: String,
    format: ResponseFormat,
    simplify: bool,
    result: Result<protocol::Fields, TopError>,
    causality: Option<&'static str>,
    cause_acked: Option<bool>,
    fault: Option<String>,
    sign_diagnosis: Option<&'static str>,
    /// A `lost_answer` fault: the call was applied, and this is how its answer is lost.
    lost: Option<LostAnswer>,
}

/// A store that does not answer (a shared store's database is down) is a transient platform error for the caller:
/// `isp.top-remote-connection-timeout` (code 15), which a merchant retries (PROTOCOL §6 C8).
/// Answered in the format the call asked for (before the checks, which set it for every other answer, could run).
fn store_unavailable(outcome: &mut Outcome, params: &Params, error: crate::store::Unavailable) {
    tracing::warn!(api = %outcome.api_name, "gateway: {error}");
    if let Ok(format) = ResponseFormat::parse(params.get("format")) {
        outcome.format = format;
    }
    outcome.result = Err(protocol::SubCode::RemoteConnectionTimeout.error());
}

/// The value of a store operation, or the call answered [`store_unavailable`].
macro_rules! answered {
    ($outcome:ident, $params:ident, $operation:expr) => {
        match $operation {
            Ok(value) => value,
            Err(error) => {
                store_unavailable(&mut $outcome, $params, error);
                return $outcome;
            }
        }
    };
}

async fn process(platform: &Platform, params: &Params, order_id: Option<i64>, hold: Hold) -> Outcome {
    let wall = platform.clock().wall_now();
    let mut outcome = Outcome {
        api_name: params.get("method").unwrap_or_default().to_owned(),
        format: ResponseFormat::Xml,
        simplify: false,
        result: Ok(Vec::new()),
        causality: None,
        cause_acked: None,
        fault: None,
        sign_diagnosis: None,
        lost: None,
    };
    // The calling merchant's clock (session expiry, daily quota; an unknown app reads the platform-wide one) and
    // its app secret, read together. Step 5's sign check and step 6's timestamp check are computed before the lock
    // (only the app secret is read under it).
    let caller = params.get("app_key").unwrap_or_default();
    let (now, secret) =
        answered!(outcome, params, platform.store().clock_and_merchant(caller, |m| m.app_secret.clone()).await);
    // An empty app_key names no merchant (step 3 refuses it).
    let secret = secret.filter(|_| !caller.is_empty());
    let pre = system::pre_verify(secret, params);
    let timestamp = system::pre_check_timestamp(params, wall);
    // The C4 verdict: was the cause acknowledged when the hold ended?
    let api = apis::find(&outcome.api_name);
    if let (Some(api), Some(id)) = (api, order_id)
        && !api.causes.is_empty()
    {
        let acked = answered!(
            outcome,
            params,
            platform.store().order(id, |o| api.causes.iter().any(|m| o.delivery.has_acked(*m))).await
        )
        .unwrap_or(false);
        outcome.cause_acked = Some(acked);
        outcome.causality = Some(match (acked, hold.held && hold.timed_out) {
            (true, _) => "ok",
            (false, true) => "before_ack",
            (false, false) => "no_cause",
        });
    }
    // Steps 2–12 on the caller's merchant (session, quota), then B0.
    let app_key = params.non_empty("app_key").unwrap_or_default();
    let checked = answered!(
        outcome,
        params,
        platform.store().with_merchant(app_key, |merchant| system::check(merchant, params, pre, timestamp, now)).await
    );
    let checked = match checked {
        Ok(checked) => checked,
        Err(refusal) => {
            outcome.format = refusal.format;
            outcome.sign_diagnosis = refusal.sign_diagnosis;
            outcome.result = Err(refusal.error);
            return outcome;
        }
    };
    let action = answered!(
        outcome,
        params,
        platform.store().take_gateway_fault(checked.api.name, &checked.app_key, order_id).await
    );
    outcome.format = checked.format;
    outcome.simplify = checked.simplify;
    match action {
        Some(FaultAction::Answer(error)) => {
            outcome.fault = Some("answer".into());
            outcome.result = Err(error);
            return outcome;
        }
        Some(FaultAction::DelayMs(ms)) => {
            outcome.fault = Some("delay".into());
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Some(FaultAction::LostAnswer(form)) => {
            outcome.fault = Some("lost_answer".into());
            outcome.lost = Some(form);
        }
        None => {}
    }
    // Step 13, under the lock: calls for one order are processed one at a time.
    let wall_ms = platform.clock().wall_now().timestamp_millis();
    let scope = apis::scope(checked.api, params, order_id);
    let mut result = None;
    let queued = platform
        .store()
        .gateway_call(&checked.app_key, &scope, wall_ms, platform.config().auto_close_ms(), |tx| {
            // Now as the store read it with the order locked (on PostgreSQL, the database's clock).
            let now_ms = tx.now_ms();
            let mut ctx = apis::Ctx {
                tx,
                app_key: checked.app_key.clone(),
                now_ms,
                gateway_base_url: platform.config().gateway_base_url.as_deref(),
                queued: false,
            };
            // §5.0 B1: every e-voucher API refuses a merchant that has not joined the platform.
            let joined = ctx.tx.merchant(&checked.app_key).is_none_or(|m| m.joined);
            result = Some(if checked.api.needs_permission && !joined {
                Err(protocol::SubCode::InvalidEticketSeller.error())
            } else {
                (checked.api.run)(&mut ctx, params)
            });
            ctx.queued
        })
        .await;
    let queued = answered!(outcome, params, queued);
    if let Some(result) = result {
        outcome.result = result;
    }
    if queued {
        platform.wake();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_12_lowercase_alphanumerics_and_vary() {
        let ids: std::collections::HashSet<String> = (0..200).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 200);
        assert!(
            ids.iter().all(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        );
        // Every position takes letters and digits alike (the digits are not stuck at one end).
        for i in 0..12 {
            assert!(ids.iter().any(|id| id.as_bytes()[i].is_ascii_digit()), "position {i}");
            assert!(ids.iter().any(|id| id.as_bytes()[i].is_ascii_lowercase()), "position {i}");
        }
    }
}
