//! addMemberships, and the memberships listed under getCustomers' `fulldata`.

use roster_domain::{
    AppId, ContactIdentity, Date, InputError, Membership, NewMembership, Timestamp,
};

use crate::{
    StoreError, StoreResult,
    conn::{Conn, args},
    contacts::identity::{self, Purpose},
};

macro_rules! membership_columns {
    () => {
        "c.id AS contact_id, m.id, m.name, m.status, m.start_date, m.end_date, m.price, \
         m.location_id, m.created_date, m.updated_date"
    };
}
pub(crate) use membership_columns;

#[derive(sqlx::FromRow)]
pub struct MembershipRow {
    contact_id: String,
    id: String,
    name: Option<String>,
    status: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    price: Option<String>,
    location_id: Option<String>,
    created_date: String,
    updated_date: String,
}

impl MembershipRow {
    pub fn into_membership(self) -> StoreResult<Membership> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("memberships.{what} of {}", self.id));
        let date = |d: &Option<String>, what| {
            d.as_deref()
                .map(|d| Date::parse("", d).map_err(|_| corrupt(what)))
                .transpose()
        };
        let price = match &self.price {
            Some(text) => Some(
                text.parse::<serde_json::Number>()
                    .map_err(|_| corrupt("price"))?,
            ),
            None => None,
        };
        Ok(Membership {
            created_date: Timestamp::parse_rfc3339(&self.created_date)
                .ok_or_else(|| corrupt("created_date"))?,
            updated_date: Timestamp::parse_rfc3339(&self.updated_date)
                .ok_or_else(|| corrupt("updated_date"))?,
            fields: NewMembership {
                start_date: date(&self.start_date, "start_date")?,
                end_date: date(&self.end_date, "end_date")?,
                price,
                id: self.id,
                name: self.name,
                status: self.status,
                location_id: self.location_id,
            },
            contact_id: self.contact_id,
        })
    }
}

/// Upserts each membership by its id for the identity's contact; fields a request leaves
/// out keep their stored values. A contact the identity does not find is a 400.
pub async fn add<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    identity: &ContactIdentity,
    memberships: &[NewMembership],
) -> StoreResult<usize> {
    conn.lock_keys(&mut identity::lock_keys(app, identity))
        .await?;
    let Some(contact) = identity::resolve(conn, app, identity, Purpose::Write).await? else {
        return Err(
            InputError::new("user_id", "no contact matches user_id, email or phone").into(),
        );
    };
    let now = Timestamp::now().to_rfc3339();
    for m in memberships {
        conn.execute(
            "INSERT INTO memberships (app_id, contact_pk, id, name, status, start_date, end_date,
                price, location_id, created_date, updated_date)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
             ON CONFLICT (contact_pk, id) DO UPDATE SET
                name = COALESCE(excluded.name, memberships.name),
                status = COALESCE(excluded.status, memberships.status),
                start_date = COALESCE(excluded.start_date, memberships.start_date),
                end_date = COALESCE(excluded.end_date, memberships.end_date),
                price = COALESCE(excluded.price, memberships.price),
                location_id = COALESCE(excluded.location_id, memberships.location_id),
                updated_date = excluded.updated_date",
            args![
                app.as_str(),
                contact.pk,
                m.id.as_str(),
                m.name.clone(),
                m.status.clone(),
                m.start_date.map(|d| d.to_string()),
                m.end_date.map(|d| d.to_string()),
                m.price.as_ref().map(ToString::to_string),
                m.location_id.clone(),
                now.clone(),
            ],
        )
        .await?;
    }
    Ok(memberships.len())
}
