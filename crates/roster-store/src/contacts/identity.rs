//! The contract's identity rule, in its order: `_id` (also a retired id), `user_id`,
//! email + first name, phone + first name. Whether a candidate found by email or phone is
//! accepted is the domain's rule ([`ContactIdentity::accepts`]).

use roster_domain::{AppId, ContactId, ContactIdentity, InputError};

use crate::{
    StoreResult,
    conn::{Conn, Sql, args},
    rows::{ContactRow, StoredContact, contact_columns},
};

/// Whether rows found are about to be written (then locked where the backend can).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Read,
    Write,
}

/// The contact an identity names. An `_id` that names none is an error on writes and
/// `None` on reads (contract: "given but unknown: 400 on writes, an empty list on reads").
pub async fn resolve<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    identity: &ContactIdentity,
    purpose: Purpose,
) -> StoreResult<Option<StoredContact>> {
    if let Some(id) = &identity.id {
        let found = by_id(conn, app, id, purpose).await?;
        return match (found, purpose) {
            (None, Purpose::Write) => Err(InputError::new("_id", "no contact has this _id").into()),
            (found, _) => Ok(found),
        };
    }
    if let Some(user_id) = &identity.user_id {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.app_id = $1 AND c.user_id = $2"
        );
        if let Some(found) = candidates(conn, sql, app, user_id, purpose)
            .await?
            .into_iter()
            .next()
        {
            return Ok(Some(found));
        }
    }
    if let Some(email) = &identity.email {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.app_id = $1 AND c.email_lc = $2 ORDER BY c.pk"
        );
        if let Some(found) = pick(
            identity,
            candidates(conn, sql, app, email.normalized(), purpose).await?,
        ) {
            return Ok(Some(found));
        }
    }
    if let Some(phone) = &identity.phone {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.app_id = $1 AND c.phone = $2 ORDER BY c.pk"
        );
        if let Some(found) = pick(
            identity,
            candidates(conn, sql, app, phone.as_str(), purpose).await?,
        ) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The lock keys of an identity: two requests that could match the same contact share one.
pub fn lock_keys(app: &AppId, identity: &ContactIdentity) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(user_id) = &identity.user_id {
        keys.push(format!("contact:{app}:user:{user_id}"));
    }
    if let Some(email) = &identity.email {
        keys.push(format!("contact:{app}:email:{}", email.normalized()));
    }
    if let Some(phone) = &identity.phone {
        keys.push(format!("contact:{app}:phone:{phone}"));
    }
    keys
}

fn pick(identity: &ContactIdentity, mut candidates: Vec<StoredContact>) -> Option<StoredContact> {
    // Without a first name, an email or phone names a contact only when exactly one
    // contact has it (contract, "Contact identity").
    if identity.requires_unique_match() && candidates.len() != 1 {
        return None;
    }
    candidates.retain(|c| identity.accepts(&c.contact.first_name, c.contact.user_id.as_deref()));
    (!candidates.is_empty()).then(|| candidates.remove(0))
}

async fn candidates<C: Conn + ?Sized>(
    conn: &mut C,
    sql: &'static str,
    app: &AppId,
    key: &str,
    purpose: Purpose,
) -> StoreResult<Vec<StoredContact>> {
    // Locking in the lookup itself makes PostgreSQL re-check the condition on the latest
    // version of each row, so a contact whose email changed meanwhile is not taken.
    let sql: Sql = if purpose == Purpose::Write && C::ROW_LOCKS {
        format!("{sql} FOR UPDATE").into()
    } else {
        sql.into()
    };
    let rows: Vec<ContactRow> = conn.fetch_all(sql, args![app.as_str(), key]).await?;
    rows.into_iter().map(StoredContact::try_from).collect()
}

/// A contact by internal id, locked for update when it is about to be written.
pub async fn load<C: Conn + ?Sized>(
    conn: &mut C,
    pk: i64,
    purpose: Purpose,
) -> StoreResult<Option<StoredContact>> {
    let row: Option<ContactRow> = if purpose == Purpose::Write && C::ROW_LOCKS {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.pk = $1 FOR UPDATE"
        );
        conn.fetch_optional(sql, args![pk]).await?
    } else {
        let sql = concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts c WHERE c.pk = $1"
        );
        conn.fetch_optional(sql, args![pk]).await?
    };
    row.map(StoredContact::try_from).transpose()
}

/// A contact by id (or retired id). A merge may retire the id between the lookup and the
/// locked read; the second lookup then finds the survivor.
async fn by_id<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &ContactId,
    purpose: Purpose,
) -> StoreResult<Option<StoredContact>> {
    for _ in 0..2 {
        let Some(pk) = pk_of(conn, app, id).await? else {
            return Ok(None);
        };
        if let Some(found) = load(conn, pk, purpose).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The internal id of a contact id, or of the survivor of a merge that retired it.
pub async fn pk_of<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &ContactId,
) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = conn
        .fetch_optional(
            "SELECT pk FROM contacts WHERE app_id = $1 AND id = $2
             UNION ALL
             SELECT survivor_pk FROM contact_aliases WHERE app_id = $1 AND retired_id = $2
             LIMIT 1",
            args![app.as_str(), id.as_str()],
        )
        .await?;
    Ok(row.map(|(pk,)| pk))
}
