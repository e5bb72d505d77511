//! Roster's storage: one [`Store`] trait that the server talks to, implemented once
//! ([`SqlStore`]) over a backend: SQLite, the embedded default, or PostgreSQL. Every write
//! method is one transaction: it commits whole or not at all, and a successful return
//! means the data is durable. All SQL lives in this crate.

use std::sync::Arc;

use async_trait::async_trait;
use roster_domain::{
    ApiKey, AppCredentials, AppId, Class, Contact, ContactFilter, ContactId, ContactIdentity, Date,
    Event, EventTypeSummary, InputError, Location, NewClass, NewContact, NewEvent, NewLocation,
    NewMembership, OptoutChannel, Page, SecretHash, Timestamp,
    attributes::AttributeType,
    engagement::{
        Campaign, CampaignStatus, Form, NewCampaign, NewForm, NewWorkroom, Submission, Workroom,
    },
    messaging::{
        Channel, Claimed, Delivery, KeywordReplies, Lease, Message, MessageFilter,
        MessagingSettings, Outgoing, ProviderStatus,
    },
};

pub use engagement::{StoredSubmission, Trust};
pub use events::EventQuery;
pub use messaging::{ConsentRecord, Inbound, OptinRequest, inbound::Received, outbox::MessageRef};
pub use related::{Include, Related};
pub use studio::ScheduleQuery;
use thiserror::Error;

mod apps;
mod backend;
pub mod campaigns;
mod conn;
mod contacts;
pub mod copy;
pub mod engagement;
pub mod events;
pub mod group_commit;
pub mod memberships;
pub mod messaging;
pub mod postgres;
pub mod related;
mod rows;
pub mod sqlite;
pub mod studio;

pub use backend::SqlStore;
pub use postgres::{PgOptions, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

#[derive(Debug, Error)]
pub enum StoreError {
    /// The request names something that does not exist or cannot be (a 4xx for the caller).
    #[error(transparent)]
    Invalid(#[from] InputError),
    #[error("{0}")]
    NotFound(String),
    /// An operation that would do harm and was not started.
    #[error("{0}")]
    Refused(String),
    /// The database could not take the write now (lock timeout, deadlock); retrying helps.
    #[error("database busy: {0}")]
    Busy(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("could not start the database writer: {0}")]
    Writer(std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        // PostgreSQL: deadlock, serialization failure, lock not available, statement or
        // lock timeout; SQLite: busy.
        // Also a unique violation on PostgreSQL: the checks before each insert run under
        // locks, so one can only come from a race with another transaction (a merge
        // crossing a campaign's fan-out), which a retry resolves.
        const RETRYABLE: &[&str] = &["40P01", "40001", "55P03", "57014", "23505", "5", "517"];
        if let sqlx::Error::Database(db) = &err
            && db
                .code()
                .is_some_and(|code| RETRYABLE.contains(&code.as_ref()))
        {
            return StoreError::Busy(db.message().to_string());
        }
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return StoreError::Busy("no database connection free in time".into());
        }
        StoreError::Database(err)
    }
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
    /// Creates an app only if the database has none (first start); `None` if it had one.
    async fn create_first_app(
        &self,
        name: &str,
        api_key: &ApiKey,
        secret: &SecretHash,
    ) -> StoreResult<Option<AppId>>;
    async fn list_apps(&self) -> StoreResult<Vec<AppSummary>>;
    async fn app_by_api_key(&self, api_key: &str) -> StoreResult<Option<AppCredentials>>;
    async fn app_exists(&self, app: &AppId) -> StoreResult<bool>;
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
    /// getCustomers: a page of contacts, each with what `include` asks for.
    async fn find_customers(
        &self,
        app: &AppId,
        filter: &ContactFilter,
        page: Page,
        include: Include,
    ) -> StoreResult<Vec<(Contact, Related)>>;

    /// newEvent: upsert by the caller's event id; creates a minimal contact if none matches.
    async fn record_event(&self, app: &AppId, event: &NewEvent) -> StoreResult<()>;
    async fn customer_events(
        &self,
        app: &AppId,
        identity: &ContactIdentity,
        query: &EventQuery,
        page: Page,
    ) -> StoreResult<Vec<Event>>;
    async fn event_catalogue(&self, app: &AppId, page: Page) -> StoreResult<Vec<EventTypeSummary>>;
    /// addMemberships; returns how many were upserted.
    async fn add_memberships(
        &self,
        app: &AppId,
        identity: &ContactIdentity,
        memberships: &[NewMembership],
    ) -> StoreResult<usize>;

    /// newLocation; returns the location's `_id`.
    async fn upsert_location(&self, app: &AppId, location: &NewLocation) -> StoreResult<String>;
    async fn locations(&self, app: &AppId, page: Page) -> StoreResult<Vec<Location>>;
    /// newClass; returns the class's `_id`.
    async fn upsert_class(&self, app: &AppId, class: &NewClass) -> StoreResult<String>;
    async fn remove_class(&self, app: &AppId, id: &str) -> StoreResult<()>;
    async fn class_schedule(
        &self,
        app: &AppId,
        query: &ScheduleQuery,
        page: Page,
    ) -> StoreResult<Vec<Class>>;

    /// newWorkroom; returns the workroom's `_id`.
    async fn upsert_workroom(&self, app: &AppId, workroom: &NewWorkroom) -> StoreResult<String>;
    async fn workrooms(&self, app: &AppId, page: Page) -> StoreResult<Vec<Workroom>>;
    /// newForm; returns the form's `_id`.
    async fn upsert_form(&self, app: &AppId, form: &NewForm) -> StoreResult<String>;
    async fn forms(&self, app: &AppId, page: Page) -> StoreResult<Vec<Form>>;
    /// A form by its `_id`, with the app it belongs to (the public page has no keys).
    async fn form_by_public_id(&self, id: &str) -> StoreResult<Option<(AppId, Form)>>;
    /// A valid submission: its contact created or updated, the submission stored.
    async fn submit_form(
        &self,
        app: &AppId,
        form: &Form,
        submission: &Submission,
        trust: Trust,
    ) -> StoreResult<(String, Option<ContactId>)>;
    async fn form_submissions(
        &self,
        app: &AppId,
        form_id: &str,
        since: Option<Date>,
        page: Page,
    ) -> StoreResult<Vec<StoredSubmission>>;

    /// newCampaign (a draft); returns its `_id`.
    async fn upsert_campaign(&self, app: &AppId, campaign: &NewCampaign) -> StoreResult<String>;
    /// sendCampaign; `id` is the `_id` or the caller's id.
    async fn start_campaign(&self, app: &AppId, id: &str) -> StoreResult<CampaignStatus>;
    async fn cancel_campaign(&self, app: &AppId, id: &str) -> StoreResult<()>;
    async fn campaigns(
        &self,
        app: &AppId,
        status: Option<CampaignStatus>,
        channel: Option<Channel>,
        page: Page,
    ) -> StoreResult<Vec<Campaign>>;
    /// One fan-out step of a due campaign (any app); `None` when none is due.
    async fn fan_out_step(
        &self,
        batch: u32,
        defaults: &MessagingSettings,
    ) -> StoreResult<Option<usize>>;

    /// An app's own messaging settings (what `roster apps configure` set).
    async fn messaging_settings(&self, app: &AppId) -> StoreResult<MessagingSettings>;
    /// Overlays `changes` on the app's settings; returns the app's settings after.
    async fn configure_messaging(
        &self,
        app: &AppId,
        changes: &MessagingSettings,
    ) -> StoreResult<MessagingSettings>;
    /// Checks consent, renders and queues a message. With `lease`, it is queued already
    /// claimed by the caller, who attempts it at once.
    async fn queue_message(
        &self,
        app: &AppId,
        outgoing: &Outgoing,
        lease: Option<&Lease>,
    ) -> StoreResult<Message>;
    /// `optin`: marks the contact pending and queues the request; `None` if already in.
    async fn start_optin(
        &self,
        app: &AppId,
        request: &OptinRequest,
        lease: Option<&Lease>,
    ) -> StoreResult<Option<Message>>;
    /// An inbound SMS: stored, its keyword applied, its answer queued.
    async fn receive_sms(
        &self,
        app: &AppId,
        inbound: &Inbound,
        replies: &KeywordReplies,
    ) -> StoreResult<Received>;
    /// Claims due messages of every app for a worker.
    async fn claim_messages(&self, lease: &Lease, limit: u32) -> StoreResult<Vec<Claimed>>;
    /// Records an attempt's outcome if `lease` still holds the message.
    async fn finish_message(
        &self,
        message_id: &str,
        lease: &Lease,
        delivery: &Delivery,
    ) -> StoreResult<bool>;
    /// A provider's delivery status callback.
    async fn provider_status(
        &self,
        app: &AppId,
        message: &MessageRef<'_>,
        status: &ProviderStatus,
    ) -> StoreResult<bool>;
    async fn messages(
        &self,
        app: &AppId,
        filter: &MessageFilter,
        page: Page,
    ) -> StoreResult<Vec<Message>>;
    async fn message(&self, app: &AppId, id: &str) -> StoreResult<Option<Message>>;
    /// A contact's consent changes, oldest first; `None` for an unknown contact.
    async fn consent_history(
        &self,
        app: &AppId,
        id: &ContactId,
    ) -> StoreResult<Option<Vec<ConsentRecord>>>;
}

/// Backend settings; each backend reads its own part.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    pub sqlite: SqliteOptions,
    pub postgres: PgOptions,
}

/// Opens the store a database URL names (`sqlite:` or `postgres:`), creating and
/// migrating it as needed.
pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<Arc<dyn Store>> {
    match Backend::of_url(url)? {
        Backend::Sqlite => Ok(Arc::new(SqliteStore::open(url, &options.sqlite).await?)),
        Backend::Postgres => Ok(Arc::new(PgStore::open(url, &options.postgres).await?)),
    }
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> StoreResult<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }
}
