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
    http::{HeaderMap, HeaderName, HeaderValue},
    response::Response,
};

use crate::limits::RateAllowance;

tokio::task_local! {
    static ALLOWANCE: Cell<Option<RateAllowance>>;
}

/// Remembers what the app's bucket holds after this request, for [`around`]. Outside the
/// layer (no slot), it is dropped.
pub fn report(allowance: RateAllowance) {
    let _ = ALLOWANCE.try_with(|slot| slot.set(Some(allowance)));
}

/// Runs `answer` (a request's handling) and adds the headers to its response if the
/// request passed the rate check. A refused request's 429 carries its own (`ApiError`); a
/// request refused before the check (bad keys) spent nothing and gets none. Called by the
/// guard every API request already passes (`super::guard`) rather than as a layer of its
/// own, which would add a layer to every request for no gain.
pub async fn around(answer: impl Future<Output = Response>) -> Response {
    ALLOWANCE
        .scope(Cell::new(None), async {
            let mut response = answer.await;
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

// Named once: a name given as text is parsed again at every insert.
const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The three headers: the bucket's size, what is left, and the seconds `reset` names.
pub fn insert(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: u64) {
    headers.insert(LIMIT, HeaderValue::from(limit));
    headers.insert(REMAINING, HeaderValue::from(remaining));
    headers.insert(RESET, HeaderValue::from(reset));
}
