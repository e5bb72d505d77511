//! Crash safety under write load, through the real `roster serve`: many clients write
//! contacts and events as fast as they can, the server is SIGKILLed mid-load, restarted on
//! the same database, and then
//! - every write that got a 200 is there, with the values it was acknowledged with;
//! - the one request per client that never got an answer is there entirely or not at all;
//! - a request that got a 4xx left no trace (no contact, event, tag, attribute or field);
//! - nothing else is there (no duplicate, no contact that nobody asked for);
//! - what is derived from the events agrees with them (last visit, the event catalogue);
//! - the database passes its own checks: SQLite `integrity_check` and `foreign_key_check`,
//!   PostgreSQL every foreign key and, with amcheck, every B-tree index and every table.
//!
//! Several kill/restart rounds run on one database. Each client owns its contacts and
//! events and sends one request at a time, so the expected state of everything is exact:
//! the last acknowledged write, or the unanswered one after it.
//!
//! Settings (environment): `ROSTER_CRASH_ROUNDS` (default 3), `ROSTER_CRASH_LOAD_MS`
//! (the mean load before each kill, default 1500), `ROSTER_CRASH_CLIENTS` (default 32),
//! `ROSTER_CRASH_SEED` (default fixed; the requests and the kill times follow from it).
//! `bench/crash-safety.sh` runs the long form.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

use crate::{
    cli::{log_problems, serve_with, signal},
    support::TestDb,
    support::node_api::NodeApi as Api,
};

/// Most events one contact gets, well under the 100 that getCustomers lists per contact.
const EVENTS_PER_CONTACT: usize = 40;
/// A bound on one client's requests in one round (the kill ends a round long before).
const MAX_REQUESTS_PER_ROUND: usize = 1_000_000;
/// Markers that only invalid requests carry: none may ever be stored.
const BAD: &str = "bad";
const BAD_CITY: &str = "poison";
const BAD_ATTRIBUTE: &str = "bad_attr";
const BAD_EVENT_TYPE: &str = "bad_type";
const BAD_FIELD: &str = "bad_field";
/// user_ids of contacts that all clients write events for at once (newEvent creates them).
const SHARED: &str = "s-";
/// Events per shared contact: consecutive tickets name the same contact, so its first
/// events (which create it) are in flight together, from different clients.
const EVENTS_PER_SHARED_CONTACT: usize = 8;

fn setting(key: &str, default: u64) -> u64 {
    match std::env::var(key) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key} must be a whole number, not {value:?}")),
        _ => default,
    }
}

/// splitmix64: deterministic, good enough to pick requests.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, round: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (stream << 20));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

/// A contact as getCustomers (fulldata) shows the fields this test writes.
#[derive(Clone, Debug, PartialEq)]
struct ContactState {
    first_name: String,
    last_name: String,
    email: Option<String>,
    city: Option<String>,
    score: Option<i64>,
    tags: Vec<String>,
}

/// An event as getCustomers (events) shows it, with the user_id of its contact.
#[derive(Clone, Debug, PartialEq)]
struct EventState {
    user_id: String,
    event_type: String,
    event_name: Option<String>,
    event_date: String,
    event_time: Option<String>,
    is_visit: bool,
    is_purchase: bool,
    data: Option<Value>,
}

impl EventState {
    /// Where the event sorts as a visit: `YYYY-MM-DDTHH:MM:SS` (UTC).
    fn instant(&self) -> String {
        let clock = self.event_time.as_deref().map_or_else(
            || "00:00:00".to_string(),
            |t| {
                let upper = t.to_ascii_uppercase();
                let (digits, pm) = match upper.strip_suffix("AM").or(upper.strip_suffix("PM")) {
                    Some(rest) => (rest.trim(), Some(upper.ends_with("PM"))),
                    None => (upper.as_str(), None),
                };
                let (h, m) = digits.split_once(':').expect("H:MM");
                let mut hour: u32 = h.parse().expect("hour");
                match pm {
                    Some(true) if hour != 12 => hour += 12,
                    Some(false) if hour == 12 => hour = 0,
                    _ => {}
                }
                format!("{hour:02}:{}:00", &m[..2])
            },
        );
        format!("{}T{clock}", self.event_date)
    }
}

/// What a request whose answer never came would have done: every entity it touches, as
/// it would be afterwards. It was applied entirely or not at all.
#[derive(Debug)]
struct Pending {
    request: String,
    contacts: Vec<(String, ContactState)>,
    events: Vec<(String, EventState)>,
}

/// What one client wrote: its contacts (by user_id) and events (by event id) as the
/// server acknowledged them.
struct Client {
    index: usize,
    contacts: BTreeMap<String, ContactState>,
    /// Roster's `_id` of each contact, once an answer or a listing told it.
    ids: BTreeMap<String, String>,
    events: BTreeMap<String, EventState>,
    /// Roster's `_id` of each event once listed: re-sending an event updates it in place.
    event_ids: BTreeMap<String, String>,
    pending: Option<Pending>,
    /// Markers (user_ids, event ids, tags) of requests that must leave no trace.
    rejected: Vec<String>,
    problems: Vec<String>,
    stats: Stats,
    next: u64,
    /// Tickets for events on shared contacts, common to all clients.
    shared: Arc<AtomicUsize>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    acknowledged: usize,
    contacts_written: usize,
    events_written: usize,
    refused_as_expected: usize,
    unanswered: usize,
    overloaded: usize,
    applied_unanswered: usize,
    throttled: usize,
}

impl Stats {
    fn add(&mut self, other: Stats) {
        self.acknowledged += other.acknowledged;
        self.contacts_written += other.contacts_written;
        self.events_written += other.events_written;
        self.refused_as_expected += other.refused_as_expected;
        self.unanswered += other.unanswered;
        self.overloaded += other.overloaded;
        self.applied_unanswered += other.applied_unanswered;
        self.throttled += other.throttled;
    }
}

/// What a request should do.
enum Expect {
    /// A valid write: on a 200 these are the entities' new states; `created` is the
    /// contact whose `_id` a newContact answer carries.
    Applied {
        contacts: Vec<(String, ContactState)>,
        events: Vec<(String, EventState)>,
        created: Option<String>,
    },
    /// An invalid request: a 4xx, and no trace of `marker`.
    Refused { marker: String },
}

struct Request {
    endpoint: &'static str,
    body: Value,
    expect: Expect,
}

fn label(endpoint: &str, body: &Value) -> String {
    format!("{endpoint} {body}")
}

impl Client {
    fn new(index: usize, shared: Arc<AtomicUsize>) -> Client {
        Client {
            shared,
            index,
            contacts: BTreeMap::new(),
            ids: BTreeMap::new(),
            event_ids: BTreeMap::new(),
            events: BTreeMap::new(),
            pending: None,
            rejected: Vec::new(),
            problems: Vec::new(),
            stats: Stats::default(),
            next: 0,
        }
    }

    fn fresh(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn new_user_id(&mut self) -> String {
        let n = self.fresh();
        format!("c{}-{n}", self.index)
    }

    fn events_of(&self, user_id: &str) -> usize {
        self.events
            .values()
            .filter(|e| e.user_id == user_id)
            .count()
    }

    /// A contact of this client with room for one more event.
    fn contact_with_room(&self, rng: &mut Rng) -> Option<String> {
        if self.contacts.is_empty() {
            return None;
        }
        let start = rng.below(self.contacts.len());
        let keys: Vec<&String> = self.contacts.keys().collect();
        (0..keys.len().min(8))
            .map(|i| keys[(start + i) % keys.len()])
            .find(|u| self.events_of(u) < EVENTS_PER_CONTACT)
            .cloned()
    }

    fn pick<'a, T>(map: &'a BTreeMap<String, T>, rng: &mut Rng) -> (&'a String, &'a T) {
        map.iter().nth(rng.below(map.len())).expect("not empty")
    }

    fn next_request(&mut self, rng: &mut Rng, round: u64) -> Request {
        if self.contacts.len() < 2 {
            return self.create_contact(rng);
        }
        match rng.below(100) {
            0..15 => self.create_contact(rng),
            15..35 => self.update_contact(rng, round),
            35..65 => match self.contact_with_room(rng) {
                Some(user_id) => self.event(rng, user_id, None),
                None => self.event_for_new_contact(rng),
            },
            65..75 => self.event_for_new_contact(rng),
            75..85 => self.event_for_shared_contact(rng),
            85..96 if !self.own_events().is_empty() => self.resend_event(rng),
            85..96 => self.event_for_new_contact(rng),
            _ => self.invalid(rng),
        }
    }

    fn create_contact(&mut self, rng: &mut Rng) -> Request {
        let user_id = self.new_user_id();
        let n = self.next;
        let state = ContactState {
            first_name: format!("F{n}"),
            last_name: format!("L{n}"),
            email: Some(format!("{user_id}@crash.example")),
            city: Some(format!("City{}", rng.below(50))),
            score: Some(rng.below(1000) as i64),
            tags: vec![format!("t{}", self.index)],
        };
        let body = json!({
            "user_id": user_id, "first_name": state.first_name, "last_name": state.last_name,
            "email": state.email, "city": state.city, "score": state.score,
            "tags": state.tags.join(","),
        });
        Request {
            endpoint: "newContact",
            body,
            expect: Expect::Applied {
                contacts: vec![(user_id.clone(), state)],
                events: Vec::new(),
                created: Some(user_id),
            },
        }
    }

    fn update_contact(&mut self, rng: &mut Rng, round: u64) -> Request {
        let n = self.fresh();
        let (user_id, before) = Self::pick(&self.contacts, rng);
        let user_id = user_id.clone();
        let mut after = before.clone();
        if after.first_name.is_empty() {
            after.first_name = format!("F{n}");
        }
        after.last_name = format!("L{n}");
        after.city = Some(format!("City{}", rng.below(50)));
        let mut body = json!({
            "user_id": user_id, "first_name": after.first_name, "last_name": after.last_name,
            "city": after.city,
        });
        // A null custom attribute removes it.
        after.score = (!rng.percent(10)).then(|| rng.below(1000) as i64);
        body["score"] = json!(after.score);
        if rng.percent(50) {
            let tag = format!("r{round}x{}", rng.below(3));
            body["tags"] = json!(tag);
            if !after.tags.contains(&tag) {
                after.tags.push(tag);
            }
        }
        Request {
            endpoint: "newContact",
            body,
            expect: Expect::Applied {
                contacts: vec![(user_id.clone(), after)],
                events: Vec::new(),
                created: Some(user_id),
            },
        }
    }

    /// A new version of an event (a new one when `id` is None) for `user_id`'s contact.
    fn event_state(&mut self, rng: &mut Rng, user_id: String) -> EventState {
        let n = self.next;
        let event_type = ["visit", "purchase", "class"][rng.below(3)].to_string();
        let (hour, minute) = (rng.below(24), rng.below(60));
        let event_time = match rng.below(5) {
            0 => None,
            1 => {
                let (h12, meridiem) = match hour {
                    0 => (12, "AM"),
                    1..12 => (hour, "AM"),
                    12 => (12, "PM"),
                    _ => (hour - 12, "PM"),
                };
                Some(format!("{h12}:{minute:02} {meridiem}"))
            }
            _ => Some(format!("{hour:02}:{minute:02}")),
        };
        let data = match rng.below(4) {
            0 => None,
            1 => Some(json!([{"staff": format!("s{}", rng.below(9))}, {"room": rng.below(5)}])),
            _ => Some(json!({"staff": format!("s{}", rng.below(9)), "n": n})),
        };
        EventState {
            user_id,
            is_visit: event_type != "purchase" && rng.percent(70),
            is_purchase: event_type == "purchase",
            event_type,
            event_name: Some(format!("N{n}")),
            event_date: format!("2025-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
            event_time,
            data,
        }
    }

    fn event_body(id: &str, e: &EventState) -> Value {
        let mut body = json!({
            "user_id": e.user_id, "id": id, "event_type": e.event_type,
            "event_name": e.event_name, "event_date": e.event_date,
            "is_visit": e.is_visit, "is_purchase": e.is_purchase,
        });
        if let Some(time) = &e.event_time {
            body["event_time"] = json!(time);
        }
        if let Some(data) = &e.data {
            body["event_data"] = data.clone();
        }
        body
    }

    /// newEvent for an existing contact: a new event, or a new version of `resent`.
    fn event(&mut self, rng: &mut Rng, user_id: String, resent: Option<String>) -> Request {
        let id = resent.unwrap_or_else(|| {
            let n = self.fresh();
            format!("e{}-{n}", self.index)
        });
        self.fresh();
        let state = self.event_state(rng, user_id);
        Request {
            endpoint: "newEvent",
            body: Self::event_body(&id, &state),
            expect: Expect::Applied {
                contacts: Vec::new(),
                events: vec![(id, state)],
                created: None,
            },
        }
    }

    /// newEvent naming nobody known: it creates a minimal contact with the event, from
    /// its user_id and, half of the time, an email.
    fn event_for_new_contact(&mut self, rng: &mut Rng) -> Request {
        let user_id = self.new_user_id();
        let email = rng.percent(50).then(|| format!("{user_id}@crash.example"));
        let n = self.fresh();
        let id = format!("e{}-{n}", self.index);
        let state = self.event_state(rng, user_id.clone());
        let mut body = Self::event_body(&id, &state);
        if let Some(email) = &email {
            body["email"] = json!(email);
        }
        let contact = ContactState {
            first_name: String::new(),
            last_name: String::new(),
            email,
            city: None,
            score: None,
            tags: Vec::new(),
        };
        Request {
            endpoint: "newEvent",
            body,
            expect: Expect::Applied {
                contacts: vec![(user_id, contact)],
                events: vec![(id, state)],
                created: None,
            },
        }
    }

    /// A new event for a contact that other clients write events for at the same time,
    /// named by user_id alone; the first of them creates it.
    fn event_for_shared_contact(&mut self, rng: &mut Rng) -> Request {
        let ticket = self.shared.fetch_add(1, Ordering::Relaxed);
        let user_id = format!("{SHARED}{}", ticket / EVENTS_PER_SHARED_CONTACT);
        self.event(rng, user_id, None)
    }

    /// This client's events on its own contacts (shared contacts' events are not re-sent,
    /// so each shared contact keeps the events that created it).
    fn own_events(&self) -> Vec<(&String, &EventState)> {
        self.events
            .iter()
            .filter(|(_, e)| !e.user_id.starts_with(SHARED))
            .collect()
    }

    /// The same event id again: it updates that event, sometimes moving it to another
    /// contact of this client.
    fn resend_event(&mut self, rng: &mut Rng) -> Request {
        let own = self.own_events();
        let (id, before) = own[rng.below(own.len())];
        let (id, mut user_id) = (id.clone(), before.user_id.clone());
        if rng.percent(25)
            && let Some(other) = self.contact_with_room(rng)
        {
            user_id = other;
        }
        self.event(rng, user_id, Some(id))
    }

    /// A request that must be refused and leave no trace.
    fn invalid(&mut self, rng: &mut Rng) -> Request {
        let n = self.fresh();
        let marker = format!("{BAD}-{}-{n}", self.index);
        let (endpoint, body) = match rng.below(4) {
            // Refused by the store, mid-write: a contact found by `_id` cannot take the
            // user_id of another contact.
            0 if self.ids.len() >= 2 => {
                let (user_id, id) = Self::pick(&self.ids, rng);
                let other = self
                    .contacts
                    .keys()
                    .find(|u| *u != user_id)
                    .expect("two contacts")
                    .clone();
                let body = json!({
                    "_id": id, "user_id": other, "first_name": marker, "last_name": marker,
                    "city": BAD_CITY, "tags": marker, BAD_ATTRIBUTE: 1,
                });
                ("newContact", body)
            }
            // Refused by the store: an `_id` that names no contact, on a write.
            0 | 1 => (
                "newEvent",
                json!({
                    "_id": format!("{:024x}", 0xdead_0000_0000_u64 + n), "user_id": marker,
                    "email": format!("{marker}@crash.example"), "id": marker,
                    "event_type": BAD_EVENT_TYPE, "event_date": "2025-01-01",
                    "event_data": {BAD_FIELD: 1},
                }),
            ),
            // Refused on parsing.
            2 => (
                "newEvent",
                json!({
                    "user_id": marker, "id": marker, "event_type": BAD_EVENT_TYPE,
                    "event_date": "2025-13-45", "event_data": {BAD_FIELD: 1},
                }),
            ),
            _ => (
                "newContact",
                json!({
                    "user_id": marker, "first_name": marker, "last_name": marker,
                    "email": "not-an-email", "city": BAD_CITY, "tags": marker, BAD_ATTRIBUTE: 1,
                }),
            ),
        };
        Request {
            endpoint,
            body,
            expect: Expect::Refused { marker },
        }
    }

    /// Records what the server answered. False when this client stops for the round.
    fn answered(&mut self, request: Request, answer: Result<(StatusCode, Value), String>) -> bool {
        let what = label(request.endpoint, &request.body);
        match (request.expect, answer) {
            (Expect::Refused { marker }, Ok((status, reply))) => {
                if status.is_client_error() {
                    self.stats.refused_as_expected += 1;
                } else if status == StatusCode::OK {
                    self.problems
                        .push(format!("an invalid request got a 200: {what}: {reply}"));
                } else if status != StatusCode::SERVICE_UNAVAILABLE {
                    self.problems
                        .push(format!("{status} for an invalid request: {what}: {reply}"));
                }
                self.rejected.push(marker);
                status.is_client_error() || status == StatusCode::OK
            }
            (Expect::Refused { marker }, Err(_)) => {
                self.rejected.push(marker);
                self.stats.unanswered += 1;
                false
            }
            (
                Expect::Applied {
                    contacts,
                    events,
                    created,
                },
                Ok((StatusCode::OK, reply)),
            ) => {
                self.stats.acknowledged += 1;
                self.stats.contacts_written += contacts.len();
                self.stats.events_written += events.len();
                if let Some(user_id) = created {
                    let id = reply["_id"].as_str().unwrap_or_default().to_string();
                    if reply["status"] != "success" || id.len() != 24 {
                        self.problems.push(format!("{what}: answer {reply}"));
                    }
                    match self.ids.get(&user_id) {
                        Some(known) if *known != id => self.problems.push(format!(
                            "{what} answered _id {id}, but user_id {user_id} is contact {known}"
                        )),
                        _ => {
                            self.ids.insert(user_id, id);
                        }
                    }
                } else if reply != json!({"result": "success"}) {
                    self.problems.push(format!("{what}: answer {reply}"));
                }
                self.contacts.extend(contacts);
                self.events.extend(events);
                true
            }
            (
                Expect::Applied {
                    contacts, events, ..
                },
                answer,
            ) => {
                match &answer {
                    Ok((status, reply)) if *status == StatusCode::SERVICE_UNAVAILABLE => {
                        self.stats.overloaded += 1;
                        let _ = reply;
                    }
                    Ok((status, reply)) => self
                        .problems
                        .push(format!("{status} for a valid request: {what}: {reply}")),
                    Err(_) => {}
                }
                // A 4xx must leave no trace: the entities stay as they were, and the
                // check after the restart holds it to that. Anything else is unknown.
                if !matches!(&answer, Ok((s, _)) if s.is_client_error()) {
                    self.stats.unanswered += 1;
                    self.pending = Some(Pending {
                        request: what,
                        contacts,
                        events,
                    });
                }
                false
            }
        }
    }
}

/// One client's requests, one at a time, until the server stops answering.
async fn drive(api: Api, base: String, mut client: Client, mut rng: Rng, round: u64) -> Client {
    for _ in 0..MAX_REQUESTS_PER_ROUND {
        let request = client.next_request(&mut rng, round);
        let mut answer = api
            .try_post(&base, request.endpoint, request.body.clone())
            .await;
        // Rate limited (should the node limit): not done, so sent again after the wait
        // it asks for, as an integrator would.
        for _ in 0..100 {
            let Ok((StatusCode::TOO_MANY_REQUESTS, _)) = &answer else {
                break;
            };
            client.stats.throttled += 1;
            // The wait is in the Retry-After header (whole seconds): about one.
            tokio::time::sleep(Duration::from_millis(1000)).await;
            answer = api
                .try_post(&base, request.endpoint, request.body.clone())
                .await;
        }
        if !client.answered(request, answer) {
            break;
        }
    }
    client
}

/// A contact as listed, with what is derived from its events.
struct Listed {
    id: String,
    state: ContactState,
    last_visit: Option<String>,
    other_custom: Vec<String>,
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// Everything the app holds, through getCustomers with fulldata and events.
async fn listing(
    api: &Api,
    base: &str,
    problems: &mut Vec<String>,
) -> (
    BTreeMap<String, Listed>,
    BTreeMap<String, (EventState, String)>,
) {
    let members = api
        .all(
            base,
            "getCustomers",
            json!({"fulldata": true, "events": true}),
        )
        .await;
    let mut contacts = BTreeMap::new();
    let mut events = BTreeMap::new();
    for m in members {
        let Some(user_id) = text(&m["user_id"]) else {
            problems.push(format!("a contact nobody wrote (no user_id): {m}"));
            continue;
        };
        let custom = m["custom"].as_object().cloned().unwrap_or_default();
        let listed = Listed {
            id: text(&m["id"]).unwrap_or_default(),
            state: ContactState {
                first_name: text(&m["firstname"]).unwrap_or_default(),
                last_name: text(&m["lastname"]).unwrap_or_default(),
                email: text(&m["email"]),
                city: text(&m["city"]),
                score: custom.get("score").and_then(Value::as_i64),
                tags: m["tags"]
                    .as_array()
                    .map(|t| t.iter().filter_map(text).collect())
                    .unwrap_or_default(),
            },
            last_visit: text(&m["last_visit_date"]),
            other_custom: custom.keys().filter(|k| *k != "score").cloned().collect(),
        };
        let listed_events = m["events"].as_array().cloned().unwrap_or_default();
        if listed_events.len() >= 100 {
            problems.push(format!(
                "contact {user_id} lists {} events: more than this test writes",
                listed_events.len()
            ));
        }
        for e in listed_events {
            let id = text(&e["id"]).unwrap_or_default();
            let state = EventState {
                user_id: user_id.clone(),
                event_type: text(&e["event_type"]).unwrap_or_default(),
                event_name: text(&e["event_name"]),
                event_date: text(&e["event_date"]).unwrap_or_default(),
                event_time: text(&e["event_time"]),
                is_visit: e["is_visit"].as_bool().unwrap_or_default(),
                is_purchase: e["is_purchase"].as_bool().unwrap_or_default(),
                data: Some(e["event_data"].clone()).filter(|d| !d.is_null()),
            };
            let public_id = text(&e["_id"]).unwrap_or_default();
            if let Some((first, _)) = events.insert(id.clone(), (state.clone(), public_id)) {
                problems.push(format!(
                    "event id {id} is stored twice: {first:?} and {state:?}"
                ));
            }
        }
        if let Some(first) = contacts.insert(user_id.clone(), listed) {
            problems.push(format!(
                "user_id {user_id} is on two contacts: {} and another",
                first.id
            ));
        }
    }
    (contacts, events)
}

/// After a restart: what every client was told against what is stored. Settles each
/// unanswered request as applied or not, so the next round starts from the truth.
async fn verify(api: &Api, base: &str, clients: &mut [Client], stats: &mut Stats) -> Vec<String> {
    let mut problems = Vec::new();
    let (listed, listed_events) = listing(api, base, &mut problems).await;
    let mut expected_users = BTreeSet::new();
    let mut expected_events = BTreeSet::new();

    for client in clients.iter_mut() {
        if let Some(pending) = client.pending.take() {
            let contact_is = |user_id: &String, state: Option<&ContactState>| {
                listed.get(user_id).map(|l| &l.state) == state
            };
            let event_is = |id: &String, state: Option<&EventState>| {
                listed_events.get(id).map(|(e, _)| e) == state
            };
            let before = pending
                .contacts
                .iter()
                .all(|(u, _)| contact_is(u, client.contacts.get(u)))
                && pending
                    .events
                    .iter()
                    .all(|(id, _)| event_is(id, client.events.get(id)));
            let after = pending.contacts.iter().all(|(u, s)| contact_is(u, Some(s)))
                && pending.events.iter().all(|(id, s)| event_is(id, Some(s)));
            if after && !before {
                stats.applied_unanswered += 1;
                client.contacts.extend(pending.contacts);
                client.events.extend(pending.events);
            } else if !before {
                let found: Vec<String> = pending
                    .contacts
                    .iter()
                    .map(|(u, s)| {
                        format!(
                            "contact {u}: sent {s:?}, acknowledged before {:?}, stored {:?}",
                            client.contacts.get(u),
                            listed.get(u).map(|l| &l.state)
                        )
                    })
                    .chain(pending.events.iter().map(|(id, s)| {
                        format!(
                            "event {id}: sent {s:?}, acknowledged before {:?}, stored {:?}",
                            client.events.get(id),
                            listed_events.get(id).map(|(e, _)| e)
                        )
                    }))
                    .collect();
                problems.push(format!(
                    "client {}: the unanswered request was applied in part: {}\n    {}",
                    client.index,
                    pending.request,
                    found.join("\n    ")
                ));
                // Go on from what is stored, so later rounds check later writes.
                for (u, _) in &pending.contacts {
                    match listed.get(u) {
                        Some(l) => client.contacts.insert(u.clone(), l.state.clone()),
                        None => client.contacts.remove(u),
                    };
                }
                for (id, _) in &pending.events {
                    match listed_events.get(id) {
                        Some((e, _)) => client.events.insert(id.clone(), e.clone()),
                        None => client.events.remove(id),
                    };
                }
            }
        }

        for (user_id, state) in &client.contacts {
            expected_users.insert(user_id.clone());
            match listed.get(user_id) {
                None => problems.push(format!(
                    "acknowledged contact {user_id} (_id {:?}) is missing; acknowledged as {state:?}",
                    client.ids.get(user_id)
                )),
                Some(l) if l.state != *state => problems.push(format!(
                    "contact {user_id} (_id {}) is stored as {:?}, acknowledged as {state:?}",
                    l.id, l.state
                )),
                Some(l) => {
                    if let Some(id) = client.ids.get(user_id)
                        && *id != l.id
                    {
                        problems.push(format!(
                            "contact {user_id} was acknowledged as _id {id}, is stored as {}",
                            l.id
                        ));
                    }
                    client.ids.insert(user_id.clone(), l.id.clone());
                }
            }
        }
        for (id, state) in &client.events {
            expected_events.insert(id.clone());
            match listed_events.get(id) {
                None => problems.push(format!(
                    "acknowledged event {id} is missing; acknowledged as {state:?}"
                )),
                Some((stored, _)) if stored != state => problems.push(format!(
                    "event {id} is stored as {stored:?}, acknowledged as {state:?}"
                )),
                Some((_, public_id)) => {
                    match client.event_ids.get(id) {
                        Some(known) if known != public_id => problems.push(format!(
                            "event {id} was _id {known}, is now _id {public_id}: replaced, not updated"
                        )),
                        _ => {}
                    }
                    client.event_ids.insert(id.clone(), public_id.clone());
                }
            }
        }
        for marker in &client.rejected {
            if listed.contains_key(marker) || listed_events.contains_key(marker) {
                problems.push(format!("a refused request left {marker} behind"));
            }
        }
        client.problems.drain(..).for_each(|p| {
            problems.push(format!("client {}: {p}", client.index));
        });
    }

    // Per contact: whether it has events, and its latest visit.
    let mut has_events: BTreeSet<&str> = BTreeSet::new();
    let mut latest_visit: HashMap<&str, String> = HashMap::new();
    for (e, _) in listed_events.values() {
        has_events.insert(&e.user_id);
        if e.is_visit {
            let instant = e.instant();
            let latest = latest_visit.entry(&e.user_id).or_default();
            if instant > *latest {
                *latest = instant;
            }
        }
    }
    for (user_id, l) in &listed {
        if user_id.starts_with(SHARED) {
            // Created by whichever of its events came first, with nothing but its user_id,
            // and never without an event.
            let minimal = ContactState {
                first_name: String::new(),
                last_name: String::new(),
                email: None,
                city: None,
                score: None,
                tags: Vec::new(),
            };
            if l.state != minimal || !has_events.contains(user_id.as_str()) {
                problems.push(format!(
                    "shared contact {user_id} (_id {}) is {:?}, with no event or not minimal",
                    l.id, l.state
                ));
            }
        } else if !expected_users.contains(user_id) {
            problems.push(format!(
                "contact {user_id} (_id {}) is stored but was never written: {:?}",
                l.id, l.state
            ));
        }
        if l.state.city.as_deref() == Some(BAD_CITY)
            || l.state.tags.iter().any(|t| t.starts_with(BAD))
            || !l.other_custom.is_empty()
        {
            problems.push(format!(
                "contact {user_id} carries what only a refused request sent: {:?}, custom {:?}",
                l.state, l.other_custom
            ));
        }
        // The last visit is kept on the contact, in the same transactions as the events.
        let latest = latest_visit.get(user_id.as_str());
        let stored = l.last_visit.as_deref().map(|t| &t[..t.len().min(19)]);
        if stored != latest.map(String::as_str) {
            problems.push(format!(
                "contact {user_id}: last_visit_date {:?}, but its latest visit event is at {latest:?}",
                l.last_visit
            ));
        }
    }
    for id in listed_events.keys() {
        if !expected_events.contains(id) {
            problems.push(format!("event {id} is stored but was never written"));
        }
    }

    // The catalogues: nothing from a refused request, and every field of every event.
    let attributes = api.all(base, "getAttributes", json!({})).await;
    if attributes.iter().any(|a| a["name"] == BAD_ATTRIBUTE) {
        problems.push(format!(
            "getAttributes lists {BAD_ATTRIBUTE}, sent only by refused requests"
        ));
    }
    let types = api.all(base, "getAttributeEvents", json!({})).await;
    let mut by_type: HashMap<String, (usize, BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
    for (e, _) in listed_events.values() {
        let entry = by_type.entry(e.event_type.clone()).or_default();
        entry.0 += 1;
        entry.1.extend(e.event_name.clone());
        let objects: Vec<&serde_json::Map<String, Value>> = match &e.data {
            Some(Value::Object(map)) => vec![map],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
            _ => Vec::new(),
        };
        entry
            .2
            .extend(objects.iter().flat_map(|m| m.keys().cloned()));
    }
    for t in &types {
        let name = t["event_type"].as_str().unwrap_or_default();
        let fields: BTreeSet<String> = t["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(text).collect())
            .unwrap_or_default();
        let names: BTreeSet<String> = t["event_names"]
            .as_array()
            .map(|f| f.iter().filter_map(text).collect())
            .unwrap_or_default();
        let Some((count, expected_names, used)) = by_type.remove(name) else {
            problems.push(format!("getAttributeEvents lists a type no event has: {t}"));
            continue;
        };
        if fields.contains(BAD_FIELD) || !used.is_subset(&fields) {
            problems.push(format!(
                "getAttributeEvents {name}: fields {fields:?}, the events use {used:?}"
            ));
        }
        if t["count"].as_u64() != Some(count as u64) || names != expected_names {
            problems.push(format!(
                "getAttributeEvents {name}: {t}, but {count} events are listed, named {expected_names:?}"
            ));
        }
    }
    if !by_type.is_empty() {
        problems.push(format!(
            "getAttributeEvents misses types: {:?}",
            by_type.keys().collect::<Vec<_>>()
        ));
    }
    problems
}

/// The database's own checks, with the server down.
async fn integrity(db: &TestDb) -> (Vec<String>, String) {
    let mut problems = Vec::new();
    let summary;
    let cross_table = [
        (
            "events whose contact is in another app",
            "SELECT COUNT(*) FROM events e JOIN contacts c ON c.pk = e.contact_pk WHERE e.app_id <> c.app_id",
        ),
        (
            "contacts of no app",
            "SELECT COUNT(*) FROM contacts WHERE app_id NOT IN (SELECT app_id FROM apps)",
        ),
        (
            "event fields of no event type",
            "SELECT COUNT(*) FROM event_fields f WHERE NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.app_id = f.app_id AND e.event_type = f.event_type)",
        ),
    ];
    if db.url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&db.url)
            .await
            .expect("connect to check");
        for (what, sql) in cross_table {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap();
            if n != 0 {
                problems.push(format!("{n} {what}"));
            }
        }
        summary = postgres_checks(&mut conn, &mut problems).await;
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("open to check");
        let checked: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        if checked.len() != 1 || checked[0].0 != "ok" {
            problems.push(format!("PRAGMA integrity_check: {checked:?}"));
        }
        let orphans = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in orphans.iter().take(20) {
            let table: String = row.try_get(0).unwrap_or_default();
            let rowid: Option<i64> = row.try_get(1).unwrap_or_default();
            let parent: String = row.try_get(2).unwrap_or_default();
            problems.push(format!(
                "PRAGMA foreign_key_check: {table} row {rowid:?} points at no {parent}"
            ));
        }
        for (what, sql) in cross_table {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap();
            if n != 0 {
                problems.push(format!("{n} {what}"));
            }
        }
        conn.close().await.unwrap();
        summary = "integrity_check, foreign_key_check".to_string();
    }
    (problems, summary)
}

/// Every foreign key, queried (PostgreSQL enforces them, so this finds only a broken
/// database); with amcheck, every B-tree index against its table and every table's heap.
/// Says what was checked.
async fn postgres_checks(conn: &mut sqlx::PgConnection, problems: &mut Vec<String>) -> String {
    let keys: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT con.conname::text, quote_ident(cl.relname), quote_ident(pl.relname),
            (SELECT string_agg(format('c.%I = p.%I', ca.attname, pa.attname), ' AND ')
               FROM unnest(con.conkey, con.confkey) AS k(ck, pk)
               JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck
               JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk),
            (SELECT string_agg(format('c.%I IS NOT NULL', ca.attname), ' AND ')
               FROM unnest(con.conkey) AS k(ck)
               JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck)
         FROM pg_constraint con
         JOIN pg_class cl ON cl.oid = con.conrelid
         JOIN pg_class pl ON pl.oid = con.confrelid
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         WHERE con.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(!keys.is_empty(), "no foreign keys found to check");
    let foreign_keys = keys.len();
    for (name, child, parent, join, not_null) in keys {
        let sql = format!(
            "SELECT COUNT(*) FROM {child} c WHERE {not_null} AND NOT EXISTS \
             (SELECT 1 FROM {parent} p WHERE {join})"
        );
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if n != 0 {
            problems.push(format!(
                "foreign key {name}: {n} rows of {child} point at no {parent}"
            ));
        }
    }

    if let Err(err) = sqlx::query("CREATE EXTENSION IF NOT EXISTS amcheck")
        .execute(&mut *conn)
        .await
    {
        return format!("{foreign_keys} foreign keys; amcheck unavailable ({err})");
    }
    let indexes: Vec<(i64, String)> = sqlx::query_as(
        "SELECT c.oid::int8, c.relname::text FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_am am ON am.oid = c.relam
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE am.amname = 'btree' AND n.nspname = current_schema() AND i.indisvalid",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(!indexes.is_empty(), "no indexes found to check");
    let index_count = indexes.len();
    for (oid, name) in indexes {
        // heapallindexed: every row of the table is in the index, too.
        if let Err(err) = sqlx::query("SELECT bt_index_check($1::int8::oid::regclass, true)")
            .bind(oid)
            .execute(&mut *conn)
            .await
        {
            problems.push(format!("bt_index_check({name}): {err}"));
        }
    }
    let heap: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, v.msg FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL verify_heapam(c.oid) v
         WHERE c.relkind = 'r' AND n.nspname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_else(|err| vec![("verify_heapam".into(), err.to_string())]);
    for (table, msg) in heap.into_iter().take(20) {
        problems.push(format!("verify_heapam({table}): {msg}"));
    }
    format!("{foreign_keys} foreign keys, bt_index_check of {index_count} indexes, verify_heapam")
}

fn report(problems: &[String]) -> String {
    let mut out = String::new();
    for p in problems.iter().take(40) {
        let _ = writeln!(out, "  - {p}");
    }
    if problems.len() > 40 {
        let _ = writeln!(out, "  ... and {} more", problems.len() - 40);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_sigkill_under_load() {
    let rounds = setting("ROSTER_CRASH_ROUNDS", 3);
    let load_ms = setting("ROSTER_CRASH_LOAD_MS", 1500).max(10);
    let clients = setting("ROSTER_CRASH_CLIENTS", 32).max(1) as usize;
    let seed = setting("ROSTER_CRASH_SEED", 0x5EED_C0FF_EE00_0007);
    let started = Instant::now();
    let db = TestDb::create().await;
    let backend = if db.url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    // SQLite at its default durability: this test is about what a crash leaves. No rate
    // limit: the clients write as fast as the node takes it.
    let env: Vec<(&str, String)> = vec![("ROSTER_RATE_LIMIT_PER_SECOND", "0".into())];
    let mut node = serve_with(&db, &env).await;
    let api = Api::of(&node);
    let shared = Arc::new(AtomicUsize::new(0));
    let mut models: Vec<Client> = (0..clients)
        .map(|i| Client::new(i, shared.clone()))
        .collect();
    let mut totals = Stats::default();
    let mut kill_rng = Rng::new(seed, u64::MAX, u64::MAX);

    for round in 0..rounds {
        let round_started = Instant::now();
        let kill_after = Duration::from_millis(load_ms / 2 + (kill_rng.next() % load_ms.max(1)));
        let load_api = api.renewed();
        let tasks: Vec<_> = models
            .drain(..)
            .map(|client| {
                let rng = Rng::new(seed, round, client.index as u64);
                tokio::spawn(drive(
                    load_api.clone(),
                    node.base.clone(),
                    client,
                    rng,
                    round,
                ))
            })
            .collect();
        tokio::time::sleep(kill_after).await;
        signal(&node.child, "-KILL").await;
        node.child.wait().await.expect("killed node exits");
        for task in tasks {
            models.push(task.await.expect("client task"));
        }
        let mut stats = Stats::default();
        for m in &mut models {
            stats.add(std::mem::take(&mut m.stats));
        }

        let (mut problems, checked) = integrity(&db).await;
        let killed_log = node.log.clone();
        node = serve_with(&db, &env).await;
        let api = api.renewed();
        problems.extend(verify(&api, &node.base, &mut models, &mut stats).await);
        totals.add(stats);
        println!(
            "crash_safety ({backend}): round {}/{rounds}: killed after {kill_after:?}; \
             {} writes acknowledged ({} contact and {} event states), {} refused as expected, \
             {} unanswered ({} of them applied), {} answered 503, {} 429; checked {checked}; \
             round took {:.1?}",
            round + 1,
            stats.acknowledged,
            stats.contacts_written,
            stats.events_written,
            stats.refused_as_expected,
            stats.unanswered,
            stats.applied_unanswered,
            stats.overloaded,
            stats.throttled,
            round_started.elapsed()
        );
        assert!(
            problems.is_empty(),
            "{backend}, round {} (seed {seed}, killed after {kill_after:?}): {} problems:\n{}\
             killed node's warnings: {:#?}",
            round + 1,
            problems.len(),
            report(&problems),
            log_problems(&[killed_log], 20)
        );
    }
    let contacts: usize = models.iter().map(|m| m.contacts.len()).sum();
    let events: usize = models.iter().map(|m| m.events.len()).sum();
    println!(
        "crash_safety ({backend}): {rounds} rounds, seed {seed}: {} writes acknowledged, \
         {contacts} contacts and {events} events checked after the last restart; {:.1?}",
        totals.acknowledged,
        started.elapsed()
    );
    assert!(
        rounds == 0 || totals.acknowledged > 0,
        "no write was acknowledged before any kill: the test checked nothing"
    );
    signal(&node.child, "-TERM").await;
    let _ = tokio::time::timeout(Duration::from_secs(30), node.child.wait()).await;
}
