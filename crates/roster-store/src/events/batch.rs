//! newEvent for a whole group-committed batch with a handful of set-based statements.
//!
//! Each statement is a round trip (to SQLite's thread, or to PostgreSQL), and the
//! one-by-one path ([`super::record`]) takes a few of them per event. Here a batch of
//! events costs three statements in all, when every event names its contact by `user_id`
//! alone (found, or created minimal) and no event id repeats within the batch. Any other
//! batch is written one event at a time, so the rules stay those of [`super::record`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use roster_domain::{AppId, Contact, ContactId, NewEvent, Timestamp, ids::new_object_id};

use super::{INSERT_EVENTS, ON_EVENT_CONFLICT, upsert_values};
use crate::{
    StoreError, StoreResult,
    conn::{Conn, Params},
    contacts::writes::insert_row,
};

/// Records `events` in order, as [`super::record`] would one by one. Where writers run
/// side by side (PostgreSQL) the caller has already taken every lock the events need
/// (`group_commit` does, for its whole batch).
pub async fn record_all<C: Conn + ?Sized>(
    conn: &mut C,
    events: &[&(AppId, NewEvent)],
) -> StoreResult<()> {
    if !events.iter().all(|(_, event)| takes_common_path(event)) || has_repeats(events) {
        return one_by_one(conn, events).await;
    }
    let now = Timestamp::now();
    for (app, of_app) in by_app(events).values() {
        let contacts = contacts_by_user_id(conn, app, of_app, now).await?;
        upsert_events(conn, app, of_app, &|event| contacts[user_id(event)], now).await?;
        catalogue_fields(conn, app, of_app).await?;
    }
    Ok(())
}

async fn one_by_one<C: Conn + ?Sized>(
    conn: &mut C,
    events: &[&(AppId, NewEvent)],
) -> StoreResult<()> {
    if C::ROW_LOCKS {
        // Another process's batch of the same app may catalogue the same fields. Inserted
        // event by event, in arrival order, two batches could each wait for a catalogue row
        // the other inserted first (a deadlock PostgreSQL breaks after a second). All at
        // once, in (app, type, field) order like the merged path's, they wait in one order.
        for (app, of_app) in by_app(events).values() {
            catalogue_fields(conn, app, of_app).await?;
        }
    }
    for (app, event) in events {
        super::record(conn, app, event).await?;
    }
    Ok(())
}

/// The events of each app, apps in order.
fn by_app<'e>(
    events: &[&'e (AppId, NewEvent)],
) -> BTreeMap<&'e str, (&'e AppId, Vec<&'e NewEvent>)> {
    let mut by_app: BTreeMap<&str, (&AppId, Vec<&NewEvent>)> = BTreeMap::new();
    for (app, event) in events {
        by_app
            .entry(app.as_str())
            .or_insert_with(|| (app, Vec::new()))
            .1
            .push(event);
    }
    by_app
}

/// Named by `user_id` alone: found by it, or created with only it.
fn takes_common_path(event: &NewEvent) -> bool {
    let identity = &event.identity;
    identity.user_id.is_some()
        && identity.id.is_none()
        && identity.email.is_none()
        && identity.phone.is_none()
}

/// The same event id twice is an update of the first: the one-by-one path applies them in
/// order (an upsert statement naming a row twice is refused by PostgreSQL, and this module
/// should not rely on SQLite applying its rows in order).
fn has_repeats(events: &[&(AppId, NewEvent)]) -> bool {
    let mut seen = BTreeSet::new();
    !events
        .iter()
        .all(|(app, event)| seen.insert((app.as_str(), event.id.as_str())))
}

fn user_id(event: &NewEvent) -> &str {
    event.identity.user_id.as_deref().unwrap_or_default()
}

/// Each event's contact by `user_id`; those not found are created minimal (contract:
/// "newEvent creates a minimal contact").
async fn contacts_by_user_id<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    events: &[&NewEvent],
    now: Timestamp,
) -> StoreResult<HashMap<String, i64>> {
    let wanted: BTreeSet<&str> = events.iter().map(|e| user_id(e)).collect();
    let mut params = Params::<C>::new();
    // One row holding them all: sqlx's SQLite worker hands rows over one at a time
    // through a channel of 50, and for a batch's hundred contacts the writer and that
    // thread woke each other about 20 times, each a chance for a request thread to take
    // the core from the one serial path every newEvent waits for.
    let sql = format!(
        "SELECT {} FROM contacts WHERE app_id = {} AND user_id IN ({})",
        C::json_rows("user_id, pk"),
        params.add(app.as_str()),
        params.list(wanted)
    );
    let (packed,): (String,) = conn
        .fetch_optional(sql, params.into_args())
        .await?
        .ok_or_else(|| StoreError::Corrupt("an aggregate answered no row".into()))?;
    let found: Vec<(String, i64)> = serde_json::from_str(&packed)
        .map_err(|e| StoreError::Corrupt(format!("contacts by user_id: {e}")))?;
    let mut pks: HashMap<String, i64> = found.into_iter().collect();
    for event in events {
        if !pks.contains_key(user_id(event)) {
            let contact =
                Contact::minimal(ContactId::generate(now.datetime()), &event.identity, now);
            let pk = insert_row(conn, app, &contact).await?;
            pks.insert(user_id(event).to_string(), pk);
        }
    }
    Ok(pks)
}

/// New events are inserted, re-sent ids update theirs (contract, newEvent).
async fn upsert_events<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    events: &[&NewEvent],
    pk_of: &impl Fn(&NewEvent) -> i64,
    now: Timestamp,
) -> StoreResult<()> {
    let mut params = Params::<C>::new();
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let values = upsert_values(app, new_object_id(now.datetime()), pk_of(event), event, now);
        let listed = params.list(values);
        // `updated_date` starts as `created_date`.
        rows.push(format!("({listed}, {})", params.add(now.to_rfc3339())));
    }
    let sql = format!("{INSERT_EVENTS}{}{ON_EVENT_CONFLICT}", rows.join(", "));
    conn.execute(sql, params.into_args()).await?;
    Ok(())
}

async fn catalogue_fields<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    events: &[&NewEvent],
) -> StoreResult<()> {
    let fields: BTreeSet<(&str, String)> = events
        .iter()
        .flat_map(|e| {
            e.data_fields()
                .into_iter()
                .map(|field| (e.event_type.as_str(), field))
        })
        .collect();
    if fields.is_empty() {
        return Ok(());
    }
    let mut params = Params::<C>::new();
    let rows: Vec<String> = fields
        .into_iter()
        .map(|(event_type, field)| {
            format!(
                "({}, {}, {})",
                params.add(app.as_str()),
                params.add(event_type),
                params.add(field)
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO event_fields (app_id, event_type, field) VALUES {} ON CONFLICT DO NOTHING",
        rows.join(", ")
    );
    conn.execute(sql, params.into_args()).await?;
    Ok(())
}
