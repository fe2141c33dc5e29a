//! The admin API (INTERFACES.md §1.1), `/container` (FAQ 2.5) and `/console`.

mod body;
mod checks;
mod clock;
mod error;
pub mod faults;
pub mod merchants;
pub mod openapi;
pub mod orders;

use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub use body::MAX_BODY_BYTES;
pub use clock::AdvanceClock;
pub use error::{ApiError, ErrorBody};

use crate::Platform;

/// A JSON object body (`Content-Type: application/json`) whose every refusal answers in the admin error shape.
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state).await?;
        json_object(&bytes).map(AdminJson)
    }
}

/// `application/json`, or an `application/…+json` type, as axum's `Json` takes.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON object into `T`. serde would also take an array as a struct's fields by position; an admin body
/// is always an object with named fields.
fn json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Json::<T>::from_bytes(bytes).map(|Json(body)| body).map_err(ApiError::from),
        // Still parsed, so that malformed JSON is named as such.
        _ => match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::BadRequest("body: must be a JSON object".into())),
            Err(e) => Err(ApiError::BadRequest(format!("invalid JSON body: {e}"))),
        },
    }
}

/// `Path` whose rejections (bad UTF-8, wrong type) answer in the admin error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AdminPath<T>(pub T);

/// `Query` whose rejections (duplicate or malformed fields) answer in the admin error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AdminQuery<T>(pub T);

/// Parses an optional JSON body: empty means the default; errors name the field like [`AdminJson`]'s.
pub fn optional_body<T: Default + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json_object(bytes)
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
        .route("/admin/clock", post(clock::advance).get(clock::get))
        .route("/admin/openapi.json", get(openapi::document))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(platform, require_token))
        // Outermost: an oversized body is refused (and drained) before anything else looks at the request.
        .route_layer(middleware::from_fn(body::limit));
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

/// A known admin path with a method it does not take: 405 in the admin error shape.
async fn method_not_allowed(request: Request) -> Response {
    let error =
        ApiError::MethodNotAllowed(format!("method {} is not allowed on {}", request.method(), request.uri().path()));
    body::discard(request).await;
    error.into_response()
}

/// Unknown routes: 404 in the admin error shape.
pub async fn not_found(request: Request) -> Response {
    let error = ApiError::NotFound(format!("no route {} {}", request.method(), request.uri().path()));
    body::discard(request).await;
    error.into_response()
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
    let target = platform
        .store()
        .merchant(&app_key, |merchant| {
            let callback = merchant.callback_url.as_deref().filter(|u| !u.is_empty())?;
            let separator = if callback.contains('?') { '&' } else { '?' };
            Some(format!("{callback}{separator}top_session={}", url_encode(merchant.session.expose())))
        })
        .await;
    let target = match target {
        Ok(target) => target,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match target {
        None => (StatusCode::NOT_FOUND, "unknown appkey").into_response(),
        Some(None) => (StatusCode::BAD_REQUEST, "the app has no callback_url").into_response(),
        Some(Some(url)) => Redirect::to(&url).into_response(),
    }
}

fn url_encode(text: &str) -> String {
    protocol::Params::from_pairs([("x", text)]).to_urlencoded(protocol::params::Charset::Utf8)[2..].to_owned()
}
