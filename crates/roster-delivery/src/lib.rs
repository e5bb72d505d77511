//! Delivery: the [`Outbox`] service that the HTTP handlers and the workers share. A send
//! is queued durably first; the first attempt runs at once (the inline fast path), and
//! workers in every `roster serve` process take what is due, under a lease, until each
//! message is sent or has failed with a reason.

use std::{sync::Arc, time::Duration};

use rand::RngCore;
use roster_domain::{
    AppId, Timestamp,
    messaging::{
        Channel, Claimed, Delivery, KeywordReplies, Lease, Message, MessagingSettings, Outgoing,
        RetrySchedule,
        settings::{EmailProvider, SmsProvider},
    },
};
use roster_store::{Inbound, OptinRequest, Received, Store, StoreError, StoreResult};
use thiserror::Error;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

mod fan_out;
pub mod providers;
pub mod signature;
mod worker;

use providers::{SendError, log, smtp::SmtpClient, twilio::TwilioClient};

/// reqwest and lettre are built with rustls but no default crypto provider (to keep
/// aws-lc and OpenSSL out); ring is installed once, before the first client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The server's messaging defaults; an app's own settings override them.
    pub defaults: MessagingSettings,
    pub retry: RetrySchedule,
    /// How long a send request waits for the first attempt (zero: queue only).
    pub inline_timeout: Duration,
    /// A provider call taking longer than this is a transient failure.
    pub provider_timeout: Duration,
    /// How long a claim lasts; a message whose worker died is retried after it.
    pub lease: Duration,
    /// Concurrent sends of this node's workers (zero: this node does not deliver).
    pub workers: usize,
    /// How often idle workers look for due messages queued by other nodes or retries.
    pub poll_interval: Duration,
    /// The URL providers call back (`https://roster.example.com`); without it no
    /// status callbacks are requested.
    pub public_url: Option<String>,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            defaults: MessagingSettings::default(),
            retry: RetrySchedule::default(),
            inline_timeout: Duration::from_secs(3),
            provider_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            workers: 4,
            poll_interval: Duration::from_secs(1),
            public_url: None,
        }
    }
}

#[derive(Debug, Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider refused the message permanently during the inline attempt.
    #[error("the provider refused the message: {0}")]
    Rejected(String),
}

/// What a send request achieved within the inline deadline.
#[derive(Debug, Clone)]
pub enum Submitted {
    Sent {
        message: Message,
        provider_id: String,
    },
    /// Durably queued; the workers deliver it.
    Queued { message: Message },
}

impl Submitted {
    pub fn message(&self) -> &Message {
        match self {
            Submitted::Sent { message, .. } | Submitted::Queued { message } => message,
        }
    }
}

#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    settings: DeliverySettings,
    twilio: TwilioClient,
    smtp: SmtpClient,
    wake: Notify,
    /// Wakes this node's campaign fan-out (a campaign was started here).
    fan_out_wake: Notify,
    /// Inline attempts: they outlive their request, and shutdown waits for them.
    inline: TaskTracker,
    /// Bounds inline attempts, so a burst of sends cannot open a provider call each;
    /// beyond it, sends go to the workers.
    inline_slots: Arc<Semaphore>,
}

/// Inline attempts in flight at most, per node.
const INLINE_SLOTS: usize = 64;

impl Outbox {
    pub fn new(store: Arc<dyn Store>, settings: DeliverySettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                twilio: TwilioClient::new(settings.provider_timeout),
                smtp: SmtpClient::new(settings.provider_timeout),
                store,
                settings,
                wake: Notify::new(),
                fan_out_wake: Notify::new(),
                inline: TaskTracker::new(),
                inline_slots: Arc::new(Semaphore::new(INLINE_SLOTS)),
            }),
        }
    }

    pub fn settings(&self) -> &DeliverySettings {
        &self.inner.settings
    }

    /// The settings that apply to `app`: the server's, overridden by the app's own.
    pub async fn app_settings(&self, app: &AppId) -> StoreResult<MessagingSettings> {
        let own = self.inner.store.messaging_settings(app).await?;
        Ok(self.inner.settings.defaults.overlay(&own))
    }

    /// Queues `outgoing` (consent checked, body rendered) and makes the first attempt
    /// within the inline deadline.
    pub async fn send(&self, app: &AppId, outgoing: &Outgoing) -> Result<Submitted, OutboxError> {
        let Some(slot) = self.inline_slot() else {
            let message = self.inner.store.queue_message(app, outgoing, None).await?;
            self.inner.wake.notify_one();
            return Ok(Submitted::Queued { message });
        };
        let lease = self.new_lease();
        let message = self
            .inner
            .store
            .queue_message(app, outgoing, Some(&lease))
            .await?;
        self.attempt_inline(message, lease, slot).await
    }

    /// A slot for an inline attempt, unless inline attempts are off or all taken.
    fn inline_slot(&self) -> Option<OwnedSemaphorePermit> {
        if self.inner.settings.inline_timeout.is_zero() {
            return None;
        }
        self.inner.inline_slots.clone().try_acquire_owned().ok()
    }

    /// `optin`: pending, and the request SMS on its way. `None` if already opted in.
    pub async fn start_optin(
        &self,
        app: &AppId,
        request: &OptinRequest,
    ) -> Result<Option<Submitted>, OutboxError> {
        let slot = self.inline_slot();
        let lease = slot.as_ref().map(|_| self.new_lease());
        let Some(message) = self
            .inner
            .store
            .start_optin(app, request, lease.as_ref())
            .await?
        else {
            return Ok(None);
        };
        match (lease, slot) {
            (Some(lease), Some(slot)) => self.attempt_inline(message, lease, slot).await.map(Some),
            _ => {
                self.inner.wake.notify_one();
                Ok(Some(Submitted::Queued { message }))
            }
        }
    }

    /// An inbound SMS: stored, keyword applied, the answer queued for the workers.
    pub async fn receive_sms(&self, app: &AppId, inbound: &Inbound) -> StoreResult<Received> {
        let settings = self.app_settings(app).await?;
        let replies = KeywordReplies {
            optout: settings.optout_text().to_string(),
            optin: settings.optin_confirmation_text().to_string(),
            help: settings.help_text().to_string(),
        };
        let received = self.inner.store.receive_sms(app, inbound, &replies).await?;
        if received.reply.is_some() {
            self.inner.wake.notify_one();
        }
        Ok(received)
    }

    /// Runs this node's workers and campaign fan-out until `shutdown`, then lets in-flight
    /// sends finish. A node with no workers does neither.
    pub fn spawn_workers(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            if this.inner.settings.workers == 0 {
                return;
            }
            let fan_out = tokio::spawn(fan_out::run(this.clone(), shutdown.clone()));
            worker::run(this, shutdown).await;
            let _ = fan_out.await;
        })
    }

    /// A campaign was started: fan it out now rather than at the next poll.
    pub fn wake_fan_out(&self) {
        self.inner.fan_out_wake.notify_one();
    }

    /// Waits for inline attempts still running (shutdown).
    pub async fn drain(&self) {
        self.inner.inline.close();
        self.inner.inline.wait().await;
    }

    fn new_lease(&self) -> Lease {
        let mut token = [0u8; 16];
        rand::rng().fill_bytes(&mut token);
        let until = Timestamp::now().datetime() + self.inner.settings.lease;
        Lease {
            token: token.iter().map(|b| format!("{b:02x}")).collect(),
            until: Timestamp::from_datetime(until),
        }
    }

    async fn attempt_inline(
        &self,
        message: Message,
        lease: Lease,
        slot: OwnedSemaphorePermit,
    ) -> Result<Submitted, OutboxError> {
        let this = self.clone();
        let claimed = Claimed {
            message: message.clone(),
            lease,
        };
        let attempt = self.inner.inline.spawn(async move {
            let delivery = this.attempt_and_record(&claimed).await;
            drop(slot);
            delivery
        });
        match tokio::time::timeout(self.inner.settings.inline_timeout, attempt).await {
            Ok(Ok(Delivery::Sent { provider_id })) => Ok(Submitted::Sent {
                message,
                provider_id,
            }),
            Ok(Ok(Delivery::Failed { error, .. })) => Err(OutboxError::Rejected(error)),
            // Retrying later, still running, or the attempt task died: the outbox has it.
            _ => Ok(Submitted::Queued { message }),
        }
    }

    /// One attempt, and its outcome recorded under the lease.
    async fn attempt_and_record(&self, claimed: &Claimed) -> Delivery {
        let message = &claimed.message;
        let delivery = self.attempt(message).await;
        let outcome = match &delivery {
            Delivery::Sent { .. } => "sent",
            Delivery::Retry { .. } => "retry",
            Delivery::Failed { .. } => "failed",
        };
        metrics::counter!("roster_message_attempts_total", "channel" => message.channel.as_str(), "outcome" => outcome)
            .increment(1);
        match self
            .inner
            .store
            .finish_message(&message.id, &claimed.lease, &delivery)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(id = %message.id, "lease lost before the outcome was recorded; a newer attempt owns the message")
            }
            // The lease runs out and the message is tried again; the provider's
            // idempotency token keeps that from sending twice.
            Err(err) => {
                tracing::warn!(id = %message.id, error = %err, "could not record a delivery outcome")
            }
        }
        delivery
    }

    async fn attempt(&self, message: &Message) -> Delivery {
        // The whole attempt ends within the provider timeout, which is shorter than the
        // lease (checked at start-up), so no second worker takes a message still in flight.
        let call = async {
            match self.app_settings(&message.app_id).await {
                Ok(settings) => self.call_provider(&settings, message).await,
                Err(err) => Err(SendError::transient(format!("settings unavailable: {err}"))),
            }
        };
        let result = tokio::time::timeout(self.inner.settings.provider_timeout, call)
            .await
            .unwrap_or_else(|_| Err(SendError::transient("the provider did not answer in time")));
        // Waits count from the answer: `Retry-After` is relative to the response, and a
        // slow failure must still be followed by the scheduled wait.
        let now = Timestamp::now();
        match result {
            Ok(provider_id) => Delivery::Sent { provider_id },
            Err(SendError::Permanent {
                reason,
                unsubscribed,
            }) => {
                tracing::warn!(id = %message.id, %reason, "message failed permanently");
                Delivery::Failed {
                    error: reason,
                    unsubscribed,
                }
            }
            Err(SendError::Transient {
                reason,
                retry_after,
            }) => {
                let jitter = rand::random::<f64>();
                match self
                    .inner
                    .settings
                    .retry
                    .wait_after(message.attempts, retry_after, jitter)
                {
                    Some(wait) => {
                        tracing::info!(id = %message.id, %reason, ?wait, attempts = message.attempts, "send failed; retrying");
                        Delivery::retry_in(reason, wait, now)
                    }
                    None => Delivery::Failed {
                        error: format!(
                            "gave up after {} attempts; last error: {reason}",
                            message.attempts
                        ),
                        unsubscribed: false,
                    },
                }
            }
        }
    }

    async fn call_provider(
        &self,
        settings: &MessagingSettings,
        message: &Message,
    ) -> Result<String, SendError> {
        match message.channel {
            Channel::Sms => match settings.sms_provider() {
                SmsProvider::Log => Ok(log::send(message)),
                SmsProvider::Twilio => {
                    let callback = self.status_callback_url(message);
                    self.inner.twilio.send(settings, message, callback).await
                }
            },
            Channel::Email => match settings.email_provider() {
                EmailProvider::Log => Ok(log::send(message)),
                EmailProvider::Smtp => self.inner.smtp.send(settings, message).await,
            },
        }
    }

    /// Where Twilio reports delivery: `{public_url}/webhooks/twilio/{app_id}/status`,
    /// naming the message so that a report arriving before Twilio's own answer is kept.
    pub fn status_callback_url(&self, message: &Message) -> Option<String> {
        let base = self.inner.settings.public_url.as_deref()?;
        Some(format!(
            "{}/webhooks/twilio/{}/status?message_id={}",
            base.trim_end_matches('/'),
            message.app_id,
            message.id
        ))
    }
}
