//! The admin API (INTERFACES.md §1.1), `/container` (FAQ 2.5) and `/console`.

mod error;
pub mod faults;
pub mod merchants;
pub mod orders;

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub use error::ApiError;

use crate::Platform;
use crate::clock::format_ms;

/// `Json` whose rejections answer in the admin error shape.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AdminJson<T>(pub T);

/// Parses an optional JSON body: empty means the default.
pub fn optional_body<T: Default + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

pub fn routes(platform: Platform) -> Router<Platform> {
    let protected = Router::new()
        .route("/admin/merchants", post(merchants::create).get(crate::console::list_merchants))
        .route("/admin/merchants/{app_key}", get(merchants::get_one))
        .route("/admin/orders", post(orders::create).get(orders::list))
        .route("/admin/orders/{order_id}", get(orders::get_one))
        .route("/admin/orders/{order_id}/resend", post(orders::resend))
        .route("/admin/orders/{order_id}/modify-mobile", post(orders::modify_mobile))
        .route("/admin/orders/{order_id}/refund", post(orders::refund))
        .route("/admin/orders/{order_id}/extend", post(orders::extend))
        .route("/admin/orders/{order_id}/rights-protection", post(orders::rights_protection))
        .route("/admin/orders/{order_id}/exchanges", get(orders::exchanges))
        .route("/admin/orders/{order_id}/case", get(crate::case::get_case))
        .route("/admin/faults", post(faults::create).get(faults::list))
        .route("/admin/faults/{id}", delete(faults::remove))
        .route("/admin/clock", post(advance_clock).get(get_clock))
        .route_layer(middleware::from_fn_with_state(platform, require_token));
    // `/console` checks the token itself: a browser loads it with `?token=` (INTERFACES §1, README "Console").
    Router::new().merge(protected).route("/container", get(container)).route("/console", get(crate::console::page))
}

/// INTERFACES §1: with an admin token configured, `/admin/*` and `/console` need it.
async fn require_token(State(platform): State<Platform>, headers: HeaderMap, request: Request, next: Next) -> Response {
    if let Some(token) = &platform.config().admin_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !protocol::signs_equal(token.expose(), given) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

/// Unknown routes: 404 in the admin error shape.
pub async fn not_found(request: Request) -> Response {
    ApiError::NotFound(format!("no route {} {}", request.method(), request.uri().path())).into_response()
}

#[derive(Debug, Deserialize)]
pub struct AdvanceClock {
    pub advance_seconds: u64,
}

async fn advance_clock(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<AdvanceClock>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = platform.advance_clock(body.advance_seconds);
    Ok(Json(
        serde_json::json!({ "now": format_ms(now.timestamp_millis()), "offset_seconds": platform.clock().offset_ms() / 1000 }),
    ))
}

async fn get_clock(State(platform): State<Platform>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "now": format_ms(platform.clock().now_ms()),
        "offset_seconds": platform.clock().offset_ms() / 1000,
    }))
}

#[derive(Debug, Deserialize)]
struct ContainerQuery {
    appkey: Option<String>,
}

/// FAQ 2.5: the container login redirects to the app's callback URL with `top_session`.
async fn container(State(platform): State<Platform>, Query(q): Query<ContainerQuery>) -> Response {
    let Some(app_key) = q.appkey.filter(|k| !k.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "missing appkey").into_response();
    };
    let data = platform.data();
    let Some(merchant) = data.merchants.get(app_key.as_str()) else {
        return (StatusCode::NOT_FOUND, "unknown appkey").into_response();
    };
    let Some(callback) = merchant.callback_url.as_deref().filter(|u| !u.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "the app has no callback_url").into_response();
    };
    let separator = if callback.contains('?') { '&' } else { '?' };
    let encoded: String = url_encode(&merchant.session);
    Redirect::to(&format!("{callback}{separator}top_session={encoded}")).into_response()
}

fn url_encode(text: &str) -> String {
    protocol::Params::from_pairs([("x", text)]).to_urlencoded(protocol::params::Charset::Utf8)[2..].to_owned()
}
