//! Campaigns: drafts, starting and cancelling, the fan-out into the outbox, and counts.
//!
//! Fan-out runs in steps, each one transaction: take a due campaign (rows locked, others
//! skipped, on PostgreSQL), give the next batch of its audience a message or a recorded
//! skip, move the cursor. A crash loses at most the step in progress, which is redone;
//! the unique key on (campaign, contact) makes a second message impossible anyway.

use std::{collections::HashMap, time::Duration};

use jiff::tz::TimeZone;
use roster_domain::{
    AppId, InputError, Page, Timestamp,
    engagement::{
        Audience, Campaign, CampaignStatus, NewCampaign, SkipReason,
        schedule::{QuietHours, time_zone},
    },
    ids::new_object_id,
    messaging::{
        Channel, Direction, Message, MessageStatus, MessagingSettings, Purpose, Template,
        consent::Refusal,
    },
};

use crate::{
    StoreError, StoreResult,
    conn::{Arg, Conn, Filtered, args},
    contacts::reads,
    messaging::{consent, outbox, settings},
    rows::{ContactRow, StoredContact, contact_columns},
};

pub async fn upsert<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    campaign: &NewCampaign,
) -> StoreResult<String> {
    let attributes = reads::custom_attributes(conn, app).await?;
    let known = |name: &str| attributes.iter().any(|a| a.name == name);
    campaign.body.check_names(known)?;
    if let Some(subject) = &campaign.subject {
        subject.check_names(known)?;
    }
    if let Some(workroom) = &campaign.audience.workroom {
        let found: Option<(String,)> = conn
            .fetch_optional(
                "SELECT id FROM workrooms WHERE app_id = $1 AND id = $2",
                args![app.as_str(), workroom.as_str()],
            )
            .await?;
        if found.is_none() {
            return Err(InputError::new("audience.workroom", "no workroom has this id").into());
        }
    }
    let now = Timestamp::now();
    let audience = serde_json::to_string(&campaign.audience)
        .map_err(|err| StoreError::Corrupt(format!("audience: {err}")))?;
    let row: Option<(String,)> = conn
        .fetch_optional(
            "INSERT INTO campaigns (app_id, public_id, id, name, channel, subject, body, from_addr,
                from_name, audience, status, scheduled_date, created_date, updated_date)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'draft', $11, $12, $12)
             ON CONFLICT (app_id, id) DO UPDATE SET name = excluded.name,
                channel = excluded.channel, subject = excluded.subject, body = excluded.body,
                from_addr = excluded.from_addr, from_name = excluded.from_name,
                audience = excluded.audience, scheduled_date = excluded.scheduled_date,
                updated_date = excluded.updated_date
             WHERE campaigns.status = 'draft'
             RETURNING public_id",
            args![
                app.as_str(),
                new_object_id(now.datetime()),
                campaign.id.as_str(),
                campaign.name.as_str(),
                campaign.channel.as_str(),
                campaign.subject.as_ref().map(Template::source),
                campaign.body.source(),
                campaign.from.as_str(),
                campaign.from_name.clone(),
                audience,
                campaign.scheduled_date.map(Timestamp::to_rfc3339),
                now.to_rfc3339()
            ],
        )
        .await?;
    row.map(|(id,)| id).ok_or_else(|| {
        InputError::new(
            "id",
            "this campaign has started: only a draft can be changed",
        )
        .into()
    })
}

/// The pk and status of a campaign named by its `_id` or the caller's id.
async fn find<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &str,
) -> StoreResult<(i64, CampaignStatus, Option<String>)> {
    let lock = if C::ROW_LOCKS { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT pk, status, scheduled_date FROM campaigns
         WHERE app_id = $1 AND (public_id = $2 OR id = $2){lock}"
    );
    let row: Option<(i64, String, Option<String>)> =
        conn.fetch_optional(sql, args![app.as_str(), id]).await?;
    let (pk, status, scheduled) =
        row.ok_or_else(|| InputError::new("id", "no campaign has this id"))?;
    let status = CampaignStatus::parse("status", &status)
        .map_err(|_| StoreError::Corrupt(format!("campaigns.status {status:?}")))?;
    Ok((pk, status, scheduled))
}

/// sendCampaign: a draft starts now, or waits for its `scheduled_date`.
pub async fn start<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &str,
    now: Timestamp,
) -> StoreResult<CampaignStatus> {
    let (pk, status, scheduled) = find(conn, app, id).await?;
    if status != CampaignStatus::Draft {
        return Err(
            InputError::new("id", format!("the campaign is already {}", status.as_str())).into(),
        );
    }
    let later = scheduled.is_some_and(|at| at > now.to_rfc3339());
    let next = if later {
        CampaignStatus::Scheduled
    } else {
        CampaignStatus::Sending
    };
    conn.execute(
        "UPDATE campaigns SET status = $2, started_date = $3, updated_date = $3 WHERE pk = $1",
        args![pk, next.as_str(), now.to_rfc3339()],
    )
    .await?;
    Ok(next)
}

/// cancelCampaign: stops the fan-out; messages not yet sent fail with the reason. A sent
/// campaign is all out of the outbox and can no longer be cancelled.
pub async fn cancel<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &str,
    now: Timestamp,
) -> StoreResult<()> {
    let (pk, status, _) = find(conn, app, id).await?;
    // A fanned-out campaign can still be stopped while messages wait in the outbox.
    let waiting: Option<(i64,)> = conn
        .fetch_optional(
            "SELECT pk FROM messages WHERE campaign_pk = $1 AND status = 'queued' LIMIT 1",
            args![pk],
        )
        .await?;
    let stoppable = match status {
        CampaignStatus::Cancelled => false,
        CampaignStatus::Sent => waiting.is_some(),
        _ => true,
    };
    if !stoppable {
        return Err(
            InputError::new("id", format!("the campaign is already {}", status.as_str())).into(),
        );
    }
    conn.execute(
        "UPDATE campaigns SET status = 'cancelled', updated_date = $2 WHERE pk = $1",
        args![pk, now.to_rfc3339()],
    )
    .await?;
    conn.execute(
        "UPDATE messages SET status = 'failed', last_error = 'campaign cancelled',
            next_attempt_at = NULL, lease_token = NULL, updated_date = $2
         WHERE campaign_pk = $1 AND status = 'queued'",
        args![pk, now.to_rfc3339()],
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DueRow {
    pk: i64,
    app_id: String,
    channel: String,
    subject: Option<String>,
    body: String,
    from_addr: String,
    from_name: Option<String>,
    audience: String,
    cursor_pk: i64,
    last_contact_pk: Option<i64>,
}

/// One fan-out step of one due campaign: up to `batch` audience contacts. Returns how
/// many contacts it looked at, or `None` when no campaign is due.
pub async fn fan_out_step<C: Conn + ?Sized>(
    conn: &mut C,
    batch: u32,
    defaults: &MessagingSettings,
    now: Timestamp,
) -> StoreResult<Option<usize>> {
    let skip_locked = if C::ROW_LOCKS {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "SELECT pk, app_id, channel, subject, body, from_addr, from_name, audience, cursor_pk,
            last_contact_pk
         FROM campaigns WHERE status IN ('scheduled', 'sending')
           AND (scheduled_date IS NULL OR scheduled_date <= $1)
         ORDER BY updated_date, pk LIMIT 1{skip_locked}"
    );
    let Some(due): Option<DueRow> = conn.fetch_optional(sql, args![now.to_rfc3339()]).await? else {
        return Ok(None);
    };
    let corrupt = |what: &str| StoreError::Corrupt(format!("campaigns.{what} of {}", due.pk));
    let app = AppId::new(due.app_id.clone());
    let channel = Channel::parse("channel", &due.channel).map_err(|_| corrupt("channel"))?;
    let audience: Audience =
        serde_json::from_str(&due.audience).map_err(|_| corrupt("audience"))?;
    let body = Template::parse("body", &due.body).map_err(|_| corrupt("body"))?;
    let subject = due
        .subject
        .as_deref()
        .map(|s| Template::parse("subject", s))
        .transpose()
        .map_err(|_| corrupt("subject"))?;
    // The audience is the contacts that exist when the campaign starts.
    let last_contact_pk = match due.last_contact_pk {
        Some(last) => last,
        None => {
            let (last,): (Option<i64>,) = conn
                .fetch_optional(
                    "SELECT MAX(pk) FROM contacts WHERE app_id = $1",
                    args![app.as_str()],
                )
                .await?
                .unwrap_or((None,));
            let last = last.unwrap_or(0);
            conn.execute(
                "UPDATE campaigns SET status = 'sending', last_contact_pk = $2,
                    started_date = COALESCE(started_date, $3)
                 WHERE pk = $1",
                args![due.pk, last, now.to_rfc3339()],
            )
            .await?;
            last
        }
    };
    let mut pacing = Pacing::load(conn, &app, channel, defaults, now).await?;
    let contacts =
        audience_batch(conn, &app, &audience, due.cursor_pk, last_contact_pk, batch).await?;
    let scanned = contacts.len();
    for stored in &contacts {
        if !audience.matches_tags(&stored.contact) {
            continue;
        }
        let address = match channel {
            Channel::Sms => stored
                .contact
                .phone
                .as_ref()
                .map(|p| p.as_str().to_string()),
            Channel::Email => stored
                .contact
                .email
                .as_ref()
                .map(|e| e.as_str().to_string()),
        };
        let Some(address) = address else {
            skip(conn, due.pk, stored.pk, SkipReason::NoAddress).await?;
            continue;
        };
        if let Some(reason) = refusal(conn, &app, channel, &address).await? {
            skip(conn, due.pk, stored.pk, reason).await?;
            continue;
        }
        let render = |t: &Template| t.render(Some(&stored.contact), |_| true);
        let text = match channel {
            Channel::Sms => render(&body)?,
            Channel::Email => body.render_html(Some(&stored.contact), |_| true)?,
        };
        let message = Message {
            id: new_object_id(now.datetime()),
            app_id: app.clone(),
            channel,
            direction: Direction::Outbound,
            purpose: Purpose::Api,
            contact_id: Some(stored.contact.id.clone()),
            to: address,
            from: due.from_addr.clone(),
            from_name: due.from_name.clone(),
            reply_to: None,
            subject: subject.as_ref().map(render).transpose()?,
            text: (channel == Channel::Sms).then(|| text.clone()),
            html: (channel == Channel::Email).then_some(text),
            status: MessageStatus::Queued,
            attempts: 0,
            next_attempt: Some(pacing.slot_for(&stored.contact)),
            provider_id: None,
            error: None,
            created_date: now,
            updated_date: now,
            sent_date: None,
        };
        if !outbox::insert_row(conn, &message, Some(stored.pk), None, Some(due.pk)).await? {
            // Another record with the same address has this campaign already.
            pacing.give_back();
            skip(conn, due.pk, stored.pk, SkipReason::DuplicateAddress).await?;
        }
    }
    pacing.save(conn, &app, channel).await?;
    let cursor = contacts.last().map_or(due.cursor_pk, |c| c.pk);
    let finished = scanned < batch as usize;
    conn.execute(
        "UPDATE campaigns SET cursor_pk = $2, updated_date = $3,
            status = CASE WHEN $4 THEN 'sent' ELSE status END,
            sent_date = CASE WHEN $4 THEN $3 ELSE sent_date END
         WHERE pk = $1",
        vec![
            Arg::Int(due.pk),
            Arg::Int(cursor),
            now.to_rfc3339().into(),
            Arg::Bool(finished),
        ],
    )
    .await?;
    Ok(Some(scanned))
}

/// When each campaign message may go: outside the recipient's quiet hours (their
/// location's time zone, else the app's) and spaced by the app's send rate, whose next
/// free slot is kept in the database so campaigns and nodes share it.
struct Pacing {
    quiet: Option<QuietHours>,
    interval: Option<Duration>,
    app_zone: TimeZone,
    location_zones: HashMap<String, TimeZone>,
    now: Timestamp,
    next_slot: Timestamp,
    last_slot: Option<Timestamp>,
}

impl Pacing {
    async fn load<C: Conn + ?Sized>(
        conn: &mut C,
        app: &AppId,
        channel: Channel,
        defaults: &MessagingSettings,
        now: Timestamp,
    ) -> StoreResult<Pacing> {
        let settings = defaults.overlay(&settings::get(conn, app).await?);
        let zones: Vec<(String, String)> = conn
            .fetch_all(
                "SELECT id, timezone FROM locations WHERE app_id = $1 AND timezone IS NOT NULL",
                args![app.as_str()],
            )
            .await?;
        let location_zones = zones
            .into_iter()
            .filter_map(|(id, name)| time_zone("timezone", &name).ok().map(|zone| (id, zone)))
            .collect();
        // The row exists before it is locked, so two nodes cannot both start from `now`.
        conn.execute(
            "INSERT INTO send_slots (app_id, channel, next_slot) VALUES ($1, $2, $3)
             ON CONFLICT (app_id, channel) DO NOTHING",
            args![app.as_str(), channel.as_str(), now.to_rfc3339()],
        )
        .await?;
        let lock = if C::ROW_LOCKS { " FOR UPDATE" } else { "" };
        let sql =
            format!("SELECT next_slot FROM send_slots WHERE app_id = $1 AND channel = $2{lock}");
        let stored: Option<(String,)> = conn
            .fetch_optional(sql, args![app.as_str(), channel.as_str()])
            .await?;
        let next_slot = stored
            .and_then(|(at,)| Timestamp::parse_rfc3339(&at))
            .map_or(now, |at| at.max(now));
        Ok(Pacing {
            quiet: settings.quiet_hours(channel),
            interval: settings.send_interval(channel),
            app_zone: settings.time_zone(),
            location_zones,
            now,
            next_slot,
            last_slot: None,
        })
    }

    fn slot_for(&mut self, contact: &roster_domain::Contact) -> Timestamp {
        let zone = contact
            .profile
            .location
            .as_ref()
            .and_then(|location| self.location_zones.get(location))
            .unwrap_or(&self.app_zone)
            .clone();
        let allowed = |at: Timestamp, quiet: &Option<QuietHours>| match quiet {
            Some(quiet) => quiet.next_allowed(at, &zone),
            None => at,
        };
        let Some(interval) = self.interval else {
            return allowed(self.now, &self.quiet);
        };
        // The rate slot first; a message whose slot falls in its recipient's quiet hours
        // waits for the window's end and leaves the slot to the next message, so one
        // recipient's night never holds back the others.
        let slot = self.now.max(self.next_slot);
        let at = allowed(slot, &self.quiet);
        if at == slot {
            self.last_slot = Some(self.next_slot);
            self.next_slot = Timestamp::from_datetime(slot.datetime() + interval);
        } else {
            self.last_slot = None;
        }
        at
    }

    /// The message was not written (already there): its slot is free again.
    fn give_back(&mut self) {
        if let Some(previous) = self.last_slot.take() {
            self.next_slot = previous;
        }
    }

    async fn save<C: Conn + ?Sized>(
        &self,
        conn: &mut C,
        app: &AppId,
        channel: Channel,
    ) -> StoreResult<()> {
        if self.interval.is_none() {
            return Ok(());
        }
        conn.execute(
            "INSERT INTO send_slots (app_id, channel, next_slot) VALUES ($1, $2, $3)
             ON CONFLICT (app_id, channel) DO UPDATE SET next_slot = excluded.next_slot",
            args![app.as_str(), channel.as_str(), self.next_slot.to_rfc3339()],
        )
        .await?;
        Ok(())
    }
}

/// The next contacts after `cursor` that pass the audience's database filters.
async fn audience_batch<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    audience: &Audience,
    cursor: i64,
    last: i64,
    batch: u32,
) -> StoreResult<Vec<StoredContact>> {
    let mut query = Filtered::new(
        concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.app_id = $1 AND c.pk > $2 AND c.pk <= $3"
        ),
        args![app.as_str(), cursor, last],
    );
    if let Some(kind) = &audience.contact_type {
        query.and(" AND c.type = $N", kind.as_str());
    }
    if let Some(status) = &audience.status {
        query.and(" AND c.status = $N", status.as_str());
    }
    if let Some(location) = &audience.location {
        query.and(" AND c.location = $N", location.as_str());
    }
    if let Some(workroom) = &audience.workroom {
        query.and(
            " AND c.location IN (SELECT wl.location_id FROM workroom_locations wl
                JOIN workrooms w ON w.pk = wl.workroom_pk WHERE w.app_id = c.app_id AND w.id = $N)",
            workroom.as_str(),
        );
    }
    if audience.event_type.is_some() || audience.event_since.is_some() {
        query.push(" AND EXISTS (SELECT 1 FROM events e WHERE e.contact_pk = c.pk");
        if let Some(kind) = &audience.event_type {
            query.and(" AND e.event_type = $N", kind.as_str());
        }
        if let Some(since) = audience.event_since {
            query.and(" AND e.event_date >= $N", since.to_string());
        }
        query.push(")");
    }
    if let Some(status) = &audience.membership_status {
        query.and(
            " AND EXISTS (SELECT 1 FROM memberships m WHERE m.contact_pk = c.pk AND m.status = $N)",
            status.as_str(),
        );
    }
    let page = Page::parse(Some(i64::from(batch)), Some(0))?;
    let (sql, values) = query.page("c.pk", page);
    let rows: Vec<ContactRow> = conn.fetch_all(sql, values).await?;
    rows.into_iter().map(StoredContact::try_from).collect()
}

/// Why the address may not receive the campaign, by the rules of single sends.
async fn refusal<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    channel: Channel,
    address: &str,
) -> StoreResult<Option<SkipReason>> {
    let holders = consent::holders(conn, app, channel, address).await?;
    Ok(consent::recipients(&holders)
        .refusal(channel)
        .map(|refusal| match refusal {
            Refusal::OptedOut => SkipReason::OptedOut,
            Refusal::NotOptedIn => SkipReason::NotOptedIn,
        }))
}

async fn skip<C: Conn + ?Sized>(
    conn: &mut C,
    campaign_pk: i64,
    contact_pk: i64,
    reason: SkipReason,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO campaign_skips (campaign_pk, contact_pk, reason) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        args![campaign_pk, contact_pk, reason.as_str()],
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CampaignRow {
    public_id: String,
    id: String,
    name: String,
    channel: String,
    status: String,
    subject: Option<String>,
    scheduled_date: Option<String>,
    sent_date: Option<String>,
    created_date: String,
    recipients: i64,
    sent: i64,
    delivered: i64,
    failed: i64,
    skipped: i64,
    skipped_no_address: i64,
    skipped_not_opted_in: i64,
    skipped_opted_out: i64,
    skipped_duplicate_address: i64,
}

/// getCampaigns: counts come from the outbox, so they match getMessages.
pub async fn list<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    status: Option<CampaignStatus>,
    channel: Option<Channel>,
    page: Page,
) -> StoreResult<Vec<Campaign>> {
    let mut query = Filtered::new(
        "SELECT c.public_id, c.id, c.name, c.channel, c.status, c.subject, c.scheduled_date,
            c.sent_date, c.created_date,
            (SELECT COUNT(*) FROM messages m WHERE m.campaign_pk = c.pk) AS recipients,
            (SELECT COUNT(*) FROM messages m WHERE m.campaign_pk = c.pk
                AND m.status IN ('sent', 'delivered')) AS sent,
            (SELECT COUNT(*) FROM messages m WHERE m.campaign_pk = c.pk
                AND m.status = 'delivered') AS delivered,
            (SELECT COUNT(*) FROM messages m WHERE m.campaign_pk = c.pk
                AND m.status = 'failed') AS failed,
            (SELECT COUNT(*) FROM campaign_skips s WHERE s.campaign_pk = c.pk) AS skipped,
            (SELECT COUNT(*) FROM campaign_skips s WHERE s.campaign_pk = c.pk
                AND s.reason = 'no_address') AS skipped_no_address,
            (SELECT COUNT(*) FROM campaign_skips s WHERE s.campaign_pk = c.pk
                AND s.reason = 'not_opted_in') AS skipped_not_opted_in,
            (SELECT COUNT(*) FROM campaign_skips s WHERE s.campaign_pk = c.pk
                AND s.reason = 'opted_out') AS skipped_opted_out,
            (SELECT COUNT(*) FROM campaign_skips s WHERE s.campaign_pk = c.pk
                AND s.reason = 'duplicate_address') AS skipped_duplicate_address
         FROM campaigns c WHERE c.app_id = $1",
        args![app.as_str()],
    );
    if let Some(status) = status {
        query.and(" AND c.status = $N", status.as_str());
    }
    if let Some(channel) = channel {
        query.and(" AND c.channel = $N", channel.as_str());
    }
    let (sql, values) = query.page("c.pk", page);
    let rows: Vec<CampaignRow> = conn.fetch_all(sql, values).await?;
    rows.into_iter()
        .map(|row| {
            let corrupt =
                |what: &str| StoreError::Corrupt(format!("campaigns.{what} of {}", row.id));
            let time = |raw: &str| Timestamp::parse_rfc3339(raw).ok_or_else(|| corrupt("date"));
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            Ok(Campaign {
                channel: Channel::parse("channel", &row.channel).map_err(|_| corrupt("channel"))?,
                status: CampaignStatus::parse("status", &row.status)
                    .map_err(|_| corrupt("status"))?,
                scheduled_date: row.scheduled_date.as_deref().map(time).transpose()?,
                sent_date: row.sent_date.as_deref().map(time).transpose()?,
                created_date: time(&row.created_date)?,
                recipients: count(row.recipients),
                sent: count(row.sent),
                delivered: count(row.delivered),
                failed: count(row.failed),
                skipped: count(row.skipped),
                skipped_no_address: count(row.skipped_no_address),
                skipped_not_opted_in: count(row.skipped_not_opted_in),
                skipped_opted_out: count(row.skipped_opted_out),
                skipped_duplicate_address: count(row.skipped_duplicate_address),
                public_id: row.public_id.clone(),
                id: row.id.clone(),
                name: row.name.clone(),
                subject: row.subject.clone(),
            })
        })
        .collect()
}
