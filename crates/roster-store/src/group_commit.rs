//! Group commit: concurrent writes share one transaction, so one fsync'd commit answers
//! many requests. SQLite has one writer and `synchronous=FULL` makes every commit wait for
//! the disk; on this path a commit costs far more than the rows it writes. On PostgreSQL
//! newEvents are grouped too: merged, a batch of them is a handful of statements instead
//! of eight round trips each ([`Grouping`]).
//!
//! Callers queue a write and wait. A writer takes everything queued for it (up to the
//! backend's batch size), runs the writes one after another in one transaction and
//! commits; only then is each caller answered, so a success still means "on disk".
//! SQLite has one writer; PostgreSQL several, each with its own queue (see
//! [`Grouping::writers`] and [`writer_of`]).
//!
//! One failing write must not fail the others. The batch first runs without savepoints
//! (the common case: nothing fails). If a write fails, the transaction is rolled back and
//! the same writes run again, each inside its own savepoint: the failing one is rolled back
//! to its savepoint and answered with its error; the rest commit. Writes are therefore
//! closures that can run more than once; they read their input from shared data.
//!
//! Some writes can also be merged with their neighbours into set-based statements (see
//! [`Mergeable`]). The fast path does that; the savepoint path tries each merged run in
//! one savepoint and splits it into one savepoint per write only if that run fails.

use std::{any::Any, hash::Hash, hash::Hasher, panic::AssertUnwindSafe, sync::Arc};

use futures::{FutureExt, future::BoxFuture};
use roster_domain::{AppId, NewEvent};
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, StoreResult, backend::Pools, conn::Conn, events};

/// Which writes a backend sends through [`GroupCommit`], and how many share a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Every write sent through `SqlStore::write` (newContact, newEvent), by one writer on
    /// a thread of its own. SQLite: it has one writer at a time anyway, and a commit waits
    /// for the disk.
    Every,
    /// newEvents only, merged, by [`Grouping::writers`] writer tasks per process.
    /// PostgreSQL: other writes keep their own transactions and run in parallel on the
    /// pool; PostgreSQL already shares WAL flushes between concurrent commits. A batch
    /// holds the advisory locks of its events (two to four each, like every writer there),
    /// so it is kept smaller: each lock takes a slot of the server's shared lock table
    /// (`max_locks_per_transaction` per connection: 6,400 slots on a default server; four
    /// full batches of events naming a contact by `user_id`, email and phone take 2,048).
    Events,
}

impl Grouping {
    /// Whether a write goes through the group-commit writer; `mergeable`: it is a
    /// newEvent ([`Mergeable`]).
    pub fn groups(self, mergeable: bool) -> bool {
        match self {
            Grouping::Every => true,
            Grouping::Events => mergeable,
        }
    }

    /// Writes sharing one commit at most. Bounds how long the first of them waits.
    pub fn max_batch(self) -> usize {
        match self {
            Grouping::Every => 512,
            Grouping::Events => 128,
        }
    }

    /// Writers per process, each committing its own batches. SQLite takes one writer at a
    /// time anyway. On PostgreSQL each app's events go to one writer ([`writer_of`]), so a
    /// batch waiting for a lock (another transaction holds one of its contacts' keys, for
    /// up to `lock_timeout`) holds up the events of the apps sharing its writer, not all.
    pub fn writers(self) -> usize {
        match self {
            Grouping::Every => 1,
            Grouping::Events => 4,
        }
    }
}

/// The writer an app's newEvents queue for, of `writers`. By app, not by contact: every
/// row a batch touches (contacts, events, the `event_fields` catalogue) belongs to its
/// app, so writers side by side share no rows and cannot deadlock one another, and an
/// app's events stay in one queue, in arrival order, as with a single writer. (Spread by
/// contact, one app's batches would lock its contacts and catalogue rows in crossing
/// orders.) `DefaultHasher::new()` hashes the same way on every run of one build, so
/// tests can aim at a writer. A single writer (SQLite) is chosen without hashing: this
/// runs for every grouped write.
pub fn writer_of(app: &AppId, writers: usize) -> usize {
    if writers <= 1 {
        return 0;
    }
    let mut hasher = std::hash::DefaultHasher::new();
    app.as_str().hash(&mut hasher);
    let writers = u64::try_from(writers).unwrap_or(u64::MAX);
    usize::try_from(hasher.finish() % writers).unwrap_or(0)
}

/// Writes waiting for the writer at most; further callers wait to queue (backpressure).
const QUEUE: usize = 4096;

type Answer = Box<dyn Any + Send>;
type Work<C> = Box<dyn for<'c> Fn(&'c mut C) -> BoxFuture<'c, StoreResult<Answer>> + Send + Sync>;

struct Job<C> {
    work: Work<C>,
    mergeable: Option<Mergeable>,
    done: oneshot::Sender<StoreResult<Answer>>,
}

/// A write that neighbouring writes of its kind can share statements with. Its `work`
/// must do the same as the merged form.
pub enum Mergeable {
    /// newEvent: merged by [`events::record_all`]; answers `()`.
    Event(Arc<(AppId, NewEvent)>),
}

/// The queues in front of the writers. A writer stops when the last handle is dropped.
pub struct GroupCommit<C> {
    queues: Vec<mpsc::Sender<Job<C>>>,
}

impl<C: Conn + 'static> GroupCommit<C> {
    /// Starts the writers. SQLite's one runs on a thread of its own: on the server's
    /// runtime it waited in the run queue behind hundreds of request tasks between two
    /// statements of a batch, and the single writer's idle time became everyone's
    /// latency. (SQLite's connections are threads of their own, not sockets tied to one
    /// runtime.) PostgreSQL's are tasks on the caller's runtime, where its pool's sockets
    /// live, and their statements' round trips dwarf the wait.
    pub fn start<P: Pools<Conn = C>>(pools: Arc<P>, grouping: Grouping) -> std::io::Result<Self> {
        let mut queues = Vec::with_capacity(grouping.writers());
        for _ in 0..grouping.writers() {
            let (queue, jobs) = mpsc::channel(QUEUE);
            let writer = write_batches(pools.clone(), jobs, grouping.max_batch());
            match grouping {
                Grouping::Every => {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    std::thread::Builder::new()
                        .name("roster-writer".into())
                        .spawn(move || runtime.block_on(writer))?;
                }
                Grouping::Events => {
                    tokio::spawn(writer);
                }
            }
            queues.push(queue);
        }
        Ok(Self { queues })
    }

    /// Runs `work` in the next shared transaction and answers once that has committed.
    /// `work` may run twice (see the module doc), so it must not have effects outside the
    /// connection it is given.
    pub async fn write<T, F>(&self, mergeable: Option<Mergeable>, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut C) -> BoxFuture<'c, StoreResult<T>> + Send + Sync + 'static,
    {
        let (done, answer) = oneshot::channel();
        let work = erase(work);
        let stopped = || StoreError::Busy("the database writer has stopped".into());
        let writer = match &mergeable {
            Some(Mergeable::Event(event)) => writer_of(&event.0, self.queues.len()),
            None => 0,
        };
        self.queues[writer]
            .send(Job {
                work,
                mergeable,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        let value = answer.await.map_err(|_| stopped())??;
        value
            .downcast::<T>()
            .map(|value| *value)
            .map_err(|_| StoreError::Corrupt("group commit answered with another type".into()))
    }
}

fn erase<C, T, F>(work: F) -> Work<C>
where
    C: Conn,
    T: Send + 'static,
    F: for<'c> Fn(&'c mut C) -> BoxFuture<'c, StoreResult<T>> + Send + Sync + 'static,
{
    Box::new(move |conn| {
        let running = work(conn);
        Box::pin(async move { running.await.map(|value| Box::new(value) as Answer) })
    })
}

async fn write_batches<P: Pools>(
    pools: Arc<P>,
    mut jobs: mpsc::Receiver<Job<P::Conn>>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while jobs.recv_many(&mut batch, max_batch).await > 0 {
        metrics::histogram!("roster_group_commit_batch_size").record(batch.len() as f64);
        let jobs = std::mem::take(&mut batch);
        let started = std::time::Instant::now();
        // A panicking write is a bug; it must cost its batch, not every later write.
        let together = AssertUnwindSafe(commit_together(&*pools, &jobs))
            .catch_unwind()
            .await;
        match together {
            Ok(Ok(answers)) => answer_all(jobs, answers),
            Ok(Err(Failure::Write(failure))) => {
                tracing::debug!(%failure, "a grouped write failed; redoing the batch with savepoints");
                metrics::counter!("roster_group_commit_redone_total").increment(1);
                let redone = AssertUnwindSafe(commit_each_in_savepoint(&*pools, jobs))
                    .catch_unwind()
                    .await;
                if redone.is_err() {
                    // The callers' answer channels were dropped with the batch: they hear
                    // that the writer failed them, and the writer goes on.
                    tracing::error!("a grouped write panicked while redone with savepoints");
                }
            }
            // Beginning or committing failed: nothing was written, and running the writes
            // again could not help (or, after an ambiguous commit, could apply them twice).
            Ok(Err(Failure::Transaction(failure))) => fail_all(jobs, &failure.to_string()),
            Err(_) => {
                tracing::error!("a grouped write panicked; its batch was rolled back");
                fail_all(jobs, "a write panicked; it was rolled back");
            }
        }
        metrics::histogram!("roster_group_commit_seconds").record(started.elapsed().as_secs_f64());
    }
}

/// Why a batch's transaction did not commit.
enum Failure {
    /// A write failed (bad input, a conflict): the others deserve another try.
    Write(StoreError),
    /// The transaction could not begin or commit.
    Transaction(StoreError),
}

/// The fast path: every write in one transaction, no savepoints. Any error rolls it all
/// back (the transaction is dropped uncommitted).
async fn commit_together<P: Pools>(
    pools: &P,
    jobs: &[Job<P::Conn>],
) -> Result<Vec<Answer>, Failure> {
    let mut tx = pools.begin_write().await.map_err(Failure::Transaction)?;
    lock_batch(&mut *tx, jobs).await.map_err(Failure::Write)?;
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let mut rest = jobs;
    while let Some(job) = rest.first() {
        let events = merged_events(rest);
        if events.is_empty() {
            answers.push((job.work)(&mut *tx).await.map_err(Failure::Write)?);
            rest = &rest[1..];
        } else {
            events::record_all(&mut *tx, &events)
                .await
                .map_err(Failure::Write)?;
            answers.extend(events.iter().map(|_| Box::new(()) as Answer));
            rest = &rest[events.len()..];
        }
    }
    pools.commit(tx).await.map_err(Failure::Transaction)?;
    Ok(answers)
}

/// Where writers run side by side (PostgreSQL), takes every lock the batch's newEvents
/// need, at once and in one order, before any of them runs. Taken event by event, in
/// arrival order, they could deadlock with a newContact or another process's batch taking
/// the same keys in sorted order. The events' own takes of those keys are then granted at
/// once (advisory locks are re-entrant), and a savepoint rolled back keeps them.
async fn lock_batch<C: Conn>(conn: &mut C, jobs: &[Job<C>]) -> StoreResult<()> {
    if !C::ROW_LOCKS {
        return Ok(());
    }
    let mut keys = jobs
        .iter()
        .filter_map(|job| job.mergeable.as_ref())
        .flat_map(|Mergeable::Event(event)| events::lock_keys(&event.0, &event.1))
        .collect();
    conn.lock_keys(&mut keys).await
}

/// The newEvent writes at the head of `jobs`.
fn merged_events<C>(jobs: &[Job<C>]) -> Vec<&(AppId, NewEvent)> {
    jobs.iter()
        .map_while(|job| {
            job.mergeable
                .as_ref()
                .map(|Mergeable::Event(event)| &**event)
        })
        .collect()
}

fn answer_all<C>(jobs: Vec<Job<C>>, answers: Vec<Answer>) {
    for (job, answer) in jobs.into_iter().zip(answers) {
        // A caller that stopped waiting (client gone) does not undo a committed write.
        let _ = job.done.send(Ok(answer));
    }
}

fn fail_all<C>(jobs: Vec<Job<C>>, detail: &str) {
    for job in jobs {
        let _ = job.done.send(Err(StoreError::Busy(detail.to_string())));
    }
}

/// The slow path after a failure: each write in its own savepoint, so a failing one is
/// answered with its own error and the others still commit together. A run of mergeable
/// newEvents first tries its merged form in one savepoint: one bad newContact in a batch
/// must not cost hundreds of events their shared statements. Only a run whose merged form
/// fails is split into one savepoint per event.
async fn commit_each_in_savepoint<P: Pools>(pools: &P, jobs: Vec<Job<P::Conn>>) {
    let outcome = async {
        let mut tx = pools.begin_write().await?;
        // Before the first savepoint: rolling back to one releases locks taken after it.
        lock_batch(&mut *tx, &jobs).await?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut rest = &jobs[..];
        while !rest.is_empty() {
            let events = merged_events(rest);
            let run = events.len().max(1);
            if events.len() > 1 && merged_in_savepoint(&mut *tx, &events).await? {
                outcomes.extend(events.iter().map(|_| Ok(Box::new(()) as Answer)));
            } else {
                for job in &rest[..run] {
                    outcomes.push(in_savepoint(&mut *tx, &job.work).await?);
                }
            }
            rest = &rest[run..];
        }
        pools.commit(tx).await?;
        StoreResult::Ok(outcomes)
    }
    .await;
    match outcome {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.done.send(outcome);
            }
        }
        // The transaction itself failed (I/O error, disk full, busy): nothing committed,
        // and every caller hears why.
        Err(failure) => fail_all(jobs, &failure.to_string()),
    }
}

/// Runs a run of newEvents merged inside a savepoint: `Ok(false)` when the merged form
/// failed and was rolled back (its events are then written one by one).
async fn merged_in_savepoint<C: Conn>(
    conn: &mut C,
    events: &[&(AppId, NewEvent)],
) -> StoreResult<bool> {
    conn.execute(SAVEPOINT, vec![]).await?;
    let merged = events::record_all(conn, events).await.is_ok();
    end_savepoint(conn, merged).await?;
    Ok(merged)
}

/// Runs one write inside a savepoint. The outer error means the transaction is unusable;
/// the inner one is the write's own failure, already rolled back.
async fn in_savepoint<C: Conn>(conn: &mut C, work: &Work<C>) -> StoreResult<StoreResult<Answer>> {
    conn.execute(SAVEPOINT, vec![]).await?;
    let outcome = work(conn).await;
    end_savepoint(conn, outcome.is_ok()).await?;
    Ok(outcome)
}

/// Savepoints of the redo path are never nested, so one name serves them all.
const SAVEPOINT: &str = "SAVEPOINT grouped_write";

/// Closes the savepoint [`SAVEPOINT`] opened, undoing its work first unless it succeeded.
async fn end_savepoint<C: Conn>(conn: &mut C, succeeded: bool) -> StoreResult<()> {
    if !succeeded {
        conn.execute("ROLLBACK TO SAVEPOINT grouped_write", vec![])
            .await?;
    }
    conn.execute("RELEASE SAVEPOINT grouped_write", vec![])
        .await?;
    Ok(())
}
