//! The IETF draft's `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` on
//! every answer to an app whose rate is limited, so an integrator can pace itself before
//! it meets a 429 (README, "Protection").
//!
//! The bucket is checked where the keys are (`extract::auth`), deep inside the handler's
//! extractors, while the headers belong to the response. A task-local slot carries what
//! the check found out to this layer: it reaches the legacy endpoints, whose keys are in
//! the body, as well as the v2 ones.

use std::cell::Cell;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};

use crate::{limits::RateAllowance, state::AppState};

tokio::task_local! {
    static ALLOWANCE: Cell<Option<RateAllowance>>;
}

/// Remembers what the app's bucket holds after this request, for [`add`]. Outside the
/// layer (no slot), it is dropped.
pub fn report(allowance: RateAllowance) {
    let _ = ALLOWANCE.try_with(|slot| slot.set(Some(allowance)));
}

/// Adds the headers to a response whose request passed the rate check. A refused
/// request's 429 carries its own (`ApiError`); a request refused before the check (bad
/// keys) spent nothing and gets none.
pub async fn add(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.rate_limiter.is_on() {
        return next.run(req).await;
    }
    ALLOWANCE
        .scope(Cell::new(None), async {
            let mut response = next.run(req).await;
            let headers = response.headers_mut();
            if let Some(allowance) = ALLOWANCE.with(Cell::get)
                && !headers.contains_key(LIMIT)
            {
                insert(
                    headers,
                    allowance.limit,
                    allowance.remaining,
                    allowance.reset_seconds,
                );
            }
            response
        })
        .await
}

const LIMIT: &str = "ratelimit-limit";

/// The three headers: the bucket's size, what is left, and the seconds `reset` names.
pub fn insert(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: u64) {
    headers.insert(LIMIT, HeaderValue::from(limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(reset));
}
