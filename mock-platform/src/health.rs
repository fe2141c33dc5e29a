//! `GET /healthz`: 200 `{"status": "ok"}` only when the store answers, 503 `{"error": …}` otherwise (INTERFACES §1).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Platform;

/// How long the store may take to answer before the platform is reported unready: a load balancer's probe must
/// get an answer, not hang behind a stuck disk.
pub const STORE_DEADLINE: Duration = Duration::from_secs(1);

/// `GET /healthz`. Open like the gateway (no admin token): load balancers and orchestrators probe it.
pub async fn serve(State(platform): State<Platform>) -> Response {
    let error = if platform.store().is_shared() {
        // The database answers `SELECT 1` within the deadline (`PgStore::ready` bounds it).
        match tokio::time::timeout(STORE_DEADLINE, platform.store().ready()).await {
            Ok(Ok(())) => return ok(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("the store did not answer within {} ms", STORE_DEADLINE.as_millis()),
        }
    } else {
        // The store's lock and SQLite are blocking: off the runtime's threads, so a stuck store cannot stall them.
        let check = tokio::task::spawn_blocking(move || store_answers(&platform));
        match tokio::time::timeout(STORE_DEADLINE, check).await {
            Ok(Ok(Ok(()))) => return ok(),
            Ok(Ok(Err(e))) => e.to_string(),
            Ok(Err(_)) => "the store check failed".to_owned(),
            Err(_) => format!("the store did not answer within {} ms", STORE_DEADLINE.as_millis()),
        }
    };
    tracing::warn!("unready: {error}");
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": error}))).into_response()
}

/// In memory the store is the process itself; with SQLite, a trivial query on its connection (under the store's
/// lock, as every access).
fn store_answers(platform: &Platform) -> Result<(), crate::Unavailable> {
    platform.store().ready_blocking()
}

fn ok() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}
