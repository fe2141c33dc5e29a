//! The staff console at `/console`: one self-contained HTML page (inline CSS and JS, no external asset) that
//! drives the admin API from the browser — merchants, orders with live state, each order's timeline, the
//! suite actions, case export, and a form to buy an order.
//!
//! The page embeds no data: everything it shows comes from `fetch` calls to `/admin/*`, and its script builds
//! the DOM with `textContent` only, so no merchant-supplied byte is ever parsed as HTML.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Platform;
use crate::admin::ApiError;

/// The page, served as is.
pub const PAGE: &str = include_str!("console.html");
/// Replaced in [`PAGE`] by each response's CSP nonce.
const NONCE_PLACEHOLDER: &str = "__CSP_NONCE__";

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    token: Option<String>,
}

/// `GET /console`. With an admin token configured the page needs it (INTERFACES §1), either as
/// `Authorization: Bearer TOKEN` or — what a browser can do from its address bar — as `?token=TOKEN`; the
/// page's script then sends it as a bearer token on every admin call.
pub async fn page(State(platform): State<Platform>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    if let Some(token) = &platform.config().admin_token {
        let bearer =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let given = bearer.or(query.token.as_deref()).unwrap_or_default();
        if !protocol::signs_equal(token.expose(), given) {
            return ApiError::Unauthorized.into_response();
        }
    }
    // Defence in depth behind the textContent rule: only the page's own script runs (a per-response nonce, so an
    // injected inline handler would not), it talks only to its own origin, and a `?token=` URL is not leaked
    // through Referer.
    let nonce: String = (0..16).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; \
         img-src 'self' data: blob:; base-uri 'none'; form-action 'none'"
    );
    let mut response = PAGE.replace(NONCE_PLACEHOLDER, &nonce).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /admin/merchants`: `{"merchants": [merchant…]}` by `app_key`, secrets masked (the console's list).
#[utoipa::path(get, path = "/admin/merchants", tag = "merchants",
    responses(
        (status = 200, description = "`{\"merchants\": [merchant…]}` by app_key, secrets and sessions masked", body = Value),
        (status = "4XX", description = "A bad request", body = crate::admin::ErrorBody),
    ))]
pub async fn list_merchants(State(platform): State<Platform>) -> Result<Json<Value>, crate::ApiError> {
    let mut merchants: Vec<Value> = platform.store().merchants(|m| serde_json::to_value(m).unwrap_or_default()).await?;
    merchants.sort_by(|a, b| a["app_key"].as_str().cmp(&b["app_key"].as_str()));
    Ok(Json(json!({ "merchants": merchants })))
}

#[cfg(test)]
mod tests {
    use super::PAGE;

    #[test]
    fn the_page_never_parses_data_as_html() {
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            assert!(!PAGE.contains(sink), "console.html uses {sink}");
        }
    }

    #[test]
    fn the_page_has_one_script_and_it_carries_the_nonce_placeholder() {
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert!(PAGE.contains(&format!("<script nonce=\"{}\">", super::NONCE_PLACEHOLDER)));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for external in ["http://", "https://", "//cdn", "<link", "src=\""] {
            assert!(!PAGE.contains(external), "console.html references {external}");
        }
    }
}
