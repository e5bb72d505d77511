//! SQLite's one write connection, taken in turn.
//!
//! A pool of one connection did the same job, but sqlx's pool tests a released connection
//! with a ping before another task may take it: a round trip to the connection's thread
//! after every transaction. Under load each round trip waits for a core, and the group
//! commit writer, whose batches follow each other without pause, spent 0.4 ms of every
//! 6.4 ms batch waiting for that ping (bench/RESULTS.md, sixth pass). A fair mutex hands
//! the connection over without one; a local file's connection has nothing to test.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
};

use sqlx::{Executor, SqliteConnection};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::StoreResult;

/// The write connection, lent to one transaction at a time (first come, first served).
#[derive(Clone)]
pub struct WriteConnection(Arc<Mutex<Lent>>);

struct Lent {
    conn: SqliteConnection,
    /// A transaction ended without COMMIT (an error, a dropped future): it is rolled back
    /// before the next begins. Drop cannot wait for a statement, so it leaves this note.
    unfinished: bool,
}

impl WriteConnection {
    pub fn new(conn: SqliteConnection) -> Self {
        Self(Arc::new(Mutex::new(Lent {
            conn,
            unfinished: false,
        })))
    }

    /// Waits for the connection, then begins an immediate transaction on it (so the
    /// database refuses other processes' writers instead of failing this one later).
    pub async fn begin(&self) -> StoreResult<WriteTransaction> {
        let mut lent = self.0.clone().lock_owned().await;
        if lent.unfinished {
            // SQLite may already have ended it (an I/O error rolls back): then ROLLBACK
            // fails with "no transaction is active", which is the state wanted.
            if let Err(error) = lent.conn.execute("ROLLBACK").await {
                tracing::debug!(%error, "rolling back an unfinished write transaction");
            }
            lent.unfinished = false;
        }
        lent.conn.execute("BEGIN IMMEDIATE").await?;
        Ok(WriteTransaction { lent, open: true })
    }

    /// The connection outside any transaction.
    #[cfg(test)]
    pub async fn lock(&self) -> impl DerefMut<Target = SqliteConnection> {
        tokio::sync::MutexGuard::map(self.0.lock().await, |lent| &mut lent.conn)
    }
}

/// A write transaction holding the connection until it commits or is dropped (rolled back).
pub struct WriteTransaction {
    lent: OwnedMutexGuard<Lent>,
    open: bool,
}

impl WriteTransaction {
    pub async fn commit(mut self) -> StoreResult<()> {
        self.lent.conn.execute("COMMIT").await?;
        self.open = false;
        Ok(())
    }
}

impl Deref for WriteTransaction {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.lent.conn
    }
}

impl DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.lent.conn
    }
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        if self.open {
            self.lent.unfinished = true;
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
        let mut dropped = writes.begin().await.unwrap();
        dropped.execute("INSERT INTO t VALUES (1)").await.unwrap();
        drop(dropped);

        let mut next = writes.begin().await.unwrap();
        next.execute("INSERT INTO t VALUES (2)").await.unwrap();
        next.commit().await.unwrap();

        assert_eq!(rows(&writes).await, vec![2]);
    }

    #[tokio::test]
    async fn a_committed_transaction_stays() {
        let (_dir, writes) = open().await;
        let mut tx = writes.begin().await.unwrap();
        tx.execute("INSERT INTO t VALUES (7)").await.unwrap();
        tx.commit().await.unwrap();
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
            async move {
                let mut tx = writes.begin().await.unwrap();
                tx.execute("INSERT INTO t VALUES (2)").await.unwrap();
                tx.commit().await.unwrap();
            }
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
}
