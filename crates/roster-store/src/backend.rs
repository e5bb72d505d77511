//! [`SqlStore`]: the [`Store`] implementation, written once over a [`Pools`] backend.

use std::{ops::DerefMut, sync::Arc};

use async_trait::async_trait;
use futures::future::BoxFuture;
use roster_domain::{
    ApiKey, AppCredentials, AppId, Class, Contact, ContactFilter, ContactId, ContactIdentity, Date,
    Event, EventTypeSummary, Location, NewClass, NewContact, NewEvent, NewLocation, NewMembership,
    OptoutChannel, Page, SecretHash, Timestamp,
    engagement::{
        Campaign, CampaignStatus, Form, NewCampaign, NewForm, NewWorkroom, Submission, Workroom,
    },
    messaging::{
        Channel, Claimed, Delivery, KeywordReplies, Lease, Message, MessageFilter,
        MessagingSettings, Outgoing, ProviderStatus,
    },
};

use crate::{
    AppSummary, ConsentRecord, CustomAttribute, EventQuery, Inbound, Include, MessageRef,
    OptinRequest, Received, Related, ScheduleQuery, Store, StoreError, StoreResult,
    StoredSubmission, Trust, apps, campaigns,
    conn::Conn,
    contacts::{reads, writes},
    engagement, events,
    group_commit::{GroupCommit, Grouping, Mergeable},
    memberships,
    messaging::{consent, inbound, outbox, settings},
    related, studio,
};

/// How a backend hands out connections: one for reading, a transaction for writing.
#[async_trait]
pub trait Pools: Send + Sync + 'static {
    type Conn: Conn;
    type Read: DerefMut<Target = Self::Conn> + Send;
    type Write: DerefMut<Target = Self::Conn> + Send + 'static;

    async fn read(&self) -> StoreResult<Self::Read>;
    /// Begins a write transaction (SQLite: `BEGIN IMMEDIATE`, so writers queue, not fail).
    async fn begin_write(&self) -> StoreResult<Self::Write>;
    async fn commit(&self, tx: Self::Write) -> StoreResult<()>;

    /// Which writes share transactions through [`GroupCommit`].
    const GROUPING: Grouping;
}

pub struct SqlStore<P: Pools> {
    pools: Arc<P>,
    group: GroupCommit<P::Conn>,
}

impl<P: Pools> SqlStore<P> {
    /// Starts the group-commit writer where the backend uses one.
    pub fn new(pools: P) -> StoreResult<Self> {
        let pools = Arc::new(pools);
        let group = GroupCommit::start(pools.clone(), P::GROUPING).map_err(StoreError::Writer)?;
        Ok(Self { pools, group })
    }

    /// One write transaction running `work`: shared with concurrent writes where the
    /// backend groups this kind of write ([`Grouping`]), else its own. Either way `Ok`
    /// means committed.
    async fn write<T, F>(&self, mergeable: Option<Mergeable>, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut P::Conn) -> BoxFuture<'c, StoreResult<T>> + Send + Sync + 'static,
    {
        if P::GROUPING.groups(mergeable.is_some()) {
            return self.group.write(mergeable, work).await;
        }
        // Once begun, in a task of its own, so that the transaction runs to its end even
        // when the request is dropped (client gone, request timeout), as grouped writes do.
        // Dropped half-way, sqlx would roll it back on the connection's next use; when its
        // COMMIT was already sent, PostgreSQL answered that ROLLBACK with a warning. A
        // request dropped while still waiting for a connection writes nothing.
        let mut tx = self.pools.begin_write().await?;
        let pools = self.pools.clone();
        let running = tokio::spawn(async move {
            let value = work(&mut *tx).await?;
            pools.commit(tx).await?;
            Ok(value)
        });
        match running.await {
            Ok(outcome) => outcome,
            // A panicking write is a bug: it reaches the request as it would have inline.
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => Err(StoreError::Busy("the write was stopped".into())),
        }
    }

    pub fn pools(&self) -> &P {
        &self.pools
    }
}

#[async_trait]
impl<P: Pools> Store for SqlStore<P> {
    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.pools.read().await?;
        let _: Option<(i64,)> = conn
            .fetch_optional("SELECT CAST(1 AS BIGINT)", vec![])
            .await?;
        Ok(())
    }

    async fn create_app(
        &self,
        name: &str,
        api_key: &ApiKey,
        secret: &SecretHash,
    ) -> StoreResult<AppId> {
        let mut tx = self.pools.begin_write().await?;
        let app = apps::insert(&mut *tx, name, api_key, secret).await?;
        self.pools.commit(tx).await?;
        Ok(app)
    }

    async fn create_first_app(
        &self,
        name: &str,
        api_key: &ApiKey,
        secret: &SecretHash,
    ) -> StoreResult<Option<AppId>> {
        let mut tx = self.pools.begin_write().await?;
        let app = apps::insert_first(&mut *tx, name, api_key, secret).await?;
        self.pools.commit(tx).await?;
        Ok(app)
    }

    async fn list_apps(&self) -> StoreResult<Vec<AppSummary>> {
        apps::list(&mut *self.pools.read().await?).await
    }

    async fn app_by_api_key(&self, api_key: &str) -> StoreResult<Option<AppCredentials>> {
        apps::by_api_key(&mut *self.pools.read().await?, api_key).await
    }

    async fn app_exists(&self, app: &AppId) -> StoreResult<bool> {
        apps::exists(&mut *self.pools.read().await?, app).await
    }

    async fn rotate_secret(&self, app: &AppId, secret: &SecretHash) -> StoreResult<()> {
        let mut tx = self.pools.begin_write().await?;
        apps::set_secret(&mut *tx, app, secret).await?;
        self.pools.commit(tx).await
    }

    async fn upsert_contact(&self, app: &AppId, request: &NewContact) -> StoreResult<ContactId> {
        let input = Arc::new((app.clone(), request.clone()));
        self.write(None, move |conn| {
            let input = input.clone();
            Box::pin(async move { writes::upsert(conn, &input.0, &input.1).await })
        })
        .await
    }

    async fn find_contacts(
        &self,
        app: &AppId,
        filter: &ContactFilter,
        page: Page,
    ) -> StoreResult<Vec<Contact>> {
        reads::find(&mut *self.pools.read().await?, app, filter, page).await
    }

    async fn sms_optins(&self, app: &AppId, page: Page) -> StoreResult<Vec<Contact>> {
        reads::sms_optins(&mut *self.pools.read().await?, app, page).await
    }

    async fn optouts(
        &self,
        app: &AppId,
        channel: Option<OptoutChannel>,
        page: Page,
    ) -> StoreResult<Vec<Contact>> {
        reads::optouts(&mut *self.pools.read().await?, app, channel, page).await
    }

    async fn remove_contact(&self, app: &AppId, id: &ContactId) -> StoreResult<()> {
        let mut tx = self.pools.begin_write().await?;
        writes::remove(&mut *tx, app, id).await?;
        self.pools.commit(tx).await
    }

    async fn merge_contacts(
        &self,
        app: &AppId,
        survivor: &ContactId,
        retired: &ContactId,
    ) -> StoreResult<()> {
        let mut tx = self.pools.begin_write().await?;
        writes::merge(&mut *tx, app, survivor, retired).await?;
        self.pools.commit(tx).await
    }

    async fn custom_attributes(&self, app: &AppId) -> StoreResult<Vec<CustomAttribute>> {
        reads::custom_attributes(&mut *self.pools.read().await?, app).await
    }

    async fn find_customers(
        &self,
        app: &AppId,
        filter: &ContactFilter,
        page: Page,
        include: Include,
    ) -> StoreResult<Vec<(Contact, Related)>> {
        let mut conn = self.pools.read().await?;
        let contacts = reads::find(&mut *conn, app, filter, page).await?;
        let mut related = related::load(&mut *conn, app, &contacts, include).await?;
        Ok(contacts
            .into_iter()
            .map(|c| {
                let extra = related.remove(c.id.as_str()).unwrap_or_default();
                (c, extra)
            })
            .collect())
    }

    async fn record_event(&self, app: &AppId, event: &NewEvent) -> StoreResult<()> {
        let input = Arc::new((app.clone(), event.clone()));
        self.write(Some(Mergeable::Event(input.clone())), move |conn| {
            let input = input.clone();
            Box::pin(async move { events::record(conn, &input.0, &input.1).await })
        })
        .await
    }

    async fn customer_events(
        &self,
        app: &AppId,
        identity: &ContactIdentity,
        query: &EventQuery,
        page: Page,
    ) -> StoreResult<Vec<Event>> {
        events::of_contact(&mut *self.pools.read().await?, app, identity, query, page).await
    }

    async fn event_catalogue(&self, app: &AppId, page: Page) -> StoreResult<Vec<EventTypeSummary>> {
        events::catalogue(&mut *self.pools.read().await?, app, page).await
    }

    async fn add_memberships(
        &self,
        app: &AppId,
        identity: &ContactIdentity,
        list: &[NewMembership],
    ) -> StoreResult<usize> {
        let mut tx = self.pools.begin_write().await?;
        let count = memberships::add(&mut *tx, app, identity, list).await?;
        self.pools.commit(tx).await?;
        Ok(count)
    }

    async fn upsert_location(&self, app: &AppId, location: &NewLocation) -> StoreResult<String> {
        let mut tx = self.pools.begin_write().await?;
        let id = studio::upsert_location(&mut *tx, app, location).await?;
        self.pools.commit(tx).await?;
        Ok(id)
    }

    async fn locations(&self, app: &AppId, page: Page) -> StoreResult<Vec<Location>> {
        studio::locations(&mut *self.pools.read().await?, app, page).await
    }

    async fn upsert_class(&self, app: &AppId, class: &NewClass) -> StoreResult<String> {
        let mut tx = self.pools.begin_write().await?;
        let id = studio::upsert_class(&mut *tx, app, class).await?;
        self.pools.commit(tx).await?;
        Ok(id)
    }

    async fn remove_class(&self, app: &AppId, id: &str) -> StoreResult<()> {
        let mut tx = self.pools.begin_write().await?;
        studio::remove_class(&mut *tx, app, id).await?;
        self.pools.commit(tx).await
    }

    async fn class_schedule(
        &self,
        app: &AppId,
        query: &ScheduleQuery,
        page: Page,
    ) -> StoreResult<Vec<Class>> {
        studio::schedule(&mut *self.pools.read().await?, app, query, page).await
    }

    async fn upsert_workroom(&self, app: &AppId, workroom: &NewWorkroom) -> StoreResult<String> {
        let mut tx = self.pools.begin_write().await?;
        let id = engagement::upsert_workroom(&mut *tx, app, workroom).await?;
        self.pools.commit(tx).await?;
        Ok(id)
    }

    async fn workrooms(&self, app: &AppId, page: Page) -> StoreResult<Vec<Workroom>> {
        engagement::workrooms(&mut *self.pools.read().await?, app, page).await
    }

    async fn upsert_form(&self, app: &AppId, form: &NewForm) -> StoreResult<String> {
        let mut tx = self.pools.begin_write().await?;
        let id = engagement::upsert_form(&mut *tx, app, form).await?;
        self.pools.commit(tx).await?;
        Ok(id)
    }

    async fn forms(&self, app: &AppId, page: Page) -> StoreResult<Vec<Form>> {
        engagement::forms(&mut *self.pools.read().await?, app, page).await
    }

    async fn form_by_public_id(&self, id: &str) -> StoreResult<Option<(AppId, Form)>> {
        engagement::form_by_public_id(&mut *self.pools.read().await?, id).await
    }

    async fn submit_form(
        &self,
        app: &AppId,
        form: &Form,
        submission: &Submission,
        trust: Trust,
    ) -> StoreResult<(String, Option<ContactId>)> {
        let mut tx = self.pools.begin_write().await?;
        let id = engagement::submit(&mut *tx, app, form, submission, trust).await?;
        self.pools.commit(tx).await?;
        Ok(id)
    }

    async fn form_submissions(
        &self,
        app: &AppId,
        form_id: &str,
        since: Option<Date>,
        page: Page,
    ) -> StoreResult<Vec<StoredSubmission>> {
        engagement::submissions(&mut *self.pools.read().await?, app, form_id, since, page).await
    }

    async fn upsert_campaign(&self, app: &AppId, campaign: &NewCampaign) -> StoreResult<String> {
        let mut tx = self.pools.begin_write().await?;
        let id = campaigns::upsert(&mut *tx, app, campaign).await?;
        self.pools.commit(tx).await?;
        Ok(id)
    }

    async fn start_campaign(&self, app: &AppId, id: &str) -> StoreResult<CampaignStatus> {
        let mut tx = self.pools.begin_write().await?;
        let status = campaigns::start(&mut *tx, app, id, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(status)
    }

    async fn cancel_campaign(&self, app: &AppId, id: &str) -> StoreResult<()> {
        let mut tx = self.pools.begin_write().await?;
        campaigns::cancel(&mut *tx, app, id, Timestamp::now()).await?;
        self.pools.commit(tx).await
    }

    async fn campaigns(
        &self,
        app: &AppId,
        status: Option<CampaignStatus>,
        channel: Option<Channel>,
        page: Page,
    ) -> StoreResult<Vec<Campaign>> {
        campaigns::list(&mut *self.pools.read().await?, app, status, channel, page).await
    }

    async fn fan_out_step(
        &self,
        batch: u32,
        defaults: &MessagingSettings,
    ) -> StoreResult<Option<usize>> {
        let mut tx = self.pools.begin_write().await?;
        let step = campaigns::fan_out_step(&mut *tx, batch, defaults, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(step)
    }

    async fn messaging_settings(&self, app: &AppId) -> StoreResult<MessagingSettings> {
        settings::get(&mut *self.pools.read().await?, app).await
    }

    async fn configure_messaging(
        &self,
        app: &AppId,
        changes: &MessagingSettings,
    ) -> StoreResult<MessagingSettings> {
        let mut tx = self.pools.begin_write().await?;
        let merged = settings::configure(&mut *tx, app, changes).await?;
        self.pools.commit(tx).await?;
        Ok(merged)
    }

    async fn queue_message(
        &self,
        app: &AppId,
        outgoing: &Outgoing,
        lease: Option<&Lease>,
    ) -> StoreResult<Message> {
        let mut tx = self.pools.begin_write().await?;
        let message = outbox::queue(&mut *tx, app, outgoing, lease, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(message)
    }

    async fn start_optin(
        &self,
        app: &AppId,
        request: &OptinRequest,
        lease: Option<&Lease>,
    ) -> StoreResult<Option<Message>> {
        let mut tx = self.pools.begin_write().await?;
        let message = inbound::start_optin(&mut *tx, app, request, lease, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(message)
    }

    async fn receive_sms(
        &self,
        app: &AppId,
        message: &Inbound,
        replies: &KeywordReplies,
    ) -> StoreResult<Received> {
        let mut tx = self.pools.begin_write().await?;
        let received = inbound::receive(&mut *tx, app, message, replies, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(received)
    }

    async fn claim_messages(&self, lease: &Lease, limit: u32) -> StoreResult<Vec<Claimed>> {
        let mut tx = self.pools.begin_write().await?;
        let claimed = outbox::claim(&mut *tx, lease, limit, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(claimed)
    }

    async fn finish_message(
        &self,
        message_id: &str,
        lease: &Lease,
        delivery: &Delivery,
    ) -> StoreResult<bool> {
        let mut tx = self.pools.begin_write().await?;
        let recorded =
            outbox::finish(&mut *tx, message_id, lease, delivery, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(recorded)
    }

    async fn provider_status(
        &self,
        app: &AppId,
        message: &MessageRef<'_>,
        status: &ProviderStatus,
    ) -> StoreResult<bool> {
        let mut tx = self.pools.begin_write().await?;
        let changed =
            outbox::provider_status(&mut *tx, app, message, status, Timestamp::now()).await?;
        self.pools.commit(tx).await?;
        Ok(changed)
    }

    async fn messages(
        &self,
        app: &AppId,
        filter: &MessageFilter,
        page: Page,
    ) -> StoreResult<Vec<Message>> {
        outbox::list(&mut *self.pools.read().await?, app, filter, page).await
    }

    async fn message(&self, app: &AppId, id: &str) -> StoreResult<Option<Message>> {
        outbox::get(&mut *self.pools.read().await?, app, id).await
    }

    async fn consent_history(
        &self,
        app: &AppId,
        id: &ContactId,
    ) -> StoreResult<Option<Vec<ConsentRecord>>> {
        consent::history(&mut *self.pools.read().await?, app, id).await
    }
}
