//! The one error answer every route gives: a status code and `{"error": message}`, plus `"path"`
//! when a field of the payload is at fault. Messages never hold a secret, an expected signature
//! or a database error's text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// What went wrong, for the caller.
    pub message: String,
    /// The payload field at fault (`to[0].email`), if one is.
    pub path: Option<String>,
}

impl ApiError {
    /// An answer with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            path: None,
        }
    }

    /// The field at fault.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// A `500` that logs `error` (with its causes) and tells the caller nothing of it.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %crate::error::error_chain(error), "buildamp: internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.path {
            Some(path) => json!({"error": self.message, "path": path}),
            None => json!({"error": self.message}),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::internal(&error)
    }
}

/// The body, or the runtime's JSON answer for a body that could not be read (`413` over the
/// limit, with the limit).
pub(crate) fn body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the payload is larger than the {limit}-byte limit"),
        ),
        status => ApiError::new(status, e.body_text()),
    })
}
