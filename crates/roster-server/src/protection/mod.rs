//! What a public API needs besides correctness: a bound on requests in flight, a request
//! timeout (both here), per-app rate limits (`crate::limits`, checked after
//! authentication; their headers: `rate_headers`) and limits on the shape of untrusted bodies (`json`, `form`).
//! README, "Protection", documents the defaults.

pub mod form;
pub mod json;
pub mod rate_headers;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use crate::{ProtectionSettings, error::ApiError};

/// The request slots and the timeout shared by every API request.
pub struct Guard {
    slots: Option<Semaphore>,
    timeout: Option<Duration>,
    /// Whether answers carry `RateLimit-*` headers (apps' rates are limited).
    rate_headers: bool,
}

impl Guard {
    /// `rate_headers`: whether apps' rates are limited (`AppRateLimiter::is_on`), so that
    /// answers carry what is left of their budget.
    pub fn new(settings: &ProtectionSettings, rate_headers: bool) -> Arc<Self> {
        Arc::new(Self {
            slots: (settings.max_concurrent_requests > 0)
                .then(|| Semaphore::new(settings.max_concurrent_requests)),
            timeout: (!settings.request_timeout.is_zero()).then_some(settings.request_timeout),
            rate_headers,
        })
    }
}

/// Takes a slot without waiting (none free: 503 now, not a queue that grows until every
/// client times out), then runs the request under the timeout, adding the rate limit's
/// headers (`rate_headers`). A timed-out request is
/// dropped: its body stops being read and an uncommitted transaction rolls back, except a
/// write already handed to SQLite's group-commit writer, which still commits whole (so a
/// 503 never says whether a write happened; README, "Protection").
pub async fn guard(
    State(guard): State<Arc<Guard>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let _slot = match &guard.slots {
        Some(slots) => match slots.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => return ApiError::Overloaded.into_response(),
        },
        None => None,
    };
    let answer = async {
        match guard.timeout {
            Some(limit) => match tokio::time::timeout(limit, next.run(req)).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!(?limit, "request timed out");
                    ApiError::TimedOut(limit).into_response()
                }
            },
            None => next.run(req).await,
        }
    };
    if guard.rate_headers {
        rate_headers::around(answer).await
    } else {
        answer.await
    }
}
