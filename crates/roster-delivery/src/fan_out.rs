//! Campaign fan-out on this node: step through due campaigns (each step one transaction
//! of at most [`BATCH`] contacts) while there is work, then wait for a wake-up or the
//! poll interval. Nodes share the work through the database (locked rows are skipped).

use tokio_util::sync::CancellationToken;

use crate::Outbox;

/// Contacts per fan-out step: bounded work per transaction, never the whole audience.
pub const BATCH: u32 = 500;

pub(crate) async fn run(outbox: Outbox, shutdown: CancellationToken) {
    let poll = outbox.settings().poll_interval;
    while !shutdown.is_cancelled() {
        let defaults = &outbox.inner.settings.defaults;
        match outbox.inner.store.fan_out_step(BATCH, defaults).await {
            Ok(Some(_)) => {
                // New messages are due now.
                outbox.inner.wake.notify_one();
                continue;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "campaign fan-out step failed; retrying shortly")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = outbox.inner.fan_out_wake.notified() => {}
            () = shutdown.cancelled() => break,
        }
    }
}
