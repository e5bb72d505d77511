use axum::{extract::FromRequestParts, http::request::Parts};
use roster_domain::{AppId, SecretHash};

use crate::{error::ApiError, protection::rate_headers, state::AppState};

/// The app whose `X-API-KEY` / `X-SECRET-KEY` the request carries. Missing or wrong keys
/// are a 401 (contract: a credential problem is never a 400, which integrators retry);
/// good keys of an app over its rate limit, a 429.
pub struct Authenticated {
    pub app_id: AppId,
}

impl Authenticated {
    /// Checks a key pair from wherever the protocol carries it (headers, or the v1 body).
    pub async fn check(
        state: &AppState,
        api_key: &str,
        secret_key: &str,
    ) -> Result<Self, ApiError> {
        let invalid = || ApiError::Unauthorized("invalid API key or secret key".into());
        let app = match state.credentials.remembered(api_key) {
            Some(app) if app.secret_hash.matches(secret_key) => app,
            // Not remembered, or another secret (perhaps just rotated): ask the store.
            _ => {
                let Some(app) = state.credentials.load(&*state.store, api_key).await? else {
                    // Spend the same hashing work as a real check so timing does not tell
                    // which half of the pair was wrong.
                    let _ = SecretHash::of("").matches(secret_key);
                    return Err(invalid());
                };
                if !app.secret_hash.matches(secret_key) {
                    return Err(invalid());
                }
                app
            }
        };
        // Only now: a request with wrong keys must not spend the app's budget.
        let allowance = state
            .rate_limiter
            .check(&app.app_id)
            .map_err(ApiError::TooManyRequests)?;
        if let Some(allowance) = allowance {
            rate_headers::report(allowance);
        }
        Ok(Self { app_id: app.app_id })
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ApiError::Unauthorized(format!("missing {name} header")))
        };
        let api_key = header("X-API-KEY")?;
        let secret_key = header("X-SECRET-KEY")?;
        Self::check(state, api_key, secret_key).await
    }
}
