//! The admin API's one error type: `{"error": "…naming the field…"}` with a 4xx status (INTERFACES §1).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::model::TransitionError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The order's state (or the store) forbids the action.
    #[error("{0}")]
    Conflict(String),
    /// FAQ 2.28: the platform would not have sold or notified this order.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("missing or wrong admin token (Authorization: Bearer …)")]
    Unauthorized,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn field(field: &str, why: impl std::fmt::Display) -> Self {
        ApiError::BadRequest(format!("{field}: {why}"))
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        ApiError::Conflict(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("expected a JSON body with Content-Type: application/json".into())
            }
            // serde's message names the field (`missing field `app_key``, `num: invalid type …`).
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}
