//! The admin API's one error type: `{"error": "…naming the field…"}` with a 4xx status (INTERFACES §1), or 503 when
//! the store does not answer.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::model::TransitionError;

/// The shape of every admin error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong, naming the field (`advance_seconds: must be an integer from 0 to 315360000`).
    pub error: String,
}

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
    /// A body over [`super::MAX_BODY_BYTES`].
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("missing or wrong admin token (Authorization: Bearer …)")]
    Unauthorized,
    /// The store did not answer (a shared store's database is down): 503, try again.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn field(field: &str, why: impl std::fmt::Display) -> Self {
        ApiError::BadRequest(format!("{field}: {why}"))
    }

    pub fn too_large() -> Self {
        ApiError::PayloadTooLarge(format!("body: larger than {} bytes", super::MAX_BODY_BYTES))
    }
}

impl From<crate::store::Unavailable> for ApiError {
    fn from(e: crate::store::Unavailable) -> Self {
        tracing::warn!("admin: {e}");
        ApiError::Unavailable(e.to_string())
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
            // serde_path_to_error's text starts with the field's path (`gateway_faults[0].delay_ms: invalid type …`,
            // or serde's own `unknown field `valid_end`, expected one of …` at the top level).
            JsonRejection::JsonDataError(e) => ApiError::BadRequest(detail(&e.body_text())),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::BadRequest(format!("invalid JSON body: {}", detail(&e.body_text())))
            }
            JsonRejection::BytesRejection(e) => e.into(),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::BadRequest(format!("body: could not be read ({})", rejection.body_text()))
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(format!("path: {}", detail(&rejection.body_text())))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!("query: {}", detail(&rejection.body_text())))
    }
}

/// The part of an axum rejection's text after its generic lead (`Failed to deserialize …: `), which is the part
/// naming the field.
fn detail(text: &str) -> String {
    for lead in [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to parse the request body as JSON: ",
        "Failed to deserialize query string: ",
        "Invalid URL: ",
        "Failed to deserialize path: ",
    ] {
        if let Some(rest) = text.strip_prefix(lead) {
            return rest.to_owned();
        }
    }
    text.to_owned()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(ErrorBody { error: self.to_string() })).into_response()
    }
}
