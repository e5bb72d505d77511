//! What getCustomers adds to a page of contacts with `fulldata` or `events`: each kind of
//! related row is fetched for the whole page in one query (never one query per contact).

use std::collections::HashMap;

use roster_domain::{AppId, Contact, Event, Membership};

use crate::{
    StoreResult,
    conn::{Arg, Conn, Sql},
    events::{EventRow, event_columns},
    memberships::{MembershipRow, membership_columns},
};

/// At most this many visits, purchases and events per contact (contract, getCustomers).
pub const PER_CONTACT: i64 = 100;

#[derive(Debug, Clone, Copy, Default)]
pub struct Include {
    /// Visits, purchases and memberships.
    pub fulldata: bool,
    pub events: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Related {
    pub visits: Vec<Event>,
    pub purchases: Vec<Event>,
    pub events: Vec<Event>,
    pub memberships: Vec<Membership>,
}

/// Related rows of `contacts`, keyed by contact id.
pub async fn load<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    contacts: &[Contact],
    include: Include,
) -> StoreResult<HashMap<String, Related>> {
    let mut related: HashMap<String, Related> = HashMap::new();
    if contacts.is_empty() || !(include.fulldata || include.events) {
        return Ok(related);
    }
    let ids: Vec<String> = contacts.iter().map(|c| c.id.to_string()).collect();
    if include.fulldata {
        for event in ranked_events(conn, app, &ids, " AND e.is_visit").await? {
            related
                .entry(event.contact_id.clone())
                .or_default()
                .visits
                .push(event);
        }
        for event in ranked_events(conn, app, &ids, " AND e.is_purchase").await? {
            related
                .entry(event.contact_id.clone())
                .or_default()
                .purchases
                .push(event);
        }
        let (sql, args) = in_list(
            concat!(
                "SELECT ",
                membership_columns!(),
                " FROM memberships m JOIN contacts c ON c.pk = m.contact_pk WHERE c.app_id = $1 AND c.id IN "
            ),
            app,
            &ids,
            " ORDER BY m.contact_pk, m.pk",
        );
        let rows: Vec<MembershipRow> = conn.fetch_all(sql, args).await?;
        for row in rows {
            let membership = row.into_membership()?;
            related
                .entry(membership.contact_id.clone())
                .or_default()
                .memberships
                .push(membership);
        }
    }
    if include.events {
        for event in ranked_events(conn, app, &ids, "").await? {
            related
                .entry(event.contact_id.clone())
                .or_default()
                .events
                .push(event);
        }
    }
    Ok(related)
}

/// The newest [`PER_CONTACT`] events of each contact (matching `only`), newest first.
async fn ranked_events<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    ids: &[String],
    only: &'static str,
) -> StoreResult<Vec<Event>> {
    let head = concat!(
        "SELECT * FROM (SELECT ",
        event_columns!(),
        ", ROW_NUMBER() OVER (PARTITION BY e.contact_pk
            ORDER BY e.event_date DESC, e.event_clock DESC, e.pk DESC) AS rank
         FROM events e JOIN contacts c ON c.pk = e.contact_pk WHERE c.app_id = $1 AND c.id IN "
    );
    let tail = format!("{only}) ranked WHERE rank <= {PER_CONTACT} ORDER BY contact_id, rank");
    let (sql, args) = in_list(head, app, ids, &tail);
    let rows: Vec<EventRow> = conn.fetch_all(sql, args).await?;
    rows.into_iter().map(EventRow::into_event).collect()
}

/// `head ($2, $3, ...) tail` with the app as `$1` and the ids bound after it.
fn in_list(head: &str, app: &AppId, ids: &[String], tail: &str) -> (Sql, Vec<Arg>) {
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let mut args = vec![Arg::from(app.as_str())];
    args.extend(ids.iter().map(|id| Arg::from(id.clone())));
    (
        format!("{head}({}){tail}", placeholders.join(", ")).into(),
        args,
    )
}
