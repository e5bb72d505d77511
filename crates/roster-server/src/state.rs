use std::sync::Arc;

use roster_delivery::Outbox;

use crate::limits::{AppRateLimiter, FormLimiter};
use roster_store::Store;

use crate::{ServerSettings, credentials::CredentialCache};

/// Shared by every handler. Axum clones it for each request that extracts `State`, so it
/// is one `Arc`: one reference count to bump and drop where six `Arc`s took six (dropping
/// them was 4% of the request threads' CPU in newEvent's profile).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub settings: Arc<ServerSettings>,
    pub outbox: Outbox,
    pub form_limiter: Arc<FormLimiter>,
    /// Requests per app (checked once the keys are known good).
    pub rate_limiter: Arc<AppRateLimiter>,
    /// App keys recently checked, so most requests skip the database for them.
    pub credentials: Arc<CredentialCache>,
}

/// What the JSON body extractor (`extract::ApiJson`) checks bodies against.
impl axum::extract::FromRef<AppState> for crate::JsonLimits {
    fn from_ref(state: &AppState) -> Self {
        state.settings.protection.json
    }
}
