//! One error type for every handler, rendered as `{"error": "..."}` with the
//! right status; overload carries `Retry-After`.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use realizar::EngineError;
use serde_json::json;

use crate::admit::AdmitError;

/// A failed request, as the client sees it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The request body or its contents are wrong (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such model or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The route exists, the method does not (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body did not arrive in time (408).
    #[error("{0}")]
    Timeout(String),
    /// The body is larger than `max_body_bytes` (413).
    #[error("the request body is larger than the limit of {0} bytes (`max_body_bytes`)")]
    PayloadTooLarge(usize),
    /// The body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Every backend is full (503 with `Retry-After`).
    #[error("all backends are at capacity")]
    Overloaded {
        /// When to retry.
        retry_after: Duration,
    },
    /// Something broke on our side (500); details go to the log, not the client.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub(crate) fn unknown_model(name: &str) -> AppError {
        AppError::NotFound(format!("model `{}` is not loaded", super::clip(name)))
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> AppError {
        AppError::BadRequest(format!("bad path: {}", r.body_text()))
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> AppError {
        AppError::BadRequest(r.body_text())
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> AppError {
        match e {
            EngineError::UnknownModel(name) => AppError::unknown_model(&name),
            EngineError::Model(m) => AppError::BadRequest(m.to_string()),
            e @ (EngineError::NonFiniteInput { .. } | EngineError::EmptyInput { .. }) => {
                AppError::BadRequest(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<AdmitError> for AppError {
    fn from(e: AdmitError) -> AppError {
        match e {
            AdmitError::Overloaded { retry_after } => AppError::Overloaded { retry_after },
            AdmitError::Rejected(e) => e.into(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if let AppError::Overloaded { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after.as_secs().max(1).into());
        }
        response
    }
}
