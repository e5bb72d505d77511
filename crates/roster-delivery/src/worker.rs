//! The workers of one node: claim what is due (a batch no larger than the free send
//! slots, so a claimed message never waits for a slot while its lease runs), send each
//! under its own slot, record the outcome. Idle, they sleep until woken by a local send or
//! until the poll interval passes (messages queued by other nodes, retries coming due).

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::Outbox;

/// The largest batch one claim takes.
const MAX_BATCH: usize = 50;

pub(crate) async fn run(outbox: Outbox, shutdown: CancellationToken) {
    let settings = outbox.settings().clone();
    if settings.workers == 0 {
        return;
    }
    let slots = Arc::new(Semaphore::new(settings.workers));
    let sends = TaskTracker::new();
    while !shutdown.is_cancelled() {
        let free = slots.available_permits().min(MAX_BATCH);
        if free == 0 {
            tokio::select! {
                permit = slots.clone().acquire_owned() => drop(permit),
                () = shutdown.cancelled() => break,
            }
            continue;
        }
        let lease = outbox.new_lease();
        let claimed = match outbox.inner.store.claim_messages(&lease, free as u32).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "could not claim messages; trying again shortly");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(settings.poll_interval) => {}
                () = outbox.inner.wake.notified() => {}
                () = shutdown.cancelled() => break,
            }
            continue;
        }
        for message in claimed {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let outbox = outbox.clone();
            sends.spawn(async move {
                outbox.attempt_and_record(&message).await;
                drop(slot);
            });
        }
    }
    // Shutdown: claim nothing more, finish what is in flight.
    sends.close();
    sends.wait().await;
}
