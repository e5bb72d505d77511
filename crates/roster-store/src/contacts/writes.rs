//! newContact, removeContact and mergeContacts. Each runs inside one write transaction
//! that the backend opened; the rules of what changes live in `roster_domain`.

use roster_domain::{
    AppId, Consent, Contact, ContactId, InputError, NewContact, Timestamp,
    attributes::AttributeType, messaging::ConsentSource,
};

use super::identity::{self, Purpose, load, pk_of};
use crate::{
    StoreError, StoreResult,
    conn::{Conn, args},
    messaging::consent,
    rows::contact_values,
};

pub async fn upsert<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    request: &NewContact,
) -> StoreResult<ContactId> {
    upsert_from(conn, app, request, ConsentSource::Api).await
}

/// newContact's write, for a caller that names where consent changes come from.
pub async fn upsert_from<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    request: &NewContact,
    source: ConsentSource,
) -> StoreResult<ContactId> {
    let now = Timestamp::now();
    let identity = request.identity();
    conn.lock_keys(&mut identity::lock_keys(app, &identity))
        .await?;
    let id = match identity::resolve(conn, app, &identity, Purpose::Write).await? {
        Some(mut stored) => {
            let before = stored.contact.consent.clone();
            request.apply_to(&mut stored.contact, now);
            ensure_user_id_free(
                conn,
                app,
                stored.contact.user_id.as_deref(),
                Some(stored.pk),
            )
            .await?;
            update_row(conn, stored.pk, &stored.contact).await?;
            consent::record_diff(
                conn,
                app,
                stored.pk,
                &before,
                &stored.contact.consent,
                source,
                now,
            )
            .await?;
            stored.contact.id
        }
        None => {
            let contact = request.create(ContactId::generate(now.datetime()), now);
            ensure_user_id_free(conn, app, contact.user_id.as_deref(), None).await?;
            let pk = insert_row(conn, app, &contact).await?;
            consent::record_diff(
                conn,
                app,
                pk,
                &Consent::default(),
                &contact.consent,
                source,
                now,
            )
            .await?;
            contact.id
        }
    };
    record_custom_attributes(conn, app, request, now).await?;
    Ok(id)
}

pub async fn remove<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &ContactId,
) -> StoreResult<()> {
    let Some(pk) = pk_of(conn, app, id).await? else {
        return Err(InputError::new("id", "no contact has this id").into());
    };
    // Aliases pointing at the contact go with it (ON DELETE CASCADE).
    conn.execute("DELETE FROM contacts WHERE pk = $1", args![pk])
        .await?;
    Ok(())
}

pub async fn merge<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    survivor_id: &ContactId,
    retired_id: &ContactId,
) -> StoreResult<()> {
    let unknown = |field: &str| {
        StoreError::from(InputError::new(
            field,
            format!("no contact has this {field}"),
        ))
    };
    let survivor_pk = pk_of(conn, app, survivor_id)
        .await?
        .ok_or_else(|| unknown("from_contact"))?;
    let retired_pk = pk_of(conn, app, retired_id)
        .await?
        .ok_or_else(|| unknown("to_contact"))?;
    if survivor_pk == retired_pk {
        return Err(InputError::new("to_contact", "cannot merge a contact with itself").into());
    }
    // Lock both rows in one order, so two merges of the same pair cannot deadlock.
    let (first, second) = (survivor_pk.min(retired_pk), survivor_pk.max(retired_pk));
    let (a, b) = (
        load(conn, first, Purpose::Write).await?,
        load(conn, second, Purpose::Write).await?,
    );
    let (Some(a), Some(b)) = (a, b) else {
        return Err(unknown("to_contact"));
    };
    let (mut survivor, retired) = if a.pk == survivor_pk { (a, b) } else { (b, a) };
    // Ids already retired into `retired` follow it to the survivor, then its own id does.
    conn.execute(
        "UPDATE contact_aliases SET survivor_pk = $1 WHERE survivor_pk = $2",
        args![survivor.pk, retired.pk],
    )
    .await?;
    conn.execute(
        "INSERT INTO contact_aliases (retired_id, app_id, survivor_pk) VALUES ($1, $2, $3)",
        args![retired.contact.id.as_str(), app.as_str(), survivor.pk],
    )
    .await?;
    move_activity(conn, retired.pk, survivor.pk).await?;
    // Delete first: the survivor may take over the retired contact's unique user_id.
    conn.execute("DELETE FROM contacts WHERE pk = $1", args![retired.pk])
        .await?;
    let now = Timestamp::now();
    let before = survivor.contact.consent.clone();
    survivor.contact.absorb(retired.contact, now);
    update_row(conn, survivor.pk, &survivor.contact).await?;
    consent::record_diff(
        conn,
        app,
        survivor.pk,
        &before,
        &survivor.contact.consent,
        ConsentSource::Merge,
        now,
    )
    .await
}

/// Events, memberships, messages and consent history follow a merge to the survivor; where both hold a membership
/// with the same id, the survivor's stays.
async fn move_activity<C: Conn + ?Sized>(
    conn: &mut C,
    from_pk: i64,
    to_pk: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE events SET contact_pk = $1 WHERE contact_pk = $2",
        args![to_pk, from_pk],
    )
    .await?;
    conn.execute(
        "DELETE FROM memberships WHERE contact_pk = $2
           AND id IN (SELECT id FROM memberships WHERE contact_pk = $1)",
        args![to_pk, from_pk],
    )
    .await?;
    // A campaign reaches a person once: where both records have a message (or a skip) of
    // the same campaign, the retired record's one no longer counts as the survivor's. A
    // message already sent keeps its row, detached; one still queued is not sent.
    for sql in [
        "UPDATE messages SET contact_pk = NULL,
            status = CASE WHEN status = 'queued' THEN 'failed' ELSE status END,
            last_error = CASE WHEN status = 'queued'
                THEN 'not sent: merged into a contact who has this campaign' ELSE last_error END,
            next_attempt_at = CASE WHEN status = 'queued' THEN NULL ELSE next_attempt_at END
         WHERE contact_pk = $2 AND campaign_pk IN
            (SELECT campaign_pk FROM messages WHERE contact_pk = $1 AND campaign_pk IS NOT NULL)",
        "DELETE FROM campaign_skips WHERE contact_pk = $2 AND campaign_pk IN
            (SELECT campaign_pk FROM campaign_skips WHERE contact_pk = $1
             UNION SELECT campaign_pk FROM messages WHERE contact_pk = $1 AND campaign_pk IS NOT NULL)",
        "DELETE FROM campaign_skips WHERE contact_pk = $1 AND campaign_pk IN
            (SELECT campaign_pk FROM messages WHERE contact_pk = $2 AND campaign_pk IS NOT NULL)",
    ] {
        conn.execute(sql, args![to_pk, from_pk]).await?;
    }
    for sql in [
        "UPDATE memberships SET contact_pk = $1 WHERE contact_pk = $2",
        "UPDATE messages SET contact_pk = $1 WHERE contact_pk = $2",
        "UPDATE consent_events SET contact_pk = $1 WHERE contact_pk = $2",
        "UPDATE form_submissions SET contact_pk = $1 WHERE contact_pk = $2",
        "UPDATE campaign_skips SET contact_pk = $1 WHERE contact_pk = $2",
    ] {
        conn.execute(sql, args![to_pk, from_pk]).await?;
    }
    Ok(())
}

/// `user_id` is unique per app: a write that would give it to a second contact is refused.
pub async fn ensure_user_id_free<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    user_id: Option<&str>,
    own_pk: Option<i64>,
) -> StoreResult<()> {
    let Some(user_id) = user_id else {
        return Ok(());
    };
    let holder: Option<(i64,)> = conn
        .fetch_optional(
            "SELECT pk FROM contacts WHERE app_id = $1 AND user_id = $2",
            args![app.as_str(), user_id],
        )
        .await?;
    match holder {
        Some((pk,)) if Some(pk) != own_pk => {
            Err(InputError::new("user_id", "user_id belongs to another contact").into())
        }
        _ => Ok(()),
    }
}

/// Inserts a new contact and returns its internal id.
pub async fn insert_row<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    contact: &Contact,
) -> StoreResult<i64> {
    let mut values = args![app.as_str(), contact.id.as_str()];
    values.extend(contact_values(contact));
    conn.fetch_optional(
        "INSERT INTO contacts (app_id, id, user_id, first_name, last_name, email, email_lc, phone,
            address, city, state, zip, source, dob, gender, type, status, location,
            custom, tags, sms_optin, sms_optin_date, sms_optout, sms_optout_date, email_optout,
            email_optout_date, created_date, updated_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)
         RETURNING pk",
        values,
    )
    .await?
    .map(|(pk,): (i64,)| pk)
    .ok_or_else(|| StoreError::Corrupt("INSERT INTO contacts returned no pk".into()))
}

pub async fn update_row<C: Conn + ?Sized>(
    conn: &mut C,
    pk: i64,
    contact: &Contact,
) -> StoreResult<()> {
    let mut values = contact_values(contact);
    values.push(pk.into());
    conn.execute(
        "UPDATE contacts SET user_id = $1, first_name = $2, last_name = $3, email = $4, email_lc = $5,
            phone = $6, address = $7, city = $8, state = $9, zip = $10, source = $11, dob = $12,
            gender = $13, type = $14, status = $15, location = $16,
            custom = $17, tags = $18, sms_optin = $19, sms_optin_date = $20, sms_optout = $21,
            sms_optout_date = $22, email_optout = $23, email_optout_date = $24,
            created_date = $25, updated_date = $26
         WHERE pk = $27",
        values,
    )
    .await?;
    Ok(())
}

/// Keeps the getAttributes catalogue: a name seen with several types is widened to string.
/// Most writes find their attributes already catalogued with a fitting type and take no
/// lock; the others lock the name and look again, so concurrent writers cannot undo each
/// other's widening.
async fn record_custom_attributes<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    request: &NewContact,
    now: Timestamp,
) -> StoreResult<()> {
    for (name, value) in request.custom.iter().filter(|(_, v)| !v.is_null()) {
        let kind = AttributeType::of(value);
        if catalogued_kind(conn, app, name, kind).await?.is_none() {
            continue;
        }
        conn.lock_keys(&mut vec![format!("attribute:{app}:{name}")])
            .await?;
        let Some(kind) = catalogued_kind(conn, app, name, kind).await? else {
            continue;
        };
        conn.execute(
            "INSERT INTO custom_attributes (app_id, name, type, first_seen) VALUES ($1, $2, $3, $4)
             ON CONFLICT (app_id, name) DO UPDATE SET type = excluded.type",
            args![app.as_str(), name.as_str(), kind.as_str(), now.to_rfc3339()],
        )
        .await?;
    }
    Ok(())
}

/// The type the catalogue must record for `name` after seeing a `kind` value, or `None`
/// when it already does.
async fn catalogued_kind<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    name: &str,
    kind: AttributeType,
) -> StoreResult<Option<AttributeType>> {
    let seen: Option<(String,)> = conn
        .fetch_optional(
            "SELECT type FROM custom_attributes WHERE app_id = $1 AND name = $2",
            args![app.as_str(), name],
        )
        .await?;
    Ok(match seen.and_then(|(t,)| AttributeType::parse(&t)) {
        Some(old) if old.widen(kind) == old => None,
        Some(old) => Some(old.widen(kind)),
        None => Some(kind),
    })
}
