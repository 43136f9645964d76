//! The one error type of every handler, rendered as the protocol's JSON error body.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gridpatrol_protocol::{codes, ErrorBody};
use gridpatrol_server_storage::StoreError;

/// An HTTP error with a stable code and a human message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// One of [`gridpatrol_protocol::codes`].
    pub code: &'static str,
    /// Human explanation.
    pub message: String,
    /// Extra response headers (e.g. the current upload offset on 409).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 400 malformed_request.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::MALFORMED_REQUEST, message)
    }

    /// 404 not_found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    /// 500 internal; the cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "internal server error; nothing was changed",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(ErrorBody::new(self.code, self.message))).into_response();
        resp.headers_mut()
            .extend(self.headers.into_iter().map(|(k, v)| (Some(k), v)));
        resp
    }
}

/// Maps a body-reading rejection (size limit, broken stream) to our error shape.
pub fn body_rejection(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            "request body exceeds the size limit of this endpoint",
        )
    } else {
        ApiError::malformed(format!("could not read request body: {}", e.body_text()))
    }
}

/// Parses a JSON body with a clear 400 on failure.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::malformed(format!("invalid JSON body: {e}")))
}
