//! The outbox: messages are queued in the transaction that decides to send them, claimed
//! by workers with a lease (no transaction is held while a provider is called), and
//! finished by the holder of the lease only.

use roster_domain::{
    AppId, ContactId, InputError, Page, Timestamp,
    ids::new_object_id,
    messaging::{
        Channel, Claimed, ConsentSource, Delivery, Direction, Lease, Message, MessageFilter,
        MessageStatus, Outgoing, ProviderStatus, Purpose, Template,
    },
};

use super::consent::{self, Holder};
use crate::{
    StoreError, StoreResult,
    conn::{Arg, Conn, Filtered, args},
    contacts::{
        identity::{self, Purpose as LockPurpose},
        reads,
    },
};

/// The columns every message query selects, in [`MessageRow`]'s order.
macro_rules! message_columns {
    () => {
        "m.id, m.app_id, m.channel, m.direction, m.purpose, c.id AS contact_id, m.to_addr, m.from_addr, \
         m.from_name, m.reply_to, m.subject, m.text_body, m.html_body, m.status, m.attempts, \
         m.next_attempt_at, m.provider_id, m.last_error, m.created_date, m.updated_date, m.sent_date \
         FROM messages m LEFT JOIN contacts c ON c.pk = m.contact_pk"
    };
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    app_id: String,
    channel: String,
    direction: String,
    purpose: String,
    contact_id: Option<String>,
    to_addr: String,
    from_addr: String,
    from_name: Option<String>,
    reply_to: Option<String>,
    subject: Option<String>,
    text_body: Option<String>,
    html_body: Option<String>,
    status: String,
    attempts: i64,
    next_attempt_at: Option<String>,
    provider_id: Option<String>,
    last_error: Option<String>,
    created_date: String,
    updated_date: String,
    sent_date: Option<String>,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> StoreResult<Message> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("messages.{what} of {}", row.id));
        let time =
            |raw: &str, what: &str| Timestamp::parse_rfc3339(raw).ok_or_else(|| corrupt(what));
        let opt_time =
            |raw: &Option<String>, what: &str| raw.as_deref().map(|r| time(r, what)).transpose();
        Ok(Message {
            channel: Channel::parse("channel", &row.channel).map_err(|_| corrupt("channel"))?,
            direction: match row.direction.as_str() {
                "inbound" => Direction::Inbound,
                "outbound" => Direction::Outbound,
                _ => return Err(corrupt("direction")),
            },
            status: MessageStatus::parse("status", &row.status).map_err(|_| corrupt("status"))?,
            purpose: Purpose::parse(&row.purpose).ok_or_else(|| corrupt("purpose"))?,
            attempts: u32::try_from(row.attempts).map_err(|_| corrupt("attempts"))?,
            next_attempt: opt_time(&row.next_attempt_at, "next_attempt_at")?,
            created_date: time(&row.created_date, "created_date")?,
            updated_date: time(&row.updated_date, "updated_date")?,
            sent_date: opt_time(&row.sent_date, "sent_date")?,
            contact_id: row.contact_id.map(ContactId::from_trusted),
            app_id: AppId::new(row.app_id),
            to: row.to_addr,
            from: row.from_addr,
            from_name: row.from_name,
            reply_to: row.reply_to,
            subject: row.subject,
            text: row.text_body,
            html: row.html_body,
            provider_id: row.provider_id,
            error: row.last_error,
            id: row.id,
        })
    }
}

fn messages(rows: Vec<MessageRow>) -> StoreResult<Vec<Message>> {
    rows.into_iter().map(Message::try_from).collect()
}

/// Queues `outgoing` after checking consent and rendering it for its contact. With
/// `lease`, the message is queued already claimed by the caller (the inline first attempt).
pub async fn queue<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    outgoing: &Outgoing,
    lease: Option<&Lease>,
    now: Timestamp,
) -> StoreResult<Message> {
    if outgoing.channel == Channel::Sms {
        conn.lock_keys(&mut vec![consent::phone_lock(app, &outgoing.to)])
            .await?;
    }
    let holders = consent::holders(conn, app, outgoing.channel, &outgoing.to).await?;
    check_consent(outgoing.channel, outgoing.purpose, &holders)?;
    let contact_pk = match &outgoing.contact {
        Some(id) => Some(
            identity::pk_of(conn, app, id)
                .await?
                .ok_or_else(|| InputError::new("_id", "no contact has this _id"))?,
        ),
        None => owner(outgoing.channel, &holders),
    };
    // Placeholders are filled only for the contact `_id` names: a number shared by
    // several records must not pick whose name goes into the text.
    let named = outgoing.contact.as_ref().and(contact_pk);
    let rendered = render(conn, app, outgoing, named).await?;
    let message = Message {
        id: new_object_id(now.datetime()),
        app_id: app.clone(),
        channel: outgoing.channel,
        direction: Direction::Outbound,
        purpose: outgoing.purpose,
        contact_id: None,
        to: outgoing.to.clone(),
        from: outgoing.from.clone(),
        from_name: outgoing.from_name.clone(),
        reply_to: outgoing.reply_to.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        status: if lease.is_some() {
            MessageStatus::Sending
        } else {
            MessageStatus::Queued
        },
        attempts: u32::from(lease.is_some()),
        next_attempt: Some(lease.map_or(now, |lease| lease.until)),
        provider_id: None,
        error: None,
        created_date: now,
        updated_date: now,
        sent_date: None,
    };
    insert(conn, &message, contact_pk, lease.map(|l| l.token.as_str())).await?;
    Ok(message)
}

fn check_consent(channel: Channel, purpose: Purpose, holders: &[Holder]) -> Result<(), InputError> {
    let recipients = consent::recipients(holders);
    match (channel, purpose) {
        (_, Purpose::KeywordReply) => Ok(()),
        (Channel::Sms, Purpose::Api) => recipients.may_text(),
        (Channel::Sms, Purpose::OptinRequest) => recipients.may_ask_for_optin(),
        (Channel::Email, _) => recipients.may_email(),
    }
}

/// Without an `_id`, a message belongs to the oldest contact that may receive it.
fn owner(channel: Channel, holders: &[Holder]) -> Option<i64> {
    holders
        .iter()
        .find(|h| channel == Channel::Email || h.state.sms_optin)
        .or(holders.first())
        .map(|h| h.pk)
}

struct Rendered {
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
}

async fn render<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    outgoing: &Outgoing,
    contact_pk: Option<i64>,
) -> StoreResult<Rendered> {
    let templates = [&outgoing.subject, &outgoing.text, &outgoing.html];
    let personalised = templates.iter().any(|t| {
        t.as_ref()
            .is_some_and(|t| t.placeholders().next().is_some())
    });
    let (contact, attributes) = match contact_pk {
        Some(pk) if personalised => (
            identity::load(conn, pk, LockPurpose::Read)
                .await?
                .map(|stored| stored.contact),
            reads::custom_attributes(conn, app).await?,
        ),
        _ => (None, Vec::new()),
    };
    let known = |name: &str| attributes.iter().any(|a| a.name == name);
    let one = |template: &Option<Template>| -> Result<Option<String>, InputError> {
        template
            .as_ref()
            .map(|t| t.render(contact.as_ref(), known))
            .transpose()
    };
    Ok(Rendered {
        subject: one(&outgoing.subject)?,
        text: one(&outgoing.text)?,
        html: outgoing
            .html
            .as_ref()
            .map(|t| t.render_html(contact.as_ref(), known))
            .transpose()?,
    })
}

pub async fn insert<C: Conn + ?Sized>(
    conn: &mut C,
    message: &Message,
    contact_pk: Option<i64>,
    lease_token: Option<&str>,
) -> StoreResult<()> {
    insert_row(conn, message, contact_pk, lease_token, None).await?;
    Ok(())
}

/// Inserts a message; with `campaign_pk`, only if the contact has no message of that
/// campaign yet (the unique key decides). Returns whether a row was written.
pub async fn insert_row<C: Conn + ?Sized>(
    conn: &mut C,
    message: &Message,
    contact_pk: Option<i64>,
    lease_token: Option<&str>,
    campaign_pk: Option<i64>,
) -> StoreResult<bool> {
    let written = conn
        .execute(
            "INSERT INTO messages (id, app_id, channel, direction, contact_pk, to_addr, from_addr,
            from_name, reply_to, subject, text_body, html_body, status, attempts, next_attempt_at,
            lease_token, provider_id, last_error, created_date, updated_date, sent_date, purpose,
            campaign_pk)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, $22, $23)
         ON CONFLICT DO NOTHING",
            vec![
                message.id.as_str().into(),
                message.app_id.as_str().into(),
                message.channel.as_str().into(),
                message.direction.as_str().into(),
                Arg::OptInt(contact_pk),
                message.to.as_str().into(),
                message.from.as_str().into(),
                message.from_name.clone().into(),
                message.reply_to.clone().into(),
                message.subject.clone().into(),
                message.text.clone().into(),
                message.html.clone().into(),
                message.status.as_str().into(),
                i64::from(message.attempts).into(),
                message.next_attempt.map(Timestamp::to_rfc3339).into(),
                lease_token.map(str::to_string).into(),
                message.provider_id.clone().into(),
                message.error.clone().into(),
                message.created_date.to_rfc3339().into(),
                message.updated_date.to_rfc3339().into(),
                message.sent_date.map(Timestamp::to_rfc3339).into(),
                message.purpose.as_str().into(),
                Arg::OptInt(campaign_pk),
            ],
        )
        .await?;
    Ok(written > 0)
}

/// Claims up to `limit` due messages of any app: queued ones whose time has come, and
/// ones whose last claim ran out (a worker died mid-send). Each attempt is counted here.
pub async fn claim<C: Conn + ?Sized>(
    conn: &mut C,
    lease: &Lease,
    limit: u32,
    now: Timestamp,
) -> StoreResult<Vec<Claimed>> {
    // Several nodes claim at once on PostgreSQL: each skips the rows another is taking.
    let skip_locked = if C::ROW_LOCKS {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE messages SET status = 'sending', lease_token = $1, next_attempt_at = $2,
            attempts = attempts + 1, updated_date = $3
         WHERE pk IN (SELECT pk FROM messages
            WHERE status IN ('queued', 'sending') AND next_attempt_at <= $3
            ORDER BY next_attempt_at LIMIT $4{skip_locked})"
    );
    let taken = conn
        .execute(
            sql,
            args![
                lease.token.as_str(),
                lease.until.to_rfc3339(),
                now.to_rfc3339(),
                i64::from(limit)
            ],
        )
        .await?;
    if taken == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<MessageRow> = conn
        .fetch_all(
            concat!(
                "SELECT ",
                message_columns!(),
                " WHERE m.lease_token = $1 ORDER BY m.pk"
            ),
            args![lease.token.as_str()],
        )
        .await?;
    let mut claimed = Vec::new();
    for message in messages(rows)? {
        if let Err(refused) = consent_still_given(conn, &message).await? {
            fail_refused(conn, &message.id, &refused.message, now).await?;
            continue;
        }
        claimed.push(Claimed {
            message,
            lease: lease.clone(),
        });
    }
    Ok(claimed)
}

/// Consent is checked again at every attempt: a STOP or an email opt-out that arrives
/// while a message waits for a retry stops it.
async fn consent_still_given<C: Conn + ?Sized>(
    conn: &mut C,
    message: &Message,
) -> StoreResult<Result<(), InputError>> {
    if message.purpose == Purpose::KeywordReply {
        return Ok(Ok(()));
    }
    let holders = consent::holders(conn, &message.app_id, message.channel, &message.to).await?;
    Ok(check_consent(message.channel, message.purpose, &holders))
}

async fn fail_refused<C: Conn + ?Sized>(
    conn: &mut C,
    message_id: &str,
    reason: &str,
    now: Timestamp,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE messages SET status = 'failed', last_error = $2, updated_date = $3,
            next_attempt_at = NULL, lease_token = NULL
         WHERE id = $1",
        args![message_id, format!("not sent: {reason}"), now.to_rfc3339()],
    )
    .await?;
    Ok(())
}

/// Records how an attempt ended, if `lease` still holds the message (else a newer claim
/// owns it and this outcome is stale). Returns whether it was recorded.
pub async fn finish<C: Conn + ?Sized>(
    conn: &mut C,
    message_id: &str,
    lease: &Lease,
    delivery: &Delivery,
    now: Timestamp,
) -> StoreResult<bool> {
    let fence = args![message_id, lease.token.as_str()];
    let now_text = now.to_rfc3339();
    let recorded = match delivery {
        Delivery::Sent { provider_id } => {
            conn.execute(
                // A status callback may have arrived first and moved the message on.
                "UPDATE messages SET status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END,
                    provider_id = $3, sent_date = $4, updated_date = $4, next_attempt_at = NULL,
                    lease_token = NULL, last_error = CASE WHEN status = 'sending' THEN NULL ELSE last_error END
                 WHERE id = $1 AND lease_token = $2",
                [fence, args![provider_id.as_str(), now_text]].concat(),
            )
            .await?
        }
        Delivery::Retry { error, retry_at } => {
            conn.execute(
                "UPDATE messages SET status = 'queued', last_error = $3, next_attempt_at = $4,
                    updated_date = $5, lease_token = NULL
                 WHERE id = $1 AND lease_token = $2 AND status = 'sending'",
                [
                    fence,
                    args![error.as_str(), retry_at.to_rfc3339(), now_text],
                ]
                .concat(),
            )
            .await?
        }
        Delivery::Failed {
            error,
            unsubscribed,
        } => {
            let recorded = conn
                .execute(
                    "UPDATE messages SET status = 'failed', last_error = $3, updated_date = $4,
                        next_attempt_at = NULL, lease_token = NULL
                     WHERE id = $1 AND lease_token = $2 AND status = 'sending'",
                    [fence, args![error.as_str(), now_text]].concat(),
                )
                .await?;
            if recorded > 0 && *unsubscribed {
                opt_out_recipient(conn, message_id, now).await?;
            }
            recorded
        }
    };
    Ok(recorded > 0)
}

/// The provider says the recipient unsubscribed: every contact with the number opts out.
async fn opt_out_recipient<C: Conn + ?Sized>(
    conn: &mut C,
    message_id: &str,
    now: Timestamp,
) -> StoreResult<()> {
    let row: Option<(String, String)> = conn
        .fetch_optional(
            "SELECT app_id, to_addr FROM messages WHERE id = $1 AND channel = 'sms'",
            args![message_id],
        )
        .await?;
    if let Some((app, phone)) = row {
        let app = AppId::new(app);
        conn.lock_keys(&mut vec![consent::phone_lock(&app, &phone)])
            .await?;
        consent::set_sms_for_phone(conn, &app, &phone, false, ConsentSource::ProviderError, now)
            .await?;
    }
    Ok(())
}

/// A delivery status callback, about the message Roster named in the callback URL
/// (`message_id`) or else the provider's id. It may arrive before the sender recorded
/// the provider's answer (the message is still `sending`). Statuses only move forward: a
/// late "sent" does not undo "delivered". Returns whether a message changed.
pub async fn provider_status<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    message: &MessageRef<'_>,
    status: &ProviderStatus,
    now: Timestamp,
) -> StoreResult<bool> {
    let (key_sql, key) = match message {
        MessageRef::Roster(id) => ("id = $2", *id),
        MessageRef::Provider(id) => ("provider_id = $2", *id),
    };
    let base = args![app.as_str(), key, now.to_rfc3339()];
    let changed = match status {
        ProviderStatus::Sent => 0,
        ProviderStatus::Delivered => {
            let sql = format!(
                "UPDATE messages SET status = 'delivered', updated_date = $3
                 WHERE app_id = $1 AND {key_sql} AND direction = 'outbound'
                   AND status IN ('sending', 'sent')"
            );
            conn.execute(sql, base).await?
        }
        ProviderStatus::Failed {
            error,
            unsubscribed,
        } => {
            let sql = format!(
                "UPDATE messages SET status = 'failed', last_error = $4, updated_date = $3
                 WHERE app_id = $1 AND {key_sql} AND direction = 'outbound'
                   AND status IN ('sending', 'sent')"
            );
            let changed = conn
                .execute(sql, [base, args![error.as_str()]].concat())
                .await?;
            if changed > 0 && *unsubscribed {
                let sql = format!("SELECT id FROM messages WHERE app_id = $1 AND {key_sql}");
                let row: Option<(String,)> =
                    conn.fetch_optional(sql, args![app.as_str(), key]).await?;
                if let Some((id,)) = row {
                    opt_out_recipient(conn, &id, now).await?;
                }
            }
            changed
        }
    };
    Ok(changed > 0)
}

/// How a callback names a message.
#[derive(Debug, Clone, Copy)]
pub enum MessageRef<'a> {
    /// Roster's message id (from the callback URL).
    Roster(&'a str),
    /// The provider's id (Twilio's MessageSid).
    Provider(&'a str),
}

pub async fn list<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    filter: &MessageFilter,
    page: Page,
) -> StoreResult<Vec<Message>> {
    let mut query = Filtered::new(
        concat!("SELECT ", message_columns!(), " WHERE m.app_id = $1"),
        args![app.as_str()],
    );
    if let Some(id) = &filter.contact {
        let Some(pk) = identity::pk_of(conn, app, id).await? else {
            return Ok(Vec::new());
        };
        query.and(" AND m.contact_pk = $N", pk);
    }
    if let Some(channel) = filter.channel {
        query.and(" AND m.channel = $N", channel.as_str());
    }
    if let Some(status) = filter.status {
        query.and(" AND m.status = $N", status.as_str());
    }
    if let Some(workroom) = &filter.workroom {
        query.and(
            " AND c.location IN (SELECT wl.location_id FROM workroom_locations wl
                JOIN workrooms w ON w.pk = wl.workroom_pk WHERE w.app_id = m.app_id AND w.id = $N)",
            workroom.as_str(),
        );
    }
    if let Some(start) = filter.dates.start {
        query.and(
            " AND m.created_date >= $N",
            start.start_of_day().to_rfc3339(),
        );
    }
    if let Some(end) = filter.dates.end {
        let next_day = end.start_of_day().datetime() + time::Duration::days(1);
        query.and(
            " AND m.created_date < $N",
            Timestamp::from_datetime(next_day).to_rfc3339(),
        );
    }
    let (sql, values) = query.page("m.pk", page);
    messages(conn.fetch_all(sql, values).await?)
}

/// One message of an app by id.
pub async fn get<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &str,
) -> StoreResult<Option<Message>> {
    let row: Option<MessageRow> = conn
        .fetch_optional(
            concat!(
                "SELECT ",
                message_columns!(),
                " WHERE m.app_id = $1 AND m.id = $2"
            ),
            args![app.as_str(), id],
        )
        .await?;
    row.map(Message::try_from).transpose()
}
