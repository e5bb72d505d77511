//! The SQLite backend: the embedded default. One file, WAL, `synchronous=FULL` unless the
//! operator opts into `NORMAL`. Writes go through one connection, lent in turn
//! ([`writer::WriteConnection`]), and begin with `BEGIN IMMEDIATE`, so concurrent writers
//! queue instead of failing with "database is locked"; reads use their own pool and never
//! wait for writers (WAL).

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    ConnectOptions, Sqlite, SqliteConnection, SqlitePool,
    pool::PoolConnection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{SqlStore, StoreResult, backend::Pools, group_commit::Grouping};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

mod writer;
use writer::{WriteConnection, WriteTransaction};

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
    /// How much of the file the writer reads through a memory map (0: none).
    pub mmap_bytes: u64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            read_connections: 8,
            busy_timeout: Duration::from_secs(5),
            mmap_bytes: 1 << 30,
        }
    }
}

pub struct SqlitePools {
    reads: SqlitePool,
    writes: WriteConnection,
}

pub type SqliteStore = SqlStore<SqlitePools>;

impl SqlStore<SqlitePools> {
    pub async fn open(url: &str, options: &SqliteOptions) -> StoreResult<Self> {
        SqlStore::new(SqlitePools::open(url, options).await?)
    }
}

impl SqlitePools {
    /// Opens (creating if missing) and migrates the database.
    async fn open(url: &str, options: &SqliteOptions) -> StoreResult<Self> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        // SQLite's default page cache is 2 MiB: with a million contacts nearly every page
        // the writer touched came from the kernel again. The writer gets 64 MiB, each
        // reader 16 MiB (memory is taken only as pages are used). (In a database under
        // 1 GiB, SQLite 3.51 scans the writer's whole page-cache hash table at every
        // commit once a B-tree split has used the lock page's number as a temporary key:
        // 6% of newEvent's CPU on the benchmark's 400 MB database, a quarter of that with
        // a 16 MiB cache. Databases past 1 GiB never pay it and keep their larger cache.)
        // Checkpoints copy the WAL into the database and fsync it; every 10,000 pages
        // (~40 MiB) instead of 1,000 makes that one tenth as often, for a WAL that is
        // still small.
        // `temp_store=memory` keeps statement journals in memory: a multi-row upsert
        // needs one, and past 64 KiB SQLite spilled it to a temporary file, a write
        // syscall per page (10% of newEvent's CPU).
        // The writer reads pages through a memory map instead of a `pread` into its cache.
        // Each newEvent reads random pages (the contact's index entry, its row for the
        // foreign key, a leaf of `events_by_contact`); mapped, they cost SQLite's thread
        // 15-20% less CPU per event (bench/RESULTS.md, fifth pass). Mapped pages are the
        // kernel's page cache, but RSS counts them once touched, per mapping: readers
        // would each count the same pages again, and a map gained them nothing measurable.
        let mut writes = connect
            .clone()
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "10000")
            .pragma("temp_store", "memory")
            .pragma("mmap_size", options.mmap_bytes.to_string())
            .connect()
            .await?;
        MIGRATOR.run(&mut writes).await?;
        let writes = WriteConnection::new(writes);
        let reads = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(connect.read_only(true).pragma("cache_size", "-16384"))
            .await?;
        Ok(Self { reads, writes })
    }
}

#[async_trait]
impl Pools for SqlitePools {
    type Conn = SqliteConnection;
    type Read = PoolConnection<Sqlite>;
    type Write = WriteTransaction;

    async fn read(&self) -> StoreResult<Self::Read> {
        Ok(self.reads.acquire().await?)
    }

    async fn begin_write(&self) -> StoreResult<Self::Write> {
        self.writes.begin().await
    }

    async fn commit(&self, tx: Self::Write) -> StoreResult<()> {
        tx.commit().await
    }

    const GROUPING: Grouping = Grouping::Every;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn mapped_bytes<'c>(conn: impl sqlx::SqliteExecutor<'c>) -> i64 {
        let (mapped,): (i64,) = sqlx::query_as("PRAGMA mmap_size")
            .fetch_one(conn)
            .await
            .unwrap();
        mapped
    }

    async fn open_with_map(mmap_bytes: u64) -> (tempfile::TempDir, SqlitePools) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let options = SqliteOptions {
            mmap_bytes,
            ..SqliteOptions::default()
        };
        let pools = SqlitePools::open(&url, &options).await.unwrap();
        (dir, pools)
    }

    /// The writer reads through a map of the configured size; readers do not map the file
    /// (each mapping would count the same pages in RSS again).
    #[tokio::test]
    async fn the_writer_alone_reads_through_a_memory_map() {
        let (_dir, pools) = open_with_map(SqliteOptions::default().mmap_bytes).await;
        assert_eq!(mapped_bytes(&mut *pools.writes.lock().await).await, 1 << 30);
        assert_eq!(mapped_bytes(&pools.reads).await, 0);
    }

    #[tokio::test]
    async fn the_map_has_the_configured_size() {
        let (_dir, pools) = open_with_map(256 << 20).await;
        assert_eq!(
            mapped_bytes(&mut *pools.writes.lock().await).await,
            256 << 20
        );
    }
}
