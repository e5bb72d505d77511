//! Consent as sending sees it: the consent of every contact with an address, changes of
//! it, and the history of those changes.

use roster_domain::{
    AppId, Consent, ContactId, Timestamp,
    messaging::{Channel, ConsentChange, ConsentSource, ConsentState, Recipients},
};

use crate::{
    StoreResult,
    conn::{Conn, args},
    contacts::{
        identity::{self, Purpose},
        writes::update_row,
    },
};

/// A contact with an address, and that contact's consent.
pub struct Holder {
    pub pk: i64,
    pub state: ConsentState,
}

#[derive(sqlx::FromRow)]
struct HolderRow {
    pk: i64,
    sms_optin: bool,
    sms_optout: bool,
    email_optout: bool,
}

impl From<HolderRow> for Holder {
    fn from(row: HolderRow) -> Self {
        Holder {
            pk: row.pk,
            state: ConsentState {
                sms_optin: row.sms_optin,
                sms_optout: row.sms_optout,
                email_optout: row.email_optout,
            },
        }
    }
}

/// The contacts of `app` with this phone number, oldest first.
pub async fn holders_of_phone<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    phone: &str,
) -> StoreResult<Vec<Holder>> {
    let rows: Vec<HolderRow> = conn
        .fetch_all(
            "SELECT pk, sms_optin, sms_optout, email_optout FROM contacts
             WHERE app_id = $1 AND phone = $2 ORDER BY pk",
            args![app.as_str(), phone],
        )
        .await?;
    Ok(rows.into_iter().map(Holder::from).collect())
}

/// The contacts of `app` with this email address (any case), oldest first.
pub async fn holders_of_email<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    email: &str,
) -> StoreResult<Vec<Holder>> {
    let rows: Vec<HolderRow> = conn
        .fetch_all(
            "SELECT pk, sms_optin, sms_optout, email_optout FROM contacts
             WHERE app_id = $1 AND email_lc = $2 ORDER BY pk",
            args![app.as_str(), email.to_lowercase()],
        )
        .await?;
    Ok(rows.into_iter().map(Holder::from).collect())
}

/// The contacts of `app` with `address` on `channel` (a phone number or an email).
pub async fn holders<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    channel: Channel,
    address: &str,
) -> StoreResult<Vec<Holder>> {
    match channel {
        Channel::Sms => holders_of_phone(conn, app, address).await,
        Channel::Email => holders_of_email(conn, app, address).await,
    }
}

pub fn recipients(holders: &[Holder]) -> Recipients {
    Recipients(holders.iter().map(|h| h.state).collect())
}

/// The lock every writer of a phone number's consent or outbox takes first (PostgreSQL),
/// so a send cannot slip between a STOP and its opt-out.
pub fn phone_lock(app: &AppId, phone: &str) -> String {
    format!("contact:{app}:phone:{phone}")
}

pub async fn record<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    contact_pk: i64,
    change: ConsentChange,
    source: ConsentSource,
    now: Timestamp,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO consent_events (app_id, contact_pk, change, source, created_date)
         VALUES ($1, $2, $3, $4, $5)",
        args![
            app.as_str(),
            contact_pk,
            change.as_str(),
            source.as_str(),
            now.to_rfc3339()
        ],
    )
    .await?;
    Ok(())
}

/// Records what changed between two consents of one contact.
pub async fn record_diff<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    contact_pk: i64,
    before: &Consent,
    after: &Consent,
    source: ConsentSource,
    now: Timestamp,
) -> StoreResult<()> {
    let mut changes = Vec::new();
    if after.sms_optin && !before.sms_optin {
        changes.push(ConsentChange::SmsOptin);
    }
    if after.sms_optout && !before.sms_optout {
        changes.push(ConsentChange::SmsOptout);
    }
    if after.email_optout != before.email_optout {
        changes.push(if after.email_optout {
            ConsentChange::EmailOptout
        } else {
            ConsentChange::EmailOptoutCleared
        });
    }
    for change in changes {
        record(conn, app, contact_pk, change, source, now).await?;
    }
    Ok(())
}

/// Sets SMS consent on every contact with `phone` (a keyword or a provider error speaks
/// for the number, not for one record); clears any pending double opt-in. Returns how
/// many contacts changed.
pub async fn set_sms_for_phone<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    phone: &str,
    opted_in: bool,
    source: ConsentSource,
    now: Timestamp,
) -> StoreResult<usize> {
    let mut changed = 0;
    for holder in holders_of_phone(conn, app, phone).await? {
        let Some(mut stored) = identity::load(conn, holder.pk, Purpose::Write).await? else {
            continue;
        };
        let before = stored.contact.consent.clone();
        stored.contact.consent.set_sms(opted_in, now);
        conn.execute(
            "UPDATE contacts SET sms_pending_date = NULL WHERE pk = $1",
            args![holder.pk],
        )
        .await?;
        if stored.contact.consent != before {
            stored.contact.updated_date = now;
            update_row(conn, stored.pk, &stored.contact).await?;
            record_diff(
                conn,
                app,
                stored.pk,
                &before,
                &stored.contact.consent,
                source,
                now,
            )
            .await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// One entry of a contact's consent history.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConsentRecord {
    pub change: String,
    pub source: String,
    pub created_date: String,
}

pub async fn history<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &ContactId,
) -> StoreResult<Option<Vec<ConsentRecord>>> {
    let Some(pk) = identity::pk_of(conn, app, id).await? else {
        return Ok(None);
    };
    let rows = conn
        .fetch_all(
            "SELECT change, source, created_date FROM consent_events
             WHERE contact_pk = $1 ORDER BY pk",
            args![pk],
        )
        .await?;
    Ok(Some(rows))
}
