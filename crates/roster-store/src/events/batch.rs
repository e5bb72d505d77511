//! newEvent for a whole group-committed batch with a handful of set-based statements.
//!
//! Through SQLite's single writer each statement is a round trip to its thread, and the
//! one-by-one path ([`super::record`]) takes eight of them per visit. Here a batch of
//! events costs a few statements in all, when every event takes the common path: a new
//! event id, for a contact named by `user_id` alone (found, or created minimal). Any other
//! batch is written one event at a time, so the rules stay those of [`super::record`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use roster_domain::{AppId, Contact, ContactId, NewEvent, Timestamp, ids::new_object_id};

use super::{LatestVisits, latest_visits, upsert_values};
use crate::{
    StoreResult,
    conn::{Conn, Params},
    contacts::writes::insert_row,
};

/// Records `events` in order, as [`super::record`] would one by one.
pub async fn record_all<C: Conn + ?Sized>(
    conn: &mut C,
    events: &[&(AppId, NewEvent)],
) -> StoreResult<()> {
    if !events.iter().all(|(_, event)| takes_common_path(event)) || has_repeats(events) {
        return one_by_one(conn, events).await;
    }
    let mut by_app: BTreeMap<&str, (&AppId, Vec<&NewEvent>)> = BTreeMap::new();
    for (app, event) in events {
        by_app
            .entry(app.as_str())
            .or_insert_with(|| (app, Vec::new()))
            .1
            .push(event);
    }
    for (app, of_app) in by_app.values() {
        if any_exists(conn, app, of_app).await? {
            return one_by_one(conn, events).await;
        }
    }
    let now = Timestamp::now();
    for (app, of_app) in by_app.values() {
        record_new(conn, app, of_app, now).await?;
    }
    Ok(())
}

async fn one_by_one<C: Conn + ?Sized>(
    conn: &mut C,
    events: &[&(AppId, NewEvent)],
) -> StoreResult<()> {
    for (app, event) in events {
        super::record(conn, app, event).await?;
    }
    Ok(())
}

/// Named by `user_id` alone: found by it, or created with only it.
fn takes_common_path(event: &NewEvent) -> bool {
    let identity = &event.identity;
    identity.user_id.is_some()
        && identity.id.is_none()
        && identity.email.is_none()
        && identity.phone.is_none()
}

/// The same event id twice is an update of the first: the one-by-one path handles it.
fn has_repeats(events: &[&(AppId, NewEvent)]) -> bool {
    let mut seen = BTreeSet::new();
    !events
        .iter()
        .all(|(app, event)| seen.insert((app.as_str(), event.id.as_str())))
}

/// Whether any of these event ids is already stored (a re-send: an update).
async fn any_exists<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    events: &[&NewEvent],
) -> StoreResult<bool> {
    let mut params = Params::<C>::new();
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE app_id = {} AND id IN ({})",
        params.add(app.as_str()),
        params.list(events.iter().map(|e| e.id.as_str()))
    );
    let (count,): (i64,) = conn
        .fetch_optional(sql, params.into_args())
        .await?
        .unwrap_or_default();
    Ok(count > 0)
}

async fn record_new<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    events: &[&NewEvent],
    now: Timestamp,
) -> StoreResult<()> {
    let contacts = contacts_by_user_id(conn, app, events, now).await?;
    let pk_of = |event: &NewEvent| contacts[user_id(event)];
    insert_events(conn, app, events, &pk_of, now).await?;
    catalogue_fields(conn, app, events).await?;
    let mut visited: Vec<i64> = events
        .iter()
        .filter(|e| e.is_visit)
        .map(|e| pk_of(e))
        .collect();
    visited.sort_unstable();
    visited.dedup();
    if !visited.is_empty() {
        let latest = latest_visits(conn, &visited).await?;
        set_last_visits(conn, &latest, now).await?;
    }
    Ok(())
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
    let sql = format!(
        "SELECT user_id, pk FROM contacts WHERE app_id = {} AND user_id IN ({})",
        params.add(app.as_str()),
        params.list(wanted)
    );
    let found: Vec<(String, i64)> = conn.fetch_all(sql, params.into_args()).await?;
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

async fn insert_events<C: Conn + ?Sized>(
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
    let sql = format!(
        "INSERT INTO events (app_id, public_id, id, contact_pk, event_type, event_name, event_date,
            event_time, event_clock, is_visit, is_purchase, location, event_data, created_date, updated_date)
         VALUES {}",
        rows.join(", ")
    );
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

/// One UPDATE for all the contacts whose latest visit may have changed. The rows come in as
/// a VALUES list (SQLite's `UPDATE ... FROM`; only SQLite groups commits).
async fn set_last_visits<C: Conn + ?Sized>(
    conn: &mut C,
    latest: &HashMap<i64, LatestVisits>,
    now: Timestamp,
) -> StoreResult<()> {
    let mut params = Params::<C>::new();
    let updated = params.add(now.to_rfc3339());
    let rows: Vec<String> = latest
        .iter()
        .map(|(pk, visits)| {
            format!(
                "({}, {}, {})",
                params.add(*pk),
                params.add(visits.last_visit.map(Timestamp::to_rfc3339)),
                params.add(visits.last_location.clone())
            )
        })
        .collect();
    let sql = format!(
        "UPDATE contacts SET last_visit_date = v.column2,
            last_location = COALESCE(v.column3, contacts.last_location), updated_date = {updated}
         FROM (VALUES {}) AS v WHERE contacts.pk = v.column1",
        rows.join(", ")
    );
    conn.execute(sql, params.into_args()).await?;
    Ok(())
}
