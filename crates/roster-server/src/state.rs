use std::sync::Arc;

use roster_delivery::Outbox;

use crate::limits::{AppRateLimiter, FormLimiter};
use roster_store::Store;

use crate::{ServerSettings, credentials::CredentialCache};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<ServerSettings>,
    pub outbox: Outbox,
    pub form_limiter: Arc<FormLimiter>,
    /// Requests per app (checked once the keys are known good).
    pub rate_limiter: Arc<AppRateLimiter>,
    /// App keys recently checked, so most requests skip the database for them.
    pub credentials: Arc<CredentialCache>,
}
