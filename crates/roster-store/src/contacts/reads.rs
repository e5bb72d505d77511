//! getCustomers, getOptinCustomers, getOptoutCustomers and the attribute catalogue.
//! Every list is ordered by the internal id (contract: stable order across pages).

use roster_domain::{
    AppId, Contact, ContactFilter, OptoutChannel, Page, attributes::AttributeType,
};

use crate::{
    CustomAttribute, StoreError, StoreResult,
    conn::{Conn, args},
    rows::{ContactRow, contact_columns},
};

pub async fn find<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    filter: &ContactFilter,
    page: Page,
) -> StoreResult<Vec<Contact>> {
    // Absent filters bind NULL and drop out; several present ones combine with AND.
    let sql = concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts c
         WHERE c.app_id = $1
           AND ($2 IS NULL OR c.pk = (
                 SELECT pk FROM contacts WHERE app_id = $1 AND id = $2
                 UNION ALL
                 SELECT survivor_pk FROM contact_aliases WHERE app_id = $1 AND retired_id = $2
                 LIMIT 1))
           AND ($3 IS NULL OR c.user_id = $3)
           AND ($4 IS NULL OR c.email_lc = $4)
           AND ($5 IS NULL OR c.phone = $5)
           AND ($6 IS NULL OR c.updated_date >= $6)
         ORDER BY c.pk LIMIT $7 OFFSET $8"
    );
    let args = args![
        app.as_str(),
        filter.id.as_ref().map(|id| id.as_str().to_string()),
        filter.user_id.clone(),
        filter.email.as_ref().map(|e| e.normalized().to_string()),
        filter.phone.as_ref().map(|p| p.as_str().to_string()),
        filter.updated_since.map(|d| d.start_of_day().to_rfc3339()),
        i64::from(page.limit),
        offset(page),
    ];
    contacts(conn.fetch_all(sql, args).await?)
}

pub async fn sms_optins<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    page: Page,
) -> StoreResult<Vec<Contact>> {
    let sql = concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts c
         WHERE c.app_id = $1 AND c.sms_optin ORDER BY c.pk LIMIT $2 OFFSET $3"
    );
    contacts(
        conn.fetch_all(
            sql,
            args![app.as_str(), i64::from(page.limit), offset(page)],
        )
        .await?,
    )
}

pub async fn optouts<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    channel: Option<OptoutChannel>,
    page: Page,
) -> StoreResult<Vec<Contact>> {
    let (sms, email) = match channel {
        None => (true, true),
        Some(OptoutChannel::Sms) => (true, false),
        Some(OptoutChannel::Email) => (false, true),
    };
    let sql = concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts c
         WHERE c.app_id = $1 AND (c.sms_optout OR c.email_optout)
           AND (($2 AND c.sms_optout) OR ($3 AND c.email_optout))
         ORDER BY c.pk LIMIT $4 OFFSET $5"
    );
    contacts(
        conn.fetch_all(
            sql,
            args![
                app.as_str(),
                sms,
                email,
                i64::from(page.limit),
                offset(page)
            ],
        )
        .await?,
    )
}

pub async fn custom_attributes<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
) -> StoreResult<Vec<CustomAttribute>> {
    let rows: Vec<(String, String)> = conn
        .fetch_all(
            "SELECT name, type FROM custom_attributes WHERE app_id = $1 ORDER BY name",
            args![app.as_str()],
        )
        .await?;
    rows.into_iter()
        .map(|(name, kind)| {
            let kind = AttributeType::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("custom_attributes.type {kind:?}")))?;
            Ok(CustomAttribute { name, kind })
        })
        .collect()
}

fn contacts(rows: Vec<ContactRow>) -> StoreResult<Vec<Contact>> {
    rows.into_iter().map(ContactRow::into_contact).collect()
}

/// Offsets are signed 64-bit in SQL; a larger one is simply past the end.
fn offset(page: Page) -> i64 {
    i64::try_from(page.offset).unwrap_or(i64::MAX)
}
