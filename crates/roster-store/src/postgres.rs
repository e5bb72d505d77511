//! The PostgreSQL backend: production and scale-out. Several `roster serve` processes may
//! share one database: writers that could touch the same contact serialise on advisory
//! locks keyed by identity, and rows read for a write are locked (`FOR UPDATE`).

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    PgConnection, PgPool, Postgres, Transaction,
    pool::PoolConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{SqlStore, StoreResult, backend::Pools, group_commit::Grouping};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections this process keeps open at most.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// Statements running longer than this are cancelled by the server.
    pub statement_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

pub struct PgPools {
    pool: PgPool,
}

pub type PgStore = SqlStore<PgPools>;

impl SqlStore<PgPools> {
    pub async fn open(url: &str, options: &PgOptions) -> StoreResult<Self> {
        let statement_timeout = format!("{}ms", options.statement_timeout.as_millis());
        // Custom plans every time: a generic plan cached while a table was nearly empty
        // (a sequential scan) would otherwise stay in use as the table grows.
        let connect = PgConnectOptions::from_str(url)?.options([
            ("statement_timeout", statement_timeout.as_str()),
            ("plan_cache_mode", "force_custom_plan"),
            // A write waiting this long on a lock answers 503 rather than holding on.
            ("lock_timeout", "10s"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        // The migrator holds an advisory lock, so processes starting together migrate once.
        MIGRATOR.run(&pool).await?;
        SqlStore::new(PgPools { pool })
    }
}

#[async_trait]
impl Pools for PgPools {
    type Conn = PgConnection;
    type Read = PoolConnection<Postgres>;
    type Write = Transaction<'static, Postgres>;

    async fn read(&self) -> StoreResult<Self::Read> {
        Ok(self.pool.acquire().await?)
    }

    async fn begin_write(&self) -> StoreResult<Self::Write> {
        Ok(self.pool.begin().await?)
    }

    async fn commit(&self, tx: Self::Write) -> StoreResult<()> {
        Ok(tx.commit().await?)
    }

    const GROUPING: Grouping = Grouping::Events;
}
