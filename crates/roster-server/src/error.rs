//! The one place where errors become HTTP responses. Client errors carry a message and,
//! where one field is at fault, its name: `{"status":"error","message":..,"field":..}`
//! (contract, "Conventions"). Anything else is logged and answered with an opaque 500.

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use roster_delivery::OutboxError;
use roster_domain::InputError;
use roster_store::StoreError;
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

use crate::{limits::RateLimited, protection::rate_headers};

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    PayloadTooLarge(String),
    /// One field of the body is too big (a string, an array, an object): 413 naming it.
    #[error("{message}")]
    FieldTooLarge { message: String, field: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The database is momentarily unable to serve; the client should retry.
    #[error("{0}")]
    Unavailable(String),
    /// The app spent its request budget (README, "Protection"): 429 with `Retry-After`.
    #[error("too many requests for this app; retry after {} s", .0.retry_after_seconds)]
    TooManyRequests(RateLimited),
    /// Every request slot is taken: answered at once rather than queued.
    #[error("the server is handling as many requests as it can; retry shortly")]
    Overloaded,
    /// The request took longer than the configured timeout and was abandoned.
    #[error(
        "the request took longer than {} ms and was abandoned; a write is applied whole or not at all",
        .0.as_millis()
    )]
    TimedOut(Duration),
    /// The provider refused a message permanently during the inline attempt: the
    /// contract's "500 only if the provider rejects permanently at request time".
    #[error("{0}")]
    ProviderRejected(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The error body of every non-2xx response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `error`.
    #[schema(example = "error")]
    pub status: &'static str,
    #[schema(example = "event_date must be a date, YYYY-MM-DD")]
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) | Self::FieldTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) | Self::Overloaded | Self::TimedOut(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::ProviderRejected(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<InputError> for ApiError {
    fn from(err: InputError) -> Self {
        Self::BadRequest {
            message: err.message,
            field: Some(err.field),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Invalid(input) => input.into(),
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Busy(detail) => {
                tracing::warn!(%detail, "database busy");
                Self::Unavailable("the database is busy; retry shortly".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<OutboxError> for ApiError {
    fn from(err: OutboxError) -> Self {
        match err {
            OutboxError::Store(err) => err.into(),
            rejected @ OutboxError::Rejected(_) => Self::ProviderRejected(rejected.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry = match &self {
            Self::Unavailable(_) | Self::Overloaded | Self::TimedOut(_) => Some(None),
            Self::TooManyRequests(limited) => Some(Some(*limited)),
            _ => None,
        };
        let (message, field) = match self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                ("internal error".to_string(), None)
            }
            Self::BadRequest { message, field } => (message, field),
            Self::FieldTooLarge { message, field } => (message, Some(field)),
            other => (other.to_string(), None),
        };
        let body = ErrorBody {
            status: "error",
            message,
            field,
        };
        let mut response = (status, Json(body)).into_response();
        match retry {
            Some(Some(limited)) => rate_limit_headers(response.headers_mut(), limited),
            Some(None) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            None => {}
        }
        response
    }
}

/// `Retry-After` and the IETF draft's `RateLimit-Limit/-Remaining/-Reset`; on a 429 the
/// reset is the seconds until a request is allowed again.
fn rate_limit_headers(headers: &mut HeaderMap, limited: RateLimited) {
    let wait = limited.retry_after_seconds;
    headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
    rate_headers::insert(headers, limited.limit, 0, wait);
}
