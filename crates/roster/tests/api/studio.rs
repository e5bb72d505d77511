//! Locations, classes and memberships; and tenant isolation of every activity endpoint.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, contact};

async fn ok(app: &TestApp, endpoint: &str, body: Value) -> Value {
    let (status, reply) = app.post(endpoint, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{endpoint} {body}: {reply}");
    reply
}

fn class(id: &str, date: &str, start: &str, extra: Value) -> Value {
    let mut body = json!({"id": id, "class_name": format!("Class {id}"), "start_date": date, "start_time": start});
    if let (Value::Object(base), Value::Object(extra)) = (&mut body, extra) {
        base.extend(extra);
    }
    body
}

#[tokio::test]
async fn locations_are_upserted_by_id_and_listed() {
    let app = TestApp::spawn().await;
    let created = ok(&app, "newLocation", json!({"id": "dt", "name": "Downtown", "city": "Austin", "timezone": "America/Chicago", "email": "dt@example.com"})).await;
    ok(&app, "newLocation", json!({"id": "up", "name": "Uptown"})).await;

    let updated = ok(
        &app,
        "newLocation",
        json!({"id": "dt", "name": "Downtown Studio", "zip": "78701"}),
    )
    .await;

    assert_eq!(created["status"], "success");
    assert_eq!(created["_id"], updated["_id"], "same id, same location");
    let locations = app.members("getLocations", json!({})).await;
    assert_eq!(locations.len(), 2);
    let dt = &locations[0];
    assert_eq!(
        (dt["id"].as_str(), dt["name"].as_str()),
        (Some("dt"), Some("Downtown Studio"))
    );
    assert_eq!(
        (
            dt["city"].as_str(),
            dt["zip"].as_str(),
            dt["timezone"].as_str()
        ),
        (Some("Austin"), Some("78701"), Some("America/Chicago"))
    );
    assert_eq!(dt["_id"], created["_id"]);
}

#[tokio::test]
async fn the_class_schedule_is_ordered_by_start_and_filtered() {
    let app = TestApp::spawn().await;
    ok(&app, "newLocation", json!({"id": "dt", "name": "Downtown"})).await;
    ok(&app, "newLocation", json!({"id": "up", "name": "Uptown"})).await;
    ok(
        &app,
        "newClass",
        class("c3", "2025-03-02", "7:00 AM", json!({"location_id": "up"})),
    )
    .await;
    ok(
        &app,
        "newClass",
        class(
            "c2",
            "2025-03-01",
            "6:00 PM",
            json!({"location_id": "dt", "end_time": "19:00", "capacity": 20, "staff": "Kim"}),
        ),
    )
    .await;
    ok(
        &app,
        "newClass",
        class("c1", "2025-03-01", "09:30", json!({"location_id": "dt"})),
    )
    .await;
    ok(
        &app,
        "newClass",
        class("c4", "2025-04-01", "9:00 AM", json!({})),
    )
    .await;
    let ids = |members: Vec<Value>| {
        members
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };

    assert_eq!(
        ids(app.members("getClassSchedule", json!({})).await),
        ["c1", "c2", "c3", "c4"]
    );
    assert_eq!(
        ids(app
            .members("getClassSchedule", json!({"location_id": "dt"}))
            .await),
        ["c1", "c2"]
    );
    assert_eq!(
        ids(app
            .members(
                "getClassSchedule",
                json!({"start_date": "2025-03-02", "end_date": "2025-03-31"})
            )
            .await),
        ["c3"]
    );
    assert_eq!(
        ids(app
            .members("getClassSchedule", json!({"limit": 2, "offset": 1}))
            .await),
        ["c2", "c3"]
    );
    let c2 = &app
        .members("getClassSchedule", json!({"location_id": "dt"}))
        .await[1];
    assert_eq!(
        (
            c2["start_time"].as_str(),
            c2["end_time"].as_str(),
            c2["capacity"].as_i64()
        ),
        (Some("6:00 PM"), Some("19:00"), Some(20))
    );
    assert_eq!(c2["_id"].as_str().map(str::len), Some(24));
}

#[tokio::test]
async fn a_class_is_updated_by_id_and_removed() {
    let app = TestApp::spawn().await;
    let first = ok(
        &app,
        "newClass",
        class("c1", "2025-03-01", "9:00 AM", json!({"capacity": 10})),
    )
    .await;
    let second = ok(
        &app,
        "newClass",
        class("c1", "2025-03-02", "10:00 AM", json!({})),
    )
    .await;
    assert_eq!(first["_id"], second["_id"]);
    let schedule = app.members("getClassSchedule", json!({})).await;
    assert_eq!(schedule.len(), 1);
    assert_eq!(
        (
            schedule[0]["start_date"].as_str(),
            schedule[0]["capacity"].as_i64()
        ),
        (Some("2025-03-02"), Some(10))
    );

    assert_eq!(
        ok(&app, "removeClass", json!({"id": "c1"})).await,
        json!({"result": "success"})
    );

    assert!(app.members("getClassSchedule", json!({})).await.is_empty());
    let (status, reply) = app.post("removeClass", json!({"id": "c1"})).await;
    assert_eq!(
        (status, reply["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id"))
    );
}

#[tokio::test]
async fn each_bad_location_or_class_is_a_400_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        ("newLocation", json!({"name": "x"}), "id"),
        ("newLocation", json!({"id": "x"}), "name"),
        (
            "newLocation",
            json!({"id": "x", "name": "x", "email": "nope"}),
            "email",
        ),
        (
            "newLocation",
            json!({"id": "x", "name": "x", "timezone": "Central Time"}),
            "timezone",
        ),
        (
            "newClass",
            json!({"class_name": "x", "start_date": "2025-03-01", "start_time": "9:00"}),
            "id",
        ),
        (
            "newClass",
            json!({"id": "x", "start_date": "2025-03-01", "start_time": "9:00"}),
            "class_name",
        ),
        (
            "newClass",
            class("x", "2025-03-01", "9:00", json!({"location_id": "nowhere"})),
            "location_id",
        ),
        (
            "newClass",
            class("x", "2025-03-01", "9:00", json!({"end_time": "8:00"})),
            "end_time",
        ),
        (
            "newClass",
            class("x", "2025-03-01", "9:00 AM", json!({"end_time": "9:00"})),
            "end_time",
        ),
        (
            "newClass",
            class("x", "2025-03-01", "25:00", json!({})),
            "start_time",
        ),
        (
            "newClass",
            class("x", "March 1", "9:00", json!({})),
            "start_date",
        ),
        (
            "newClass",
            class("x", "2025-03-01", "9:00", json!({"capacity": -1})),
            "capacity",
        ),
        (
            "newClass",
            class("x", "2025-03-01", "9:00", json!({"capacity": "lots"})),
            "capacity",
        ),
        ("removeClass", json!({}), "id"),
        (
            "getClassSchedule",
            json!({"start_date": "tomorrow"}),
            "start_date",
        ),
        ("getLocations", json!({"limit": 5000}), "limit"),
    ];
    for (endpoint, body, field) in cases {
        let (status, reply) = app.post(endpoint, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{endpoint} {body}: {reply}"
        );
        assert_eq!(reply["field"], field, "{endpoint} {body}: {reply}");
    }
    assert!(app.members("getLocations", json!({})).await.is_empty());
    assert!(app.members("getClassSchedule", json!({})).await.is_empty());
}

#[tokio::test]
async fn memberships_are_upserted_by_id_and_listed_under_fulldata() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"user_id": "u1"})))
        .await;
    let gold = json!({"id": "m1", "name": "Gold", "status": "active", "start_date": "2025-01-01", "end_date": "2025-12-31", "price": 49.99, "location_id": "dt"});

    let added = ok(&app, "addMemberships", json!({"user_id": "u1", "memberships": [gold, {"id": "m2", "name": "Trial", "price": "0"}]})).await;
    let updated = ok(
        &app,
        "addMemberships",
        json!({"user_id": "u1", "memberships": [{"id": "m1", "status": "frozen"}]}),
    )
    .await;

    assert_eq!(added, json!({"status": "success", "count": 2}));
    assert_eq!(updated["count"], 1);
    let memberships = app.customers(json!({"fulldata": true})).await[0]["memberships"].clone();
    assert_eq!(memberships.as_array().unwrap().len(), 2);
    let m1 = &memberships[0];
    assert_eq!(
        (
            m1["id"].as_str(),
            m1["name"].as_str(),
            m1["status"].as_str()
        ),
        (Some("m1"), Some("Gold"), Some("frozen"))
    );
    assert_eq!(
        (m1["start_date"].as_str(), m1["end_date"].as_str()),
        (Some("2025-01-01"), Some("2025-12-31"))
    );
    assert_eq!(m1["price"], json!(49.99));
    assert_eq!(memberships[1]["price"], json!(0));
}

#[tokio::test]
async fn each_bad_membership_request_is_a_400_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"user_id": "u1"})))
        .await;
    let cases = [
        (json!({"memberships": [{"id": "m"}]}), "user_id"),
        (
            json!({"user_id": "nobody", "memberships": [{"id": "m"}]}),
            "user_id",
        ),
        (json!({"user_id": "u1"}), "memberships"),
        (
            json!({"user_id": "u1", "memberships": {"id": "m"}}),
            "memberships",
        ),
        (
            json!({"user_id": "u1", "memberships": [{"name": "Gold"}]}),
            "memberships[0].id",
        ),
        (
            json!({"user_id": "u1", "memberships": [{"id": "ok"}, {"id": "m", "start_date": "soon"}]}),
            "memberships[1].start_date",
        ),
        (
            json!({"user_id": "u1", "memberships": [{"id": "m", "start_date": "2025-02-01", "end_date": "2025-01-01"}]}),
            "memberships[0].end_date",
        ),
        (
            json!({"user_id": "u1", "memberships": [{"id": "m", "price": "free"}]}),
            "memberships[0].price",
        ),
    ];
    for (body, field) in cases {
        let (status, reply) = app.post("addMemberships", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["field"], field, "{body}: {reply}");
    }
    assert_eq!(
        app.customers(json!({"fulldata": true})).await[0]["memberships"],
        json!([])
    );
    assert_eq!(app.customers(json!({})).await.len(), 1);
}

#[tokio::test]
async fn merging_moves_memberships_and_the_survivors_win_on_the_same_id() {
    let app = TestApp::spawn().await;
    let survivor = app
        .new_contact(contact("Ana", json!({"user_id": "a"})))
        .await;
    let retired = app
        .new_contact(contact("Bob", json!({"user_id": "b"})))
        .await;
    ok(
        &app,
        "addMemberships",
        json!({"user_id": "a", "memberships": [{"id": "m1", "name": "Mine"}]}),
    )
    .await;
    ok(&app, "addMemberships", json!({"user_id": "b", "memberships": [{"id": "m1", "name": "Theirs"}, {"id": "m2", "name": "Extra"}]})).await;

    app.post(
        "mergeContacts",
        json!({"from_contact": survivor, "to_contact": retired}),
    )
    .await;

    let names: Vec<_> = app.customers(json!({"fulldata": true})).await[0]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    assert_eq!(names, [json!("Mine"), json!("Extra")]);
}

#[tokio::test]
async fn no_app_sees_or_changes_another_apps_activity() {
    let app = TestApp::spawn().await;
    let b = app.create_app("Studio B").await;
    let ana = app
        .new_contact(contact(
            "Ana",
            json!({"user_id": "u1", "email": "ana@example.com"}),
        ))
        .await;
    ok(&app, "newEvent", json!({"user_id": "u1", "id": "e1", "event_type": "visit", "event_date": "2025-03-01", "is_visit": true})).await;
    ok(
        &app,
        "addMemberships",
        json!({"user_id": "u1", "memberships": [{"id": "m1"}]}),
    )
    .await;
    ok(&app, "newLocation", json!({"id": "dt", "name": "Downtown"})).await;
    ok(
        &app,
        "newClass",
        class("c1", "2025-03-01", "9:00", json!({"location_id": "dt"})),
    )
    .await;
    let before = (
        app.customers(json!({"fulldata": true, "events": true}))
            .await,
        app.members("getClassSchedule", json!({})).await,
        app.members("getLocations", json!({})).await,
    );

    // Reads through B see nothing of A's.
    for (endpoint, body) in [
        ("getCustomerEvents", json!({"_id": ana})),
        ("getCustomerEvents", json!({"user_id": "u1"})),
        ("getCustomerEvents", json!({"email": "ana@example.com"})),
        ("getAttributeEvents", json!({})),
        ("getLocations", json!({})),
        ("getClassSchedule", json!({})),
        ("getClassSchedule", json!({"location_id": "dt"})),
        ("getCustomers", json!({"event_since_date": "2000-01-01"})),
    ] {
        let (status, reply) = app.post_as(&b, endpoint, body.clone()).await;
        assert_eq!(
            (status, reply["members"].clone()),
            (StatusCode::OK, json!([])),
            "{endpoint} {body}"
        );
    }
    // Writes through B cannot reach A's rows.
    let (status, _) = app
        .post_as(
            &b,
            "newEvent",
            json!({"_id": ana, "id": "e1", "event_type": "x", "event_date": "2025-03-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post_as(
            &b,
            "addMemberships",
            json!({"_id": ana, "memberships": [{"id": "m1", "name": "Hacked"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.post_as(&b, "removeClass", json!({"id": "c1"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post_as(
            &b,
            "newClass",
            class("c9", "2025-03-01", "9:00", json!({"location_id": "dt"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "A's location is not B's");
    // The same caller ids in B are B's own rows.
    ok_as(&app, &b, "newEvent", json!({"user_id": "u1", "id": "e1", "event_type": "visit", "event_date": "2025-04-01", "is_visit": true})).await;
    ok_as(
        &app,
        &b,
        "newLocation",
        json!({"id": "dt", "name": "B Downtown"}),
    )
    .await;
    ok_as(
        &app,
        &b,
        "newClass",
        class("c1", "2025-05-01", "9:00", json!({"location_id": "dt"})),
    )
    .await;
    // Valid keys with A's app_id are refused outright.
    for endpoint in [
        "newEvent",
        "getCustomerEvents",
        "getAttributeEvents",
        "addMemberships",
        "newLocation",
        "getLocations",
        "newClass",
        "removeClass",
        "getClassSchedule",
    ] {
        let (status, _) = app
            .post_as(&b, endpoint, json!({"app_id": app.keys.app_id, "id": "c1"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}");
    }

    let after = (
        app.customers(json!({"fulldata": true, "events": true}))
            .await,
        app.members("getClassSchedule", json!({})).await,
        app.members("getLocations", json!({})).await,
    );
    assert_eq!(after, before, "A's data is unchanged");
}

async fn ok_as(app: &TestApp, keys: &crate::support::Keys, endpoint: &str, body: Value) {
    let (status, reply) = app.post_as(keys, endpoint, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{endpoint} {body}: {reply}");
}
