//! App credentials by API key, remembered for a few seconds.
//!
//! Every authenticated request needs its app's secret hash; reading it from the database
//! each time cost more than the rest of a newEvent. Keys change only through the CLI
//! (another process), so a short memory is safe: a rotated secret stops working within
//! [`REMEMBER_FOR`] (README, `apps rotate-secret`). A secret that does not match the
//! remembered one is checked against the database before it is refused, so the new
//! secret works at once. Unknown keys are never remembered, so guessing cannot fill the
//! memory, and a new app's keys work at once.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use roster_domain::AppCredentials;
use roster_store::{Store, StoreResult};

/// How long a looked-up app's credentials are used without asking the database again.
pub const REMEMBER_FOR: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct CredentialCache {
    known: RwLock<HashMap<String, (Instant, AppCredentials)>>,
}

impl CredentialCache {
    /// The app owning `api_key` as remembered, if it was looked up recently.
    pub fn remembered(&self, api_key: &str) -> Option<AppCredentials> {
        let known = self
            .known
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known
            .get(api_key)
            .filter(|(since, _)| since.elapsed() < REMEMBER_FOR)
            .map(|(_, app)| app.clone())
    }

    /// The app owning `api_key`, read from the store (and remembered).
    pub async fn load(
        &self,
        store: &dyn Store,
        api_key: &str,
    ) -> StoreResult<Option<AppCredentials>> {
        let Some(app) = store.app_by_api_key(api_key).await? else {
            // Unknown keys take no lock: a flood of guesses must not stall the good ones.
            return Ok(None);
        };
        let mut known = self
            .known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.retain(|_, (since, _)| since.elapsed() < REMEMBER_FOR);
        known.insert(api_key.to_string(), (Instant::now(), app.clone()));
        Ok(Some(app))
    }
}
