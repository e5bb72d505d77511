//! getCustomers, getOptinCustomers, getOptoutCustomers and the attribute catalogue.
//! Every list is ordered by the internal id (contract: stable order across pages).

use roster_domain::{
    AppId, Contact, ContactFilter, OptoutChannel, Page, attributes::AttributeType,
};
use sqlx::{Row, SqlitePool};

use super::contact_rows::{ContactRow, contact_columns};
use crate::{CustomAttribute, StoreError, StoreResult};

pub async fn find(
    pool: &SqlitePool,
    app: &AppId,
    filter: &ContactFilter,
    page: Page,
) -> StoreResult<Vec<Contact>> {
    // Absent filters bind NULL and drop out; several present ones combine with AND.
    let sql = concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts c
         WHERE c.app_id = ?1
           AND (?2 IS NULL OR c.pk = (
                 SELECT pk FROM contacts WHERE app_id = ?1 AND id = ?2
                 UNION ALL
                 SELECT survivor_pk FROM contact_aliases WHERE app_id = ?1 AND retired_id = ?2
                 LIMIT 1))
           AND (?3 IS NULL OR c.user_id = ?3)
           AND (?4 IS NULL OR c.email_lc = ?4)
           AND (?5 IS NULL OR c.phone = ?5)
           AND (?6 IS NULL OR c.updated_date >= ?6)
         ORDER BY c.pk LIMIT ?7 OFFSET ?8"
    );
    let rows: Vec<ContactRow> = sqlx::query_as(sql)
        .bind(app.as_str())
        .bind(filter.id.as_ref().map(|id| id.as_str().to_string()))
        .bind(filter.user_id.clone())
        .bind(filter.email.as_ref().map(|e| e.normalized().to_string()))
        .bind(filter.phone.as_ref().map(|p| p.as_str().to_string()))
        .bind(filter.updated_since.map(|d| d.start_of_day().to_rfc3339()))
        .bind(i64::from(page.limit))
        .bind(offset(page))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(ContactRow::into_contact).collect()
}

pub async fn sms_optins(pool: &SqlitePool, app: &AppId, page: Page) -> StoreResult<Vec<Contact>> {
    let sql = concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts c
         WHERE c.app_id = ? AND c.sms_optin = 1 ORDER BY c.pk LIMIT ? OFFSET ?"
    );
    let rows: Vec<ContactRow> = sqlx::query_as(sql)
        .bind(app.as_str())
        .bind(i64::from(page.limit))
        .bind(offset(page))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(ContactRow::into_contact).collect()
}

pub async fn optouts(
    pool: &SqlitePool,
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
         WHERE c.app_id = ? AND (c.sms_optout = 1 OR c.email_optout = 1)
           AND ((? AND c.sms_optout = 1) OR (? AND c.email_optout = 1))
         ORDER BY c.pk LIMIT ? OFFSET ?"
    );
    let rows: Vec<ContactRow> = sqlx::query_as(sql)
        .bind(app.as_str())
        .bind(sms)
        .bind(email)
        .bind(i64::from(page.limit))
        .bind(offset(page))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(ContactRow::into_contact).collect()
}

pub async fn custom_attributes(
    pool: &SqlitePool,
    app: &AppId,
) -> StoreResult<Vec<CustomAttribute>> {
    let rows =
        sqlx::query("SELECT name, type FROM custom_attributes WHERE app_id = ? ORDER BY name")
            .bind(app.as_str())
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|row| {
            let kind: String = row.try_get("type")?;
            Ok(CustomAttribute {
                name: row.try_get("name")?,
                kind: AttributeType::parse(&kind).ok_or_else(|| {
                    StoreError::Corrupt(format!("custom_attributes.type {kind:?}"))
                })?,
            })
        })
        .collect()
}

/// SQLite takes a signed 64-bit offset; a larger one is simply past the end.
fn offset(page: Page) -> i64 {
    i64::try_from(page.offset).unwrap_or(i64::MAX)
}
