//! newEvent, getCustomerEvents, getAttributeEvents, and what events add to getCustomers.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, contact};

fn event(id: &str, extra: Value) -> Value {
    let mut body =
        json!({"user_id": "u1", "id": id, "event_type": "visit", "event_date": "2025-03-01"});
    if let (Value::Object(base), Value::Object(extra)) = (&mut body, extra) {
        base.extend(extra);
    }
    body
}

async fn record(app: &TestApp, body: Value) {
    let (status, reply) = app.post("newEvent", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}: {reply}");
    assert_eq!(reply, json!({"result": "success"}));
}

async fn events_of(app: &TestApp, filter: Value) -> Vec<Value> {
    app.members("getCustomerEvents", filter).await
}

#[tokio::test]
async fn an_event_is_listed_for_its_contact_as_sent() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"user_id": "u1"})))
        .await;
    let data = json!([{"staff": "Kim", "status": "attended"}, {"room": 2}]);

    record(&app, event("e1", json!({"event_name": "Spin 7pm", "event_time": "7:05 PM", "is_visit": true, "event_data": data}))).await;

    let events = events_of(&app, json!({"user_id": "u1"})).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (
            e["id"].as_str(),
            e["event_type"].as_str(),
            e["event_name"].as_str()
        ),
        (Some("e1"), Some("visit"), Some("Spin 7pm"))
    );
    assert_eq!(
        (e["event_date"].as_str(), e["event_time"].as_str()),
        (Some("2025-03-01"), Some("7:05 PM"))
    );
    assert_eq!(
        (e["is_visit"].as_bool(), e["is_purchase"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(e["event_data"], data, "event_data comes back as sent");
    assert_eq!(e["_id"].as_str().map(str::len), Some(24));
    assert!(e["created_date"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn resending_an_event_id_updates_the_one_event() {
    let app = TestApp::spawn().await;
    record(
        &app,
        event("e1", json!({"event_name": "first", "event_data": {"a": 1}})),
    )
    .await;

    record(
        &app,
        event(
            "e1",
            json!({"event_name": "second", "event_date": "2025-03-02", "event_data": {"b": 2}}),
        ),
    )
    .await;

    let events = events_of(&app, json!({"user_id": "u1"})).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (
            events[0]["event_name"].as_str(),
            events[0]["event_date"].as_str()
        ),
        (Some("second"), Some("2025-03-02"))
    );
    let catalogue = app.members("getAttributeEvents", json!({})).await;
    assert_eq!(catalogue[0]["count"], 1, "a re-send never counts twice");
}

#[tokio::test]
async fn an_unknown_user_id_creates_a_minimal_contact() {
    let app = TestApp::spawn().await;

    record(&app, json!({"user_id": "new-7", "email": "seven@example.com", "phone": "4155552671", "id": "e1", "event_type": "visit", "event_date": "2025-03-01"})).await;

    let members = app.customers(json!({})).await;
    assert_eq!(members.len(), 1);
    let c = &members[0];
    assert_eq!(
        (
            c["user_id"].as_str(),
            c["email"].as_str(),
            c["phone"].as_str()
        ),
        (
            Some("new-7"),
            Some("seven@example.com"),
            Some("+14155552671")
        )
    );
    assert_eq!(c["firstname"], "");
}

#[tokio::test]
async fn events_find_their_contact_by_each_identity_rule() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"email": "ana@example.com"})))
        .await;
    let bob = app
        .new_contact(contact("Bob", json!({"phone": "4155552671"})))
        .await;
    let cy = app
        .new_contact(contact("Cy", json!({"user_id": "cy"})))
        .await;
    let identity_events = [
        (json!({"_id": ana, "id": "by-id"}), &ana),
        (json!({"email": "ANA@example.com", "id": "by-email"}), &ana),
        (json!({"phone": "+1 415 555 2671", "id": "by-phone"}), &bob),
        (json!({"user_id": "cy", "id": "by-user-id"}), &cy),
    ];

    for (body, _) in &identity_events {
        let mut body = body.clone();
        body["event_type"] = json!("visit");
        body["event_date"] = json!("2025-03-01");
        record(&app, body).await;
    }

    for (body, owner) in identity_events {
        let found = events_of(&app, json!({"_id": owner})).await;
        assert!(
            found.iter().any(|e| e["id"] == body["id"]),
            "{body} belongs to {owner}"
        );
    }
    assert_eq!(
        app.customers(json!({})).await.len(),
        3,
        "no contact was created"
    );
}

#[tokio::test]
async fn an_email_shared_by_two_contacts_names_neither() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"email": "family@example.com"})))
        .await;
    app.new_contact(contact("Bob", json!({"email": "family@example.com"})))
        .await;

    record(&app, json!({"email": "family@example.com", "id": "e1", "event_type": "visit", "event_date": "2025-03-01"})).await;

    assert_eq!(
        app.customers(json!({})).await.len(),
        3,
        "without a first name, an ambiguous email matches no one"
    );
}

#[tokio::test]
async fn a_shared_email_names_no_one_even_when_only_one_has_a_fitting_user_id() {
    let app = TestApp::spawn().await;
    app.new_contact(contact(
        "Ana",
        json!({"email": "family@example.com", "user_id": "u1"}),
    ))
    .await;
    let bob = app
        .new_contact(contact("Bob", json!({"email": "family@example.com"})))
        .await;

    record(&app, json!({"email": "family@example.com", "user_id": "u2", "id": "e1", "event_type": "visit", "event_date": "2025-03-01"})).await;

    assert_eq!(
        app.customers(json!({"_id": bob})).await[0]["user_id"],
        Value::Null,
        "Bob did not take u2"
    );
    assert_eq!(
        app.customers(json!({"user_id": "u2"})).await.len(),
        1,
        "a minimal contact holds u2"
    );
}

#[tokio::test]
async fn a_match_by_email_takes_the_events_user_id() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"email": "ana@example.com"})))
        .await;

    record(&app, json!({"email": "ana@example.com", "user_id": "u9", "id": "e1", "event_type": "visit", "event_date": "2025-03-01"})).await;

    assert_eq!(app.customers(json!({"_id": ana})).await[0]["user_id"], "u9");
}

#[tokio::test]
async fn event_times_take_both_clocks_and_refuse_the_rest() {
    let app = TestApp::spawn().await;
    for (i, time) in [
        "7:05 PM", "07:05 am", "12:00 AM", "19:05", "19:05:30", "7:05pm",
    ]
    .iter()
    .enumerate()
    {
        record(&app, event(&format!("ok{i}"), json!({"event_time": time}))).await;
    }
    for bad in [
        "7 PM",
        "13:00 PM",
        "24:00",
        "19:60",
        "noon",
        "19:05:00 PM",
        "0:30 AM",
    ] {
        let (status, reply) = app
            .post("newEvent", event("bad", json!({"event_time": bad})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {reply}");
        assert_eq!(reply["field"], "event_time", "{bad}");
    }
    assert_eq!(
        events_of(&app, json!({"user_id": "u1", "limit": 1000}))
            .await
            .len(),
        6
    );
}

#[tokio::test]
async fn customer_events_are_newest_first_and_filtered() {
    let app = TestApp::spawn().await;
    record(
        &app,
        event(
            "a",
            json!({"event_date": "2025-01-10", "event_time": "9:00 AM"}),
        ),
    )
    .await;
    record(
        &app,
        event(
            "b",
            json!({"event_date": "2025-01-10", "event_time": "18:00"}),
        ),
    )
    .await;
    record(
        &app,
        event(
            "c",
            json!({"event_date": "2025-02-01", "event_type": "purchase"}),
        ),
    )
    .await;
    record(&app, event("d", json!({"event_date": "2024-12-31"}))).await;
    let ids = |events: Vec<Value>| {
        events
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };

    assert_eq!(
        ids(events_of(&app, json!({"user_id": "u1"})).await),
        ["c", "b", "a", "d"]
    );
    assert_eq!(
        ids(events_of(&app, json!({"user_id": "u1", "event_type": "visit"})).await),
        ["b", "a", "d"]
    );
    assert_eq!(
        ids(events_of(
            &app,
            json!({"user_id": "u1", "start_date": "2025-01-01", "end_date": "2025-01-31"})
        )
        .await),
        ["b", "a"]
    );
    assert_eq!(
        ids(events_of(&app, json!({"user_id": "u1", "limit": 2, "offset": 1})).await),
        ["b", "a"]
    );
    assert!(
        events_of(&app, json!({"user_id": "nobody"}))
            .await
            .is_empty()
    );
    assert!(
        events_of(&app, json!({"_id": "not-an-id"}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_event_catalogue_lists_types_names_fields_counts_and_dates() {
    let app = TestApp::spawn().await;
    record(&app, event("a", json!({"event_name": "Spin", "event_date": "2025-01-10", "event_data": {"staff": "Kim"}}))).await;
    record(&app, event("b", json!({"event_name": "Yoga", "event_date": "2025-02-10", "event_data": [{"room": 1}, {"staff": "Lee"}]}))).await;
    record(&app, event("c", json!({"event_type": "purchase", "event_date": "2025-01-05", "event_data": {"amount": 20}}))).await;

    let catalogue = app.members("getAttributeEvents", json!({})).await;

    assert_eq!(
        catalogue,
        [
            json!({"event_type": "purchase", "event_names": [], "fields": ["amount"], "count": 1, "first_date": "2025-01-05", "last_date": "2025-01-05"}),
            json!({"event_type": "visit", "event_names": ["Spin", "Yoga"], "fields": ["room", "staff"], "count": 2, "first_date": "2025-01-10", "last_date": "2025-02-10"}),
        ]
    );
}

#[tokio::test]
async fn visits_set_the_last_visit_and_last_location() {
    let app = TestApp::spawn().await;
    record(&app, event("late", json!({"is_visit": true, "event_date": "2025-03-05", "event_time": "6:30 PM", "location": "Downtown"}))).await;
    record(
        &app,
        event(
            "early",
            json!({"is_visit": true, "event_date": "2025-03-01", "location": "Uptown"}),
        ),
    )
    .await;
    record(
        &app,
        event(
            "buy",
            json!({"is_purchase": true, "event_date": "2025-03-09", "location": "Mall"}),
        ),
    )
    .await;

    let c = &app.customers(json!({"fulldata": true})).await[0];

    assert_eq!(
        c["last_visit_date"], "2025-03-05T18:30:00.000Z",
        "an older visit does not move it back"
    );
    assert_eq!(c["last_location"], "Downtown", "a purchase is not a visit");
    let ids = |key: &str| {
        c[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("visits"), [json!("late"), json!("early")]);
    assert_eq!(ids("purchases"), [json!("buy")]);
}

/// `last_visit_date` and `last_location` of the contact with `user_id`.
async fn last_visit_of(app: &TestApp, user_id: &str) -> (Option<String>, Option<String>) {
    let c = &app
        .customers(json!({"user_id": user_id, "fulldata": true}))
        .await[0];
    let text = |key: &str| c[key].as_str().map(str::to_string);
    (text("last_visit_date"), text("last_location"))
}

fn seen(date: &str, location: &str) -> (Option<String>, Option<String>) {
    (Some(date.into()), Some(location.into()))
}

/// The last visit is read from the events, so a re-sent visit that moves to another
/// contact, or stops being a visit, changes both contacts' last visit. The visit itself
/// leaves the contact's own `updated_date` alone (README, "API"): activity is found with
/// `event_since_date`.
#[tokio::test]
async fn the_last_visit_follows_the_events_and_leaves_updated_date_alone() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"user_id": "a"})))
        .await;
    app.new_contact(contact("Bob", json!({"user_id": "b"})))
        .await;
    let updated = |c: Vec<Value>| c[0]["updated_date"].clone();
    let before = updated(app.customers(json!({"user_id": "a"})).await);
    record(&app, event("v1", json!({"user_id": "a", "is_visit": true, "event_date": "2025-04-01", "location": "Uptown"}))).await;
    record(&app, event("v2", json!({"user_id": "a", "is_visit": true, "event_date": "2025-04-03", "location": "Downtown"}))).await;
    assert_eq!(
        last_visit_of(&app, "a").await,
        seen("2025-04-03T00:00:00.000Z", "Downtown")
    );
    assert_eq!(
        updated(app.customers(json!({"user_id": "a"})).await),
        before,
        "a visit is not a change to the contact"
    );

    // v2 is re-sent for Bob: Ana's last visit goes back to v1, Bob's is v2.
    record(&app, event("v2", json!({"user_id": "b", "is_visit": true, "event_date": "2025-04-03", "location": "Downtown"}))).await;
    assert_eq!(
        last_visit_of(&app, "a").await,
        seen("2025-04-01T00:00:00.000Z", "Uptown")
    );
    assert_eq!(
        last_visit_of(&app, "b").await,
        seen("2025-04-03T00:00:00.000Z", "Downtown")
    );

    // v1 is re-sent as a purchase: Ana has no visit left.
    record(&app, event("v1", json!({"user_id": "a", "is_purchase": true, "event_date": "2025-04-01", "location": "Uptown"}))).await;
    assert_eq!(last_visit_of(&app, "a").await, (None, None));

    // Contacts with new activity are found by event date, not by updated_since.
    let active: Vec<_> = app
        .customers(json!({"event_since_date": "2025-04-02"}))
        .await
        .iter()
        .map(|c| c["user_id"].clone())
        .collect();
    assert_eq!(active, [json!("b")]);
}

#[tokio::test]
async fn getcustomers_filters_by_event_since_date_and_lists_events() {
    let app = TestApp::spawn().await;
    record(
        &app,
        event("old", json!({"user_id": "a", "event_date": "2024-01-01"})),
    )
    .await;
    record(
        &app,
        event("new", json!({"user_id": "b", "event_date": "2025-06-01"})),
    )
    .await;
    app.new_contact(contact("NoEvents", json!({}))).await;

    let recent = app
        .customers(json!({"event_since_date": "2025-01-01", "events": true}))
        .await;

    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0]["user_id"], "b");
    assert_eq!(recent[0]["events"].as_array().unwrap().len(), 1);
    assert_eq!(recent[0]["events"][0]["id"], "new");
    assert_eq!(
        app.customers(json!({"event_since_date": "2000-01-01"}))
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn fulldata_keeps_the_newest_hundred_visits_per_contact() {
    let app = TestApp::spawn().await;
    for day in 1..=28 {
        for hour in 1..=4 {
            record(&app, event(&format!("v{day}-{hour}"), json!({"is_visit": true, "event_date": format!("2025-02-{day:02}"), "event_time": format!("{hour:02}:00")}))).await;
        }
    }

    let c = &app
        .customers(json!({"fulldata": true, "events": true}))
        .await[0];

    let visits = c["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 100);
    assert_eq!(visits[0]["id"], "v28-4");
    assert_eq!(visits[99]["id"], "v4-1");
    assert_eq!(c["events"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn each_bad_event_is_a_400_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"id": "e", "event_type": "visit", "event_date": "2025-03-01"}),
            "user_id",
        ),
        (
            json!({"user_id": "u", "event_type": "visit", "event_date": "2025-03-01"}),
            "id",
        ),
        (
            json!({"user_id": "u", "id": "e", "event_date": "2025-03-01"}),
            "event_type",
        ),
        (
            json!({"user_id": "u", "id": "e", "event_type": "visit"}),
            "event_date",
        ),
        (
            event("e", json!({"event_date": "03/01/2025"})),
            "event_date",
        ),
        (
            event("e", json!({"event_date": "2025-02-30"})),
            "event_date",
        ),
        (event("e", json!({"event_data": "staff=Kim"})), "event_data"),
        (event("e", json!({"event_data": [1, 2]})), "event_data"),
        (
            event(
                "e",
                json!({"event_data": (0..101).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>()}),
            ),
            "event_data",
        ),
        (event("e\u{0}", json!({})), "id"),
        (event("e", json!({"is_visit": "sometimes"})), "is_visit"),
        (event("e", json!({"email": "nope"})), "email"),
        (event("e", json!({"user_id": {"nested": 1}})), "user_id"),
        (event("e", json!({"phone": "123"})), "phone"),
        (
            event("e", json!({"_id": "0123456789abcdef01234567"})),
            "_id",
        ),
    ];
    for (body, field) in cases {
        let (status, reply) = app.post("newEvent", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["field"], field, "{body}: {reply}");
    }
    assert!(
        app.customers(json!({})).await.is_empty(),
        "no contact was created"
    );
    assert!(
        app.members("getAttributeEvents", json!({}))
            .await
            .is_empty(),
        "no event was stored"
    );
    for (endpoint, body, field) in [
        (
            "getCustomerEvents",
            json!({"user_id": "u", "start_date": "x"}),
            "start_date",
        ),
        (
            "getCustomerEvents",
            json!({"user_id": "u", "start_date": "2025-02-01", "end_date": "2025-01-01"}),
            "end_date",
        ),
        (
            "getCustomerEvents",
            json!({"user_id": "u", "limit": 0}),
            "limit",
        ),
        ("getAttributeEvents", json!({"offset": -1}), "offset"),
    ] {
        let (status, reply) = app.post(endpoint, body.clone()).await;
        assert_eq!(
            (status, reply["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{endpoint} {body}: {reply}"
        );
    }
}

#[tokio::test]
async fn merging_moves_events_to_the_survivor() {
    let app = TestApp::spawn().await;
    let survivor = app
        .new_contact(contact("Ana", json!({"user_id": "a"})))
        .await;
    let retired = app
        .new_contact(contact("Bob", json!({"user_id": "b"})))
        .await;
    record(&app, event("mine", json!({"user_id": "a", "is_visit": true, "event_date": "2025-01-01", "location": "Uptown"}))).await;
    record(&app, event("theirs", json!({"user_id": "b", "is_visit": true, "event_date": "2025-02-01", "location": "Downtown"}))).await;

    app.post(
        "mergeContacts",
        json!({"from_contact": survivor, "to_contact": retired}),
    )
    .await;

    let ids: Vec<_> = events_of(&app, json!({"_id": survivor}))
        .await
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, [json!("theirs"), json!("mine")]);
    let c = &app.customers(json!({"fulldata": true})).await[0];
    assert_eq!(
        (c["last_visit_date"].as_str(), c["last_location"].as_str()),
        (Some("2025-02-01T00:00:00.000Z"), Some("Downtown"))
    );
}

#[tokio::test]
async fn removing_a_contact_removes_its_events() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"user_id": "u1"})))
        .await;
    record(&app, event("e1", json!({}))).await;

    app.post("removeContact", json!({"id": ana})).await;

    assert!(events_of(&app, json!({"user_id": "u1"})).await.is_empty());
    assert_eq!(app.members("getAttributeEvents", json!({})).await.len(), 0);
}

/// Concurrent events share commits (group commit); each is answered for itself:
/// a bad one in the same batch is refused alone, and every acknowledged event is stored
/// with its contact's last visit computed over the whole batch.
#[tokio::test]
async fn concurrent_events_are_each_answered_for_themselves() {
    let app = TestApp::spawn().await;
    const USERS: usize = 40;
    const PER_USER: usize = 10;
    let mut sends = Vec::new();
    for n in 0..USERS * PER_USER {
        let (user, day) = (n % USERS, n / USERS + 1);
        let body = event(
            &format!("e{n}"),
            json!({"user_id": format!("u{user}"), "event_date": format!("2025-04-{day:02}"),
                   "is_visit": true, "location": format!("room-{day}"),
                   "event_data": {"coach": "Kim", "n": n}}),
        );
        sends.push(body);
        if n % 20 == 0 {
            // A contact `_id` that does not exist: a 400 for this event only.
            sends.push(event(
                &format!("bad{n}"),
                json!({"_id": "000000000000000000000000"}),
            ));
        }
    }
    let answers =
        futures::future::join_all(sends.iter().map(|body| app.post("newEvent", body.clone())))
            .await;

    for (body, (status, reply)) in sends.iter().zip(&answers) {
        let bad = body["id"].as_str().unwrap().starts_with("bad");
        let expected = if bad {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        assert_eq!(*status, expected, "{body}: {reply}");
    }
    for user in 0..USERS {
        let events = events_of(&app, json!({"user_id": format!("u{user}"), "limit": 100})).await;
        assert_eq!(events.len(), PER_USER, "u{user}: {events:?}");
    }
    let customers = app.customers(json!({"limit": 100, "fulldata": true})).await;
    assert_eq!(
        customers.len(),
        USERS,
        "one contact per user_id, created once"
    );
    for c in &customers {
        assert_eq!(
            c["last_visit_date"],
            format!("2025-04-{PER_USER:02}T00:00:00.000Z"),
            "{c}"
        );
        assert_eq!(c["last_location"], format!("room-{PER_USER}"), "{c}");
    }
    let (_, none) = app
        .post(
            "getCustomerEvents",
            json!({"user_id": "u0", "event_type": "nothing"}),
        )
        .await;
    assert_eq!(none["members"], json!([]));
}

/// A newContact that fails inside a shared commit (an `_id` no contact has) is refused
/// alone: the newEvents around it, merged or not when the batch is redone, all commit.
#[tokio::test]
async fn a_failing_write_among_concurrent_events_is_refused_alone() {
    let app = TestApp::spawn().await;
    const USERS: usize = 20;
    let mut sends = Vec::new();
    for n in 0..USERS * 10 {
        sends.push((
            "newEvent",
            event(
                &format!("e{n}"),
                json!({"user_id": format!("u{}", n % USERS), "is_visit": true}),
            ),
        ));
        if n % 20 == 0 {
            sends.push((
                "newContact",
                contact(
                    "Nobody",
                    json!({"_id": "000000000000000000000000", "user_id": format!("x{n}")}),
                ),
            ));
        }
    }
    let answers = futures::future::join_all(
        sends
            .iter()
            .map(|(endpoint, body)| app.post(endpoint, body.clone())),
    )
    .await;

    for ((endpoint, body), (status, reply)) in sends.iter().zip(&answers) {
        if *endpoint == "newContact" {
            assert_eq!(
                (*status, reply["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some("_id")),
                "{body}: {reply}"
            );
        } else {
            assert_eq!(*status, StatusCode::OK, "{body}: {reply}");
        }
    }
    let customers = app.customers(json!({"limit": 100})).await;
    assert_eq!(
        customers.len(),
        USERS,
        "no contact from a refused newContact"
    );
    for user in 0..USERS {
        let events = events_of(&app, json!({"user_id": format!("u{user}"), "limit": 100})).await;
        assert_eq!(events.len(), 10, "u{user}");
    }
}

/// newEvents and newContacts for the same new `user_id`s, side by side: whichever creates
/// the contact, the other finds it. Every request succeeds and each `user_id` ends as one
/// contact holding the newContact's name and every event. (On PostgreSQL the merged
/// events and each newContact run in different transactions at once; the newContacts are
/// spread over the time the events take, so that some land while a batch that creates
/// their contact is still open. With the batch's locks removed, 1 run in 4 answered a
/// newContact 503: a race test, it catches that regression often, not every time.)
#[tokio::test]
async fn events_and_contacts_for_the_same_new_user_id_meet_on_one_contact() {
    let app = TestApp::spawn().await;
    const ROUNDS: usize = 3;
    const USERS: usize = 200;
    const PER_USER: usize = 4;
    for round in 0..ROUNDS {
        let user = |n: usize| format!("r{round}u{}", n % USERS);
        let events: Vec<Value> = (0..USERS * PER_USER)
            .map(|n| event(&format!("r{round}e{n}"), json!({"user_id": user(n)})))
            .collect();
        let contacts: Vec<Value> = (0..USERS)
            .map(|n| contact("Ana", json!({"user_id": user(n)})))
            .collect();
        let (event_answers, contact_answers) = tokio::join!(
            futures::future::join_all(events.iter().map(|body| app.post("newEvent", body.clone()))),
            futures::future::join_all(contacts.iter().enumerate().map(|(n, body)| {
                let app = &app;
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(n as u64 / 2)).await;
                    app.post("newContact", body.clone()).await
                }
            })),
        );
        let answers = event_answers.iter().chain(&contact_answers);
        for (body, (status, reply)) in events.iter().chain(&contacts).zip(answers) {
            assert_eq!(*status, StatusCode::OK, "{body}: {reply}");
        }
    }

    let customers = app.customers(json!({"limit": 1000})).await;
    assert_eq!(customers.len(), ROUNDS * USERS, "one contact per user_id");
    for c in &customers {
        assert_eq!(c["firstname"], "Ana", "{c}");
        let events = events_of(&app, json!({"user_id": c["user_id"], "limit": 100})).await;
        assert_eq!(events.len(), PER_USER, "{c}");
    }
}
