//! SQLite's one write connection, taken in turn.
//!
//! A pool of one connection did the same job, but sqlx's pool tests a released connection
//! with a ping before another task may take it: a round trip to the connection's thread
//! after every transaction. Under load each round trip waits for a core, and the group
//! commit writer, whose batches follow each other without pause, spent 0.4 ms of every
//! 6 ms batch waiting for that ping (bench/RESULTS.md, sixth pass). A fair mutex hands
//! the connection over without one; a local file's connection has nothing to test.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
    time::Duration,
};

use sqlx::{Executor, SqliteConnection};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{StoreError, StoreResult};

/// How long a write waits for the connection before it is answered "busy" (as sqlx's
/// pool did).
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(30);

/// The write connection, lent to one transaction at a time (first come, first served).
#[derive(Clone)]
pub struct WriteConnection(Arc<Mutex<Lent>>);

struct Lent {
    conn: SqliteConnection,
    /// A transaction may be open: set before BEGIN is sent, cleared once COMMIT or
    /// ROLLBACK has answered. A BEGIN whose caller stopped waiting still runs on the
    /// connection's thread, so "may" is all that can be known; the next borrower rolls
    /// back first, and a ROLLBACK with nothing to undo is harmless.
    maybe_open: bool,
}

impl Lent {
    async fn roll_back(&mut self) {
        // A failure is mostly "no transaction is active" (SQLite already rolled back after
        // an I/O error, or the BEGIN never ran): the state wanted. Should one be open
        // after all, the next BEGIN fails, sets the flag again, and the borrower after
        // it rolls back once more.
        if let Err(error) = self.conn.execute("ROLLBACK").await {
            tracing::debug!(%error, "rolling back an unfinished write transaction");
        }
        self.maybe_open = false;
    }
}

impl WriteConnection {
    pub fn new(conn: SqliteConnection) -> Self {
        Self(Arc::new(Mutex::new(Lent {
            conn,
            maybe_open: false,
        })))
    }

    /// Waits for the connection, then begins an immediate transaction on it (so the
    /// database refuses other processes' writers instead of failing this one later).
    pub async fn begin(&self) -> StoreResult<WriteTransaction> {
        let mut lent = tokio::time::timeout(WAIT_FOR_CONNECTION, self.0.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Busy("the write connection was not free in time".into()))?;
        if lent.maybe_open {
            lent.roll_back().await;
        }
        lent.maybe_open = true;
        lent.conn.execute("BEGIN IMMEDIATE").await?;
        Ok(WriteTransaction { lent: Some(lent) })
    }

    /// The connection outside any transaction.
    #[cfg(test)]
    pub async fn lock(&self) -> impl DerefMut<Target = SqliteConnection> {
        tokio::sync::MutexGuard::map(self.0.lock().await, |lent| &mut lent.conn)
    }
}

/// A write transaction holding the connection until it commits or is dropped (rolled back).
pub struct WriteTransaction {
    /// `None` only once dropped.
    lent: Option<OwnedMutexGuard<Lent>>,
}

impl WriteTransaction {
    fn lent(&mut self) -> &mut Lent {
        self.lent
            .as_mut()
            .expect("a live transaction holds the connection")
    }

    pub async fn commit(mut self) -> StoreResult<()> {
        let lent = self.lent();
        lent.conn.execute("COMMIT").await?;
        lent.maybe_open = false;
        Ok(())
    }
}

impl Deref for WriteTransaction {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self
            .lent
            .as_ref()
            .expect("a live transaction holds the connection")
            .conn
    }
}

impl DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.lent().conn
    }
}

/// Ended without COMMIT: rolled back at once, so that the database's write lock is not
/// held until the next write comes (other processes, `roster apps ...`, wait for it).
/// Drop cannot wait, so a task keeps the connection until the ROLLBACK has run; without a
/// runtime to run it, the next borrower rolls back (`maybe_open`).
impl Drop for WriteTransaction {
    fn drop(&mut self) {
        let Some(mut lent) = self.lent.take() else {
            return;
        };
        if !lent.maybe_open {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { lent.roll_back().await });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};

    use super::*;

    async fn open() -> (tempfile::TempDir, WriteConnection) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let mut conn = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        conn.execute("CREATE TABLE t (n INTEGER NOT NULL)")
            .await
            .unwrap();
        (dir, WriteConnection::new(conn))
    }

    /// Another connection to the same file, as another process would have.
    async fn other(dir: &tempfile::TempDir) -> SqliteConnection {
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        SqliteConnectOptions::from_str(&url)
            .unwrap()
            .busy_timeout(std::time::Duration::from_secs(2))
            .connect()
            .await
            .unwrap()
    }

    /// A transaction that has written `n`, still open.
    async fn write_row(writes: &WriteConnection, n: i64) -> WriteTransaction {
        let mut tx = writes.begin().await.unwrap();
        sqlx::query("INSERT INTO t VALUES ($1)")
            .bind(n)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    async fn commit_row(writes: &WriteConnection, n: i64) {
        write_row(writes, n).await.commit().await.unwrap();
    }

    async fn rows(writes: &WriteConnection) -> Vec<i64> {
        let mut conn = writes.lock().await;
        sqlx::query_scalar("SELECT n FROM t ORDER BY n")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_before_the_next_begins() {
        let (_dir, writes) = open().await;
        drop(write_row(&writes, 1).await);

        commit_row(&writes, 2).await;
        assert_eq!(rows(&writes).await, vec![2]);
    }

    #[tokio::test]
    async fn a_committed_transaction_stays() {
        let (_dir, writes) = open().await;
        commit_row(&writes, 7).await;
        // The next transaction finds nothing to roll back.
        writes.begin().await.unwrap().commit().await.unwrap();
        assert_eq!(rows(&writes).await, vec![7]);
    }

    #[tokio::test]
    async fn transactions_take_the_connection_in_turn() {
        let (_dir, writes) = open().await;
        let mut first = writes.begin().await.unwrap();
        first.execute("INSERT INTO t VALUES (1)").await.unwrap();

        let second = tokio::spawn({
            let writes = writes.clone();
            async move { commit_row(&writes, 2).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "began while the first transaction held the connection"
        );

        first.commit().await.unwrap();
        second.await.unwrap();
        assert_eq!(rows(&writes).await, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_dropped_transaction_frees_the_database_at_once() {
        let (dir, writes) = open().await;
        drop(write_row(&writes, 1).await);

        // Without a ROLLBACK until the next write here, this would give up after its
        // busy timeout with "database is locked".
        let mut other = other(&dir).await;
        other.execute("BEGIN IMMEDIATE").await.unwrap();
        other.execute("INSERT INTO t VALUES (2)").await.unwrap();
        other.execute("COMMIT").await.unwrap();
        assert_eq!(rows(&writes).await, vec![2]);
    }

    #[tokio::test]
    async fn a_begin_whose_caller_stopped_waiting_leaves_no_transaction_behind() {
        let (dir, writes) = open().await;
        let mut holder = other(&dir).await;
        holder.execute("BEGIN IMMEDIATE").await.unwrap();
        // Our BEGIN waits for the other connection's lock; its caller gives up, but the
        // statement is already on the connection's thread and begins once the lock is free.
        let gave_up =
            tokio::time::timeout(std::time::Duration::from_millis(100), writes.begin()).await;
        assert!(
            gave_up.is_err(),
            "began while another connection held the lock"
        );
        holder.execute("COMMIT").await.unwrap();

        commit_row(&writes, 3).await;
        assert_eq!(rows(&writes).await, vec![3]);
    }
}
