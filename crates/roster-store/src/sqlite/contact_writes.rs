//! newContact, removeContact and mergeContacts inside one write transaction each.

use roster_domain::{
    AppId, ContactId, ContactIdentity, InputError, NewContact, Timestamp, attributes::AttributeType,
};
use sqlx::{Sqlite, query::Query, sqlite::SqliteArguments};

use super::{
    Tx,
    contact_rows::{ContactRow, ContactValues, StoredContact, contact_columns},
};
use crate::{StoreError, StoreResult};

pub async fn upsert(tx: &mut Tx, app: &AppId, request: &NewContact) -> StoreResult<ContactId> {
    let now = Timestamp::now();
    let identity = request.identity();
    let found = resolve(tx, app, &identity, "_id").await?;
    let id = match found {
        Some(mut stored) => {
            request.apply_to(&mut stored.contact, now);
            ensure_user_id_free(tx, app, stored.contact.user_id.as_deref(), Some(stored.pk))
                .await?;
            update_row(tx, stored.pk, &(&stored.contact).into()).await?;
            stored.contact.id
        }
        None => {
            let contact = request.create(ContactId::generate(now.datetime()), now);
            ensure_user_id_free(tx, app, contact.user_id.as_deref(), None).await?;
            insert_row(tx, app, &contact.id, &(&contact).into()).await?;
            contact.id
        }
    };
    record_custom_attributes(tx, app, request, now).await?;
    Ok(id)
}

pub async fn remove(tx: &mut Tx, app: &AppId, id: &ContactId) -> StoreResult<()> {
    let Some(pk) = pk_of(tx, app, id).await? else {
        return Err(InputError::new("id", "no contact has this id").into());
    };
    // Aliases pointing at the contact go with it (ON DELETE CASCADE).
    sqlx::query("DELETE FROM contacts WHERE pk = ?")
        .bind(pk)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn merge(
    tx: &mut Tx,
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
    let mut survivor = by_id(tx, app, survivor_id)
        .await?
        .ok_or_else(|| unknown("from_contact"))?;
    let retired = by_id(tx, app, retired_id)
        .await?
        .ok_or_else(|| unknown("to_contact"))?;
    if survivor.pk == retired.pk {
        return Err(InputError::new("to_contact", "cannot merge a contact with itself").into());
    }
    // Ids already retired into `retired` follow it to the survivor, then its own id does.
    sqlx::query("UPDATE contact_aliases SET survivor_pk = ? WHERE survivor_pk = ?")
        .bind(survivor.pk)
        .bind(retired.pk)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO contact_aliases (retired_id, app_id, survivor_pk) VALUES (?, ?, ?)")
        .bind(retired.contact.id.as_str())
        .bind(app.as_str())
        .bind(survivor.pk)
        .execute(&mut **tx)
        .await?;
    // Delete first: the survivor may take over the retired contact's unique user_id.
    sqlx::query("DELETE FROM contacts WHERE pk = ?")
        .bind(retired.pk)
        .execute(&mut **tx)
        .await?;
    survivor.contact.absorb(retired.contact, Timestamp::now());
    update_row(tx, survivor.pk, &(&survivor.contact).into()).await
}

/// The contract's identity rule, in its order: `_id` (also a retired id), `user_id`,
/// email + first name, phone + first name. Whether a candidate found by email or phone is
/// accepted is the domain's rule ([`ContactIdentity::accepts`]).
pub async fn resolve(
    tx: &mut Tx,
    app: &AppId,
    identity: &ContactIdentity,
    id_field: &str,
) -> StoreResult<Option<StoredContact>> {
    if let Some(id) = &identity.id {
        return match by_id(tx, app, id).await? {
            Some(found) => Ok(Some(found)),
            None => {
                Err(InputError::new(id_field, format!("no contact has this {id_field}")).into())
            }
        };
    }
    if let Some(user_id) = &identity.user_id {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.app_id = ? AND c.user_id = ?"
        );
        let found =
            fetch_candidates(tx, sqlx::query_as(sql).bind(app.as_str()).bind(user_id)).await?;
        if let Some(found) = found.into_iter().next() {
            return Ok(Some(found));
        }
    }
    if let Some(email) = &identity.email {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.app_id = ? AND c.email_lc = ? ORDER BY c.pk"
        );
        let found = fetch_candidates(
            tx,
            sqlx::query_as(sql)
                .bind(app.as_str())
                .bind(email.normalized()),
        )
        .await?;
        if let Some(found) = pick(identity, found) {
            return Ok(Some(found));
        }
    }
    if let Some(phone) = &identity.phone {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.app_id = ? AND c.phone = ? ORDER BY c.pk"
        );
        let found = fetch_candidates(
            tx,
            sqlx::query_as(sql).bind(app.as_str()).bind(phone.as_str()),
        )
        .await?;
        if let Some(found) = pick(identity, found) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn pick(identity: &ContactIdentity, candidates: Vec<StoredContact>) -> Option<StoredContact> {
    let mut accepted: Vec<StoredContact> = candidates
        .into_iter()
        .filter(|c| identity.accepts(&c.contact.first_name, c.contact.user_id.as_deref()))
        .collect();
    if identity.requires_unique_match() && accepted.len() != 1 {
        return None;
    }
    (!accepted.is_empty()).then(|| accepted.remove(0))
}

type ContactQuery<'q> = sqlx::query::QueryAs<'q, Sqlite, ContactRow, SqliteArguments>;

async fn fetch_candidates(tx: &mut Tx, query: ContactQuery<'_>) -> StoreResult<Vec<StoredContact>> {
    query
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(StoredContact::try_from)
        .collect()
}

/// A contact by its id or by an id a merge retired into it.
async fn by_id(tx: &mut Tx, app: &AppId, id: &ContactId) -> StoreResult<Option<StoredContact>> {
    let Some(pk) = pk_of(tx, app, id).await? else {
        return Ok(None);
    };
    let sql = concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts c WHERE c.pk = ?"
    );
    let found = fetch_candidates(tx, sqlx::query_as(sql).bind(pk)).await?;
    Ok(found.into_iter().next())
}

async fn pk_of(tx: &mut Tx, app: &AppId, id: &ContactId) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT pk FROM contacts WHERE app_id = ?1 AND id = ?2
         UNION ALL
         SELECT survivor_pk FROM contact_aliases WHERE app_id = ?1 AND retired_id = ?2
         LIMIT 1",
    )
    .bind(app.as_str())
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}

/// `user_id` is unique per app: a write that would give it to a second contact is refused.
async fn ensure_user_id_free(
    tx: &mut Tx,
    app: &AppId,
    user_id: Option<&str>,
    own_pk: Option<i64>,
) -> StoreResult<()> {
    let Some(user_id) = user_id else {
        return Ok(());
    };
    let holder: Option<i64> =
        sqlx::query_scalar("SELECT pk FROM contacts WHERE app_id = ? AND user_id = ?")
            .bind(app.as_str())
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    match holder {
        Some(pk) if Some(pk) != own_pk => {
            Err(InputError::new("user_id", "user_id belongs to another contact").into())
        }
        _ => Ok(()),
    }
}

fn bind_values<'q>(
    query: Query<'q, Sqlite, SqliteArguments>,
    v: &ContactValues,
) -> Query<'q, Sqlite, SqliteArguments> {
    let mut query = query
        .bind(v.user_id.clone())
        .bind(v.first_name.clone())
        .bind(v.last_name.clone())
        .bind(v.email.clone())
        .bind(v.email_lc.clone())
        .bind(v.phone.clone());
    for value in &v.strings {
        query = query.bind(value.clone());
    }
    query = query.bind(v.custom.clone()).bind(v.tags.clone());
    for (flag, date) in v.flags.iter().zip(&v.consent_dates) {
        query = query.bind(*flag).bind(date.clone());
    }
    query
        .bind(v.created_date.clone())
        .bind(v.updated_date.clone())
}

async fn insert_row(
    tx: &mut Tx,
    app: &AppId,
    id: &ContactId,
    values: &ContactValues,
) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO contacts (app_id, id, user_id, first_name, last_name, email, email_lc, phone,
            address, city, state, zip, source, dob, gender, type, status, location, last_location,
            custom, tags, sms_optin, sms_optin_date, sms_optout, sms_optout_date, email_optout,
            email_optout_date, created_date, updated_date)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(app.as_str().to_string())
    .bind(id.as_str().to_string());
    bind_values(query, values).execute(&mut **tx).await?;
    Ok(())
}

async fn update_row(tx: &mut Tx, pk: i64, values: &ContactValues) -> StoreResult<()> {
    let query = sqlx::query(
        "UPDATE contacts SET user_id = ?, first_name = ?, last_name = ?, email = ?, email_lc = ?,
            phone = ?, address = ?, city = ?, state = ?, zip = ?, source = ?, dob = ?, gender = ?,
            type = ?, status = ?, location = ?, last_location = ?, custom = ?, tags = ?,
            sms_optin = ?, sms_optin_date = ?, sms_optout = ?, sms_optout_date = ?,
            email_optout = ?, email_optout_date = ?, created_date = ?, updated_date = ?
         WHERE pk = ?",
    );
    bind_values(query, values)
        .bind(pk)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Keeps the getAttributes catalogue: a name seen with several types is widened to string.
async fn record_custom_attributes(
    tx: &mut Tx,
    app: &AppId,
    request: &NewContact,
    now: Timestamp,
) -> StoreResult<()> {
    for (name, value) in request.custom.iter().filter(|(_, v)| !v.is_null()) {
        let seen: Option<String> =
            sqlx::query_scalar("SELECT type FROM custom_attributes WHERE app_id = ? AND name = ?")
                .bind(app.as_str())
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?;
        let kind = AttributeType::of(value);
        let kind = match seen.as_deref().and_then(AttributeType::parse) {
            Some(old) if old.widen(kind) == old => continue,
            Some(old) => old.widen(kind),
            None => kind,
        };
        sqlx::query(
            "INSERT INTO custom_attributes (app_id, name, type, first_seen) VALUES (?, ?, ?, ?)
             ON CONFLICT (app_id, name) DO UPDATE SET type = excluded.type",
        )
        .bind(app.as_str())
        .bind(name)
        .bind(kind.as_str())
        .bind(now.to_rfc3339())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
