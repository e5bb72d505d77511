use std::sync::Arc;

use roster_delivery::Outbox;

use crate::limits::FormLimiter;
use roster_store::Store;

use crate::ServerSettings;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<ServerSettings>,
    pub outbox: Outbox,
    pub form_limiter: Arc<FormLimiter>,
}
