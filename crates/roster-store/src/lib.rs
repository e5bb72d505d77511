//! Roster's storage: one [`Store`] trait that the server talks to, with one adapter per
//! backend. Every write method is one transaction: it commits whole or not at all, and a
//! successful return means the data is durable. All SQL lives in this crate.

use async_trait::async_trait;
use roster_domain::{
    ApiKey, AppCredentials, AppId, Contact, ContactFilter, ContactId, InputError, NewContact,
    OptoutChannel, Page, SecretHash, Timestamp, attributes::AttributeType,
};
use thiserror::Error;

pub mod sqlite;

pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

#[derive(Debug, Error)]
pub enum StoreError {
    /// The request names something that does not exist or cannot be (a 4xx for the caller).
    #[error(transparent)]
    Invalid(#[from] InputError),
    #[error("{0}")]
    NotFound(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An app as listed by `roster apps list`.
#[derive(Debug, Clone)]
pub struct AppSummary {
    pub app_id: AppId,
    pub name: String,
    pub api_key: ApiKey,
    pub created_date: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomAttribute {
    pub name: String,
    pub kind: AttributeType,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers (`/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    async fn create_app(
        &self,
        name: &str,
        api_key: &ApiKey,
        secret: &SecretHash,
    ) -> StoreResult<AppId>;
    async fn list_apps(&self) -> StoreResult<Vec<AppSummary>>;
    async fn app_by_api_key(&self, api_key: &str) -> StoreResult<Option<AppCredentials>>;
    async fn rotate_secret(&self, app: &AppId, secret: &SecretHash) -> StoreResult<()>;

    /// newContact: updates the contact the identity rule finds, else creates one.
    async fn upsert_contact(&self, app: &AppId, request: &NewContact) -> StoreResult<ContactId>;
    async fn find_contacts(
        &self,
        app: &AppId,
        filter: &ContactFilter,
        page: Page,
    ) -> StoreResult<Vec<Contact>>;
    async fn sms_optins(&self, app: &AppId, page: Page) -> StoreResult<Vec<Contact>>;
    async fn optouts(
        &self,
        app: &AppId,
        channel: Option<OptoutChannel>,
        page: Page,
    ) -> StoreResult<Vec<Contact>>;
    /// removeContact; `id` may be an id a merge retired.
    async fn remove_contact(&self, app: &AppId, id: &ContactId) -> StoreResult<()>;
    /// mergeContacts: `survivor` (the contract's `from_contact`) absorbs `retired`.
    async fn merge_contacts(
        &self,
        app: &AppId,
        survivor: &ContactId,
        retired: &ContactId,
    ) -> StoreResult<()>;
    async fn custom_attributes(&self, app: &AppId) -> StoreResult<Vec<CustomAttribute>>;
}

/// Options that apply whatever the backend.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    pub sqlite: SqliteOptions,
}

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url, &options.sqlite).await?;
        return Ok(std::sync::Arc::new(store));
    }
    Err(StoreError::UnsupportedUrl(url.to_string()))
}
