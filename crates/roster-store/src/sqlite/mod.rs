//! The SQLite adapter: the embedded default. One file, WAL, `synchronous=FULL` unless the
//! operator opts into `NORMAL`. Writes go through a single-connection pool and begin with
//! `BEGIN IMMEDIATE`, so concurrent writers queue instead of failing with "database is
//! locked"; reads use their own pool and never wait for writers (WAL).

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use roster_domain::{
    ApiKey, AppCredentials, AppId, Contact, ContactFilter, ContactId, NewContact, OptoutChannel,
    Page, SecretHash,
};
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{AppSummary, CustomAttribute, Store, StoreResult};

mod apps;
mod contact_reads;
mod contact_rows;
mod contact_writes;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// `synchronous` of SQLite: `Full` survives a power cut (the default); `Normal` may lose the
/// last commits on power loss (not on a process crash) and is faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

impl FromStr for Synchronous {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        match raw.to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err(format!(
                "sqlite synchronous must be full or normal, not {raw:?}"
            )),
        }
    }
}

impl std::fmt::Display for Synchronous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::Normal => "normal",
        })
    }
}

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    pub read_connections: u32,
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            read_connections: 8,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

pub struct SqliteStore {
    reads: SqlitePool,
    writes: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str, options: &SqliteOptions) -> StoreResult<Self> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        MIGRATOR.run(&writes).await?;
        let reads = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Self { reads, writes })
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writes.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reads).await?;
        Ok(())
    }

    async fn create_app(
        &self,
        name: &str,
        api_key: &ApiKey,
        secret: &SecretHash,
    ) -> StoreResult<AppId> {
        let mut tx = self.begin_write().await?;
        let app = apps::insert(&mut tx, name, api_key, secret).await?;
        tx.commit().await?;
        Ok(app)
    }

    async fn list_apps(&self) -> StoreResult<Vec<AppSummary>> {
        apps::list(&self.reads).await
    }

    async fn app_by_api_key(&self, api_key: &str) -> StoreResult<Option<AppCredentials>> {
        apps::by_api_key(&self.reads, api_key).await
    }

    async fn rotate_secret(&self, app: &AppId, secret: &SecretHash) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        apps::set_secret(&mut tx, app, secret).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_contact(&self, app: &AppId, request: &NewContact) -> StoreResult<ContactId> {
        let mut tx = self.begin_write().await?;
        let id = contact_writes::upsert(&mut tx, app, request).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn find_contacts(
        &self,
        app: &AppId,
        filter: &ContactFilter,
        page: Page,
    ) -> StoreResult<Vec<Contact>> {
        contact_reads::find(&self.reads, app, filter, page).await
    }

    async fn sms_optins(&self, app: &AppId, page: Page) -> StoreResult<Vec<Contact>> {
        contact_reads::sms_optins(&self.reads, app, page).await
    }

    async fn optouts(
        &self,
        app: &AppId,
        channel: Option<OptoutChannel>,
        page: Page,
    ) -> StoreResult<Vec<Contact>> {
        contact_reads::optouts(&self.reads, app, channel, page).await
    }

    async fn remove_contact(&self, app: &AppId, id: &ContactId) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        contact_writes::remove(&mut tx, app, id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn merge_contacts(
        &self,
        app: &AppId,
        survivor: &ContactId,
        retired: &ContactId,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        contact_writes::merge(&mut tx, app, survivor, retired).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn custom_attributes(&self, app: &AppId) -> StoreResult<Vec<CustomAttribute>> {
        contact_reads::custom_attributes(&self.reads, app).await
    }
}

pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;
