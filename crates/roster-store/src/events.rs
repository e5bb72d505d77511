//! newEvent, getCustomerEvents and getAttributeEvents.

use std::collections::BTreeMap;

use roster_domain::{
    AppId, Contact, ContactId, ContactIdentity, Date, Event, EventTime, EventTypeSummary, NewEvent,
    Page, Timestamp, ids::new_object_id,
};
use serde_json::Value;

mod batch;
pub use batch::record_all;

use crate::{
    StoreError, StoreResult,
    conn::{Arg, Conn, Filtered, args, page_args},
    contacts::{
        identity::{self, Purpose},
        writes::{ensure_user_id_free, insert_row, update_row},
    },
    rows::StoredContact,
};

/// The columns of [`EventRow`], for queries joining `events e` and `contacts c`.
macro_rules! event_columns {
    () => {
        "e.public_id, e.id, c.id AS contact_id, e.event_type, e.event_name, e.event_date, \
         e.event_time, e.event_clock, e.is_visit, e.is_purchase, e.location, e.event_data, \
         e.created_date"
    };
}
pub(crate) use event_columns;

#[derive(sqlx::FromRow)]
pub struct EventRow {
    public_id: String,
    id: String,
    contact_id: String,
    event_type: String,
    event_name: Option<String>,
    event_date: String,
    event_time: Option<String>,
    event_clock: String,
    is_visit: bool,
    is_purchase: bool,
    location: Option<String>,
    event_data: Option<String>,
    created_date: String,
}

impl EventRow {
    pub fn into_event(self) -> StoreResult<Event> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("events.{what} of {}", self.public_id));
        let time = match self.event_time {
            Some(sent) => Some(
                EventTime::from_stored(sent, &self.event_clock)
                    .ok_or_else(|| corrupt("event_time"))?,
            ),
            None => None,
        };
        let data = match &self.event_data {
            Some(text) => {
                Some(serde_json::from_str::<Value>(text).map_err(|_| corrupt("event_data"))?)
            }
            None => None,
        };
        Ok(Event {
            date: Date::parse("", &self.event_date).map_err(|_| corrupt("event_date"))?,
            created_date: Timestamp::parse_rfc3339(&self.created_date)
                .ok_or_else(|| corrupt("created_date"))?,
            time,
            data,
            public_id: self.public_id,
            id: self.id,
            contact_id: self.contact_id,
            event_type: self.event_type,
            event_name: self.event_name,
            is_visit: self.is_visit,
            is_purchase: self.is_purchase,
            location: self.location,
        })
    }
}

/// The keys a newEvent's write locks where writers run side by side (PostgreSQL): its
/// contact's identity, and its own id.
pub fn lock_keys(app: &AppId, event: &NewEvent) -> Vec<String> {
    let mut keys = identity::lock_keys(app, &event.identity);
    keys.push(format!("event:{app}:{}", event.id));
    keys
}

/// newEvent: finds (or creates) the contact, upserts the event by the caller's id and keeps
/// the event-field catalogue. The contact's row is left alone: its last visit and last
/// location are read from its events (`rows::contact_columns`).
pub async fn record<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    event: &NewEvent,
) -> StoreResult<()> {
    let now = Timestamp::now();
    conn.lock_keys(&mut lock_keys(app, event)).await?;
    let contact = contact_for(conn, app, &event.identity, now).await?;
    upsert_row(conn, app, contact.pk, event, now).await?;
    for field in event.data_fields() {
        conn.execute(
            "INSERT INTO event_fields (app_id, event_type, field) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            args![app.as_str(), event.event_type.as_str(), field],
        )
        .await?;
    }
    Ok(())
}

/// The event's contact; one the identity does not find is created from what it carries
/// (contract: "newEvent creates a minimal contact").
async fn contact_for<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    identity: &ContactIdentity,
    now: Timestamp,
) -> StoreResult<StoredContact> {
    if let Some(mut found) = identity::resolve(conn, app, identity, Purpose::Write).await? {
        if identity.give_user_id(&mut found.contact) {
            found.contact.updated_date = now;
            ensure_user_id_free(conn, app, found.contact.user_id.as_deref(), Some(found.pk))
                .await?;
            update_row(conn, found.pk, &found.contact).await?;
        }
        return Ok(found);
    }
    let contact = Contact::minimal(ContactId::generate(now.datetime()), identity, now);
    ensure_user_id_free(conn, app, contact.user_id.as_deref(), None).await?;
    let pk = insert_row(conn, app, &contact).await?;
    Ok(StoredContact { pk, contact })
}

/// The start of every events upsert; VALUES rows follow, then [`ON_EVENT_CONFLICT`].
const INSERT_EVENTS: &str = "INSERT INTO events (app_id, public_id, id, contact_pk, event_type,
    event_name, event_date, event_time, event_clock, is_visit, is_purchase, location, event_data,
    created_date, updated_date) VALUES ";

/// Re-sending an event id updates that event (contract, newEvent); its `_id` and
/// `created_date` stay.
const ON_EVENT_CONFLICT: &str = " ON CONFLICT (app_id, id) DO UPDATE SET
    contact_pk = excluded.contact_pk, event_type = excluded.event_type,
    event_name = excluded.event_name, event_date = excluded.event_date,
    event_time = excluded.event_time, event_clock = excluded.event_clock,
    is_visit = excluded.is_visit, is_purchase = excluded.is_purchase,
    location = excluded.location, event_data = excluded.event_data,
    updated_date = excluded.updated_date";

async fn upsert_row<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    contact_pk: i64,
    event: &NewEvent,
    now: Timestamp,
) -> StoreResult<()> {
    let values = upsert_values(app, new_object_id(now.datetime()), contact_pk, event, now);
    let sql = format!(
        "{INSERT_EVENTS} ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
         {ON_EVENT_CONFLICT}"
    );
    conn.execute(sql, values).await?;
    Ok(())
}

/// The 14 values of an events row, in the column order of the INSERT statements
/// (`created_date` doubles as `updated_date`).
fn upsert_values(
    app: &AppId,
    public_id: String,
    contact_pk: i64,
    event: &NewEvent,
    now: Timestamp,
) -> Vec<Arg> {
    args![
        app.as_str(),
        public_id,
        event.id.as_str(),
        contact_pk,
        event.event_type.as_str(),
        event.event_name.clone(),
        event.date.to_string(),
        event.time.as_ref().map(|t| t.as_sent().to_string()),
        event
            .time
            .as_ref()
            .map_or_else(|| "00:00:00".to_string(), EventTime::hhmmss),
        event.is_visit,
        event.is_purchase,
        event.location.clone(),
        event.data.as_ref().map(Value::to_string),
        now.to_rfc3339(),
    ]
}

/// getCustomerEvents filters.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub event_type: Option<String>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

/// A contact's events, newest first; an identity naming no contact has none.
pub async fn of_contact<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    identity: &ContactIdentity,
    query: &EventQuery,
    page: Page,
) -> StoreResult<Vec<Event>> {
    let Some(contact) = identity::resolve(conn, app, identity, Purpose::Read).await? else {
        return Ok(Vec::new());
    };
    let mut filtered = Filtered::new(
        concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e JOIN contacts c ON c.pk = e.contact_pk WHERE e.contact_pk = $1"
        ),
        args![contact.pk],
    );
    if let Some(event_type) = &query.event_type {
        filtered.and(" AND e.event_type = $N", event_type.clone());
    }
    if let Some(start) = query.start_date {
        filtered.and(" AND e.event_date >= $N", start.to_string());
    }
    if let Some(end) = query.end_date {
        filtered.and(" AND e.event_date <= $N", end.to_string());
    }
    let (sql, args) = filtered.page("e.event_date DESC, e.event_clock DESC, e.pk DESC", page);
    let rows: Vec<EventRow> = conn.fetch_all(sql, args).await?;
    rows.into_iter().map(EventRow::into_event).collect()
}

/// getAttributeEvents: one entry per event type, in type order.
pub async fn catalogue<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    page: Page,
) -> StoreResult<Vec<EventTypeSummary>> {
    let types: Vec<(String, i64, String, String)> = conn
        .fetch_all(
            "SELECT event_type, COUNT(*), MIN(event_date), MAX(event_date) FROM events
             WHERE app_id = $1 GROUP BY event_type ORDER BY event_type LIMIT $2 OFFSET $3",
            [args![app.as_str()], page_args(page).to_vec()].concat(),
        )
        .await?;
    let (Some(first), Some(last)) = (types.first(), types.last()) else {
        return Ok(Vec::new());
    };
    let range = args![app.as_str(), first.0.clone(), last.0.clone()];
    let names: Vec<(String, String)> = conn
        .fetch_all(
            "SELECT DISTINCT event_type, event_name FROM events
             WHERE app_id = $1 AND event_type BETWEEN $2 AND $3 AND event_name IS NOT NULL
             ORDER BY event_type, event_name",
            range.clone(),
        )
        .await?;
    let fields: Vec<(String, String)> = conn
        .fetch_all(
            "SELECT event_type, field FROM event_fields WHERE app_id = $1 AND event_type BETWEEN $2 AND $3
             ORDER BY event_type, field",
            range,
        )
        .await?;
    let group = |pairs: Vec<(String, String)>| {
        let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (event_type, value) in pairs {
            by_type.entry(event_type).or_default().push(value);
        }
        by_type
    };
    let (mut names, mut fields) = (group(names), group(fields));
    types
        .into_iter()
        .map(|(event_type, count, first, last)| {
            let date = |d: &str| {
                Date::parse("", d)
                    .map_err(|_| StoreError::Corrupt(format!("event dates of {event_type}")))
            };
            Ok(EventTypeSummary {
                first_date: date(&first)?,
                last_date: date(&last)?,
                event_names: names.remove(&event_type).unwrap_or_default(),
                fields: fields.remove(&event_type).unwrap_or_default(),
                count,
                event_type,
            })
        })
        .collect()
}
