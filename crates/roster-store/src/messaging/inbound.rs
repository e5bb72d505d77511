//! What members start: the double opt-in (`optin`) and inbound SMS (keywords, replies).

use roster_domain::{
    AppId, Contact, ContactId, ContactIdentity, Date, Phone, Timestamp,
    ids::new_object_id,
    messaging::{
        ConsentChange, ConsentSource, Direction, Keyword, KeywordReplies, Lease, Message,
        MessageStatus, Outgoing, Purpose as MessagePurpose, consent::check_minimum_age,
    },
};

use super::{consent, outbox};
use crate::{
    StoreResult,
    conn::{Conn, args},
    contacts::{
        identity::{self, Purpose},
        writes::{insert_row, update_row},
    },
};

/// The contract's `optin`: who, and the request SMS to send them.
#[derive(Debug, Clone)]
pub struct OptinRequest {
    pub identity: ContactIdentity,
    pub phone: Phone,
    pub dob: Option<Date>,
    pub min_age: u32,
    /// The opt-in request text (purpose `OptinRequest`, to `phone`).
    pub message: Outgoing,
}

/// Starts a double opt-in: finds (or creates) the contact, checks the minimum age, marks
/// the contact pending and queues the request SMS. `None` when the contact is already
/// opted in (nothing is sent).
pub async fn start_optin<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    request: &OptinRequest,
    lease: Option<&Lease>,
    now: Timestamp,
) -> StoreResult<Option<Message>> {
    let mut keys = identity::lock_keys(app, &request.identity);
    keys.push(consent::phone_lock(app, request.phone.as_str()));
    conn.lock_keys(&mut keys).await?;
    let (pk, mut contact) =
        match identity::resolve(conn, app, &request.identity, Purpose::Write).await? {
            Some(stored) => (Some(stored.pk), stored.contact),
            None => {
                let id = ContactId::generate(now.datetime());
                (None, Contact::minimal(id, &request.identity, now))
            }
        };
    if let Some(dob) = request.dob.or(contact.profile.dob) {
        check_minimum_age(dob, now.date(), request.min_age)?;
    }
    // The request is addressed to `phone`: that is the number a YES will come from.
    let before = contact.clone();
    contact.phone = Some(request.phone.clone());
    if contact.email.is_none() {
        contact.email = request.identity.email.clone();
    }
    if contact.profile.dob.is_none() {
        contact.profile.dob = request.dob;
    }
    let pk = match pk {
        Some(pk) => {
            if contact != before {
                contact.updated_date = now;
                update_row(conn, pk, &contact).await?;
            }
            pk
        }
        None => insert_row(conn, app, &contact).await?,
    };
    if contact.consent.sms_optin && !contact.consent.sms_optout {
        return Ok(None);
    }
    let mut outgoing = request.message.clone();
    outgoing.contact = Some(contact.id.clone());
    let message = outbox::queue(conn, app, &outgoing, lease, now).await?;
    conn.execute(
        "UPDATE contacts SET sms_pending_date = $1 WHERE pk = $2",
        args![now.to_rfc3339(), pk],
    )
    .await?;
    consent::record(
        conn,
        app,
        pk,
        ConsentChange::SmsPending,
        ConsentSource::Api,
        now,
    )
    .await?;
    Ok(Some(message))
}

/// An inbound SMS as the provider reports it.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The member's number.
    pub from: String,
    /// The app's number they wrote to.
    pub to: String,
    pub body: String,
    pub provider_id: Option<String>,
}

/// What an inbound SMS led to.
#[derive(Debug, Clone)]
pub struct Received {
    pub message: Message,
    /// The keyword's answer, queued.
    pub reply: Option<Message>,
}

/// Stores an inbound SMS, applies its keyword (consent for every contact with the
/// number) and queues the answer, all in one transaction. A provider re-sending the same
/// message (same id) changes nothing the second time.
pub async fn receive<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    inbound: &Inbound,
    replies: &KeywordReplies,
    now: Timestamp,
) -> StoreResult<Received> {
    conn.lock_keys(&mut vec![consent::phone_lock(app, &inbound.from)])
        .await?;
    if let Some(provider_id) = &inbound.provider_id
        && let Some(seen) = already_received(conn, app, provider_id).await?
    {
        return Ok(Received {
            message: seen,
            reply: None,
        });
    }
    let keyword = Keyword::of(&inbound.body);
    match keyword {
        Some(Keyword::OptOut) => {
            consent::set_sms_for_phone(
                conn,
                app,
                &inbound.from,
                false,
                ConsentSource::Keyword,
                now,
            )
            .await?;
        }
        Some(Keyword::OptIn { .. }) => {
            consent::set_sms_for_phone(conn, app, &inbound.from, true, ConsentSource::Keyword, now)
                .await?;
        }
        Some(Keyword::Help) | None => {}
    }
    let holders = consent::holders_of_phone(conn, app, &inbound.from).await?;
    let message = Message {
        id: new_object_id(now.datetime()),
        app_id: app.clone(),
        channel: roster_domain::messaging::Channel::Sms,
        direction: Direction::Inbound,
        purpose: MessagePurpose::Api,
        contact_id: None,
        to: inbound.to.clone(),
        from: inbound.from.clone(),
        from_name: None,
        reply_to: None,
        subject: None,
        text: Some(inbound.body.clone()),
        html: None,
        status: MessageStatus::Received,
        attempts: 0,
        next_attempt: None,
        provider_id: inbound.provider_id.clone(),
        error: None,
        created_date: now,
        updated_date: now,
        sent_date: None,
    };
    outbox::insert(conn, &message, holders.first().map(|h| h.pk), None).await?;
    let reply = match keyword {
        Some(keyword) => {
            match replies.reply(keyword, &inbound.from, &inbound.to, !holders.is_empty())? {
                Some(outgoing) => Some(outbox::queue(conn, app, &outgoing, None, now).await?),
                None => None,
            }
        }
        None => None,
    };
    Ok(Received { message, reply })
}

async fn already_received<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    provider_id: &str,
) -> StoreResult<Option<Message>> {
    let row: Option<(String,)> = conn
        .fetch_optional(
            "SELECT id FROM messages WHERE app_id = $1 AND provider_id = $2 AND direction = 'inbound'",
            args![app.as_str(), provider_id],
        )
        .await?;
    match row {
        Some((id,)) => outbox::get(conn, app, &id).await,
        None => Ok(None),
    }
}
