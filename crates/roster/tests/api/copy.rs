//! `roster copy`: an installation moved to another database keeps every row and works.

use std::process::Stdio;

use reqwest::StatusCode;
use roster_server::ServerSettings;
use roster_store::copy::TABLES;
use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};

use crate::support::{TestApp, TestDb, contact};

#[tokio::test]
async fn the_copy_table_list_matches_the_schema() {
    let db = TestDb::sqlite();
    roster_store::open(&db.url, &Default::default())
        .await
        .unwrap();
    let mut conn = SqliteConnection::connect(&db.url).await.unwrap();

    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();

    let mut listed: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    listed.sort();
    assert_eq!(
        tables.iter().map(|(t,)| t.as_str()).collect::<Vec<_>>(),
        listed,
        "every table is copied"
    );
    for table in TABLES {
        let columns: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                .bind(table.name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let listed: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            columns.iter().map(|(c,)| c.as_str()).collect::<Vec<_>>(),
            listed,
            "{}",
            table.name
        );
    }
}

async fn roster_copy(from: &str, to: &str) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["copy", "--from", from, "--to", to])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn an_installation_copied_from_sqlite_serves_the_same_data_and_a_rerun_is_safe() {
    let source = TestApp::start(TestDb::sqlite(), ServerSettings::default(), None).await;
    for i in 0..1200 {
        source
            .new_contact(contact(
                &format!("N{i}"),
                json!({"user_id": i, "tags": "vip", "shoe": i, "optin_sms": i % 2 == 0}),
            ))
            .await;
    }
    source
        .post("newLocation", json!({"id": "dt", "name": "Downtown"}))
        .await;
    source.post("newClass", json!({"id": "c1", "class_name": "Spin", "start_date": "2025-03-01", "start_time": "6:00 PM", "location_id": "dt", "capacity": 12})).await;
    for i in 0..30 {
        let event = json!({"user_id": i, "id": format!("e{i}"), "event_type": "visit", "event_date": "2025-03-01", "is_visit": true, "event_data": {"staff": "Kim"}});
        assert_eq!(source.post("newEvent", event).await.0, StatusCode::OK);
    }
    source
        .post(
            "addMemberships",
            json!({"user_id": 1, "memberships": [{"id": "m1", "price": 10.5}]}),
        )
        .await;
    let keep = source
        .new_contact(contact("Keep", json!({"email": "keep@example.com"})))
        .await;
    let retired = source
        .new_contact(contact("Gone", json!({"phone": "4155552671"})))
        .await;
    source
        .post(
            "mergeContacts",
            json!({"from_contact": keep, "to_contact": retired}),
        )
        .await;
    let destination = TestDb::create().await;

    let (ok, printed) = roster_copy(&source.db.url, &destination.url).await;
    assert!(ok, "{printed}");
    assert!(printed.contains("verified"), "{printed}");
    let (again, printed) = roster_copy(&source.db.url, &destination.url).await;
    assert!(again, "a re-run succeeds: {printed}");

    let copied = TestApp::start(
        destination,
        ServerSettings::default(),
        Some(source.keys.clone()),
    )
    .await;
    for body in [
        json!({"fulldata": true, "events": true, "limit": 1000}),
        json!({"fulldata": true, "events": true, "limit": 1000, "offset": 1000}),
    ] {
        assert_eq!(
            copied.customers(body.clone()).await,
            source.customers(body).await
        );
    }
    assert_eq!(
        copied.customers(json!({"_id": retired})).await[0]["id"],
        keep,
        "aliases came along"
    );
    assert_eq!(
        copied.members("getAttributes", json!({})).await,
        source.members("getAttributes", json!({})).await
    );
    for endpoint in ["getAttributeEvents", "getLocations", "getClassSchedule"] {
        let (copied, source) = (
            copied.members(endpoint, json!({})).await,
            source.members(endpoint, json!({})).await,
        );
        assert!(!source.is_empty(), "{endpoint}");
        assert_eq!(copied, source, "{endpoint}");
    }
    let after = json!({"user_id": 1, "id": "after-copy", "event_type": "visit", "event_date": "2025-03-02"});
    assert_eq!(
        copied.post("newEvent", after).await.0,
        StatusCode::OK,
        "new events after the copy get fresh ids"
    );
    assert_eq!(
        copied
            .members("getOptinCustomers", json!({"limit": 1000}))
            .await
            .len(),
        600
    );
    let (status, reply) = copied.post("newContact", contact("New", json!({}))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "new rows after the copy get fresh ids: {reply}"
    );
    let last: Value = copied
        .customers(json!({"limit": 1, "offset": 1201}))
        .await
        .remove(0);
    assert_eq!(last["firstname"], "New");
}

#[tokio::test]
async fn copying_a_database_onto_itself_is_refused() {
    let db = TestDb::sqlite();

    let (ok, printed) = roster_copy(&db.url, &db.url).await;

    assert!(!ok && printed.contains("same database"), "{printed}");
}

#[tokio::test]
async fn the_copy_table_list_matches_the_postgres_schema() {
    if crate::support::require_postgres("the_copy_table_list_matches_the_postgres_schema").is_none()
    {
        return;
    }
    let db = TestDb::create().await;
    roster_store::open(&db.url, &Default::default())
        .await
        .unwrap();
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();

    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx_%' ORDER BY table_name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();

    let mut listed: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    listed.sort();
    assert_eq!(
        tables.iter().map(|(t,)| t.as_str()).collect::<Vec<_>>(),
        listed
    );
    for table in TABLES {
        let columns: Vec<(String,)> = sqlx::query_as(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table.name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let listed: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            columns.iter().map(|(c,)| c.as_str()).collect::<Vec<_>>(),
            listed,
            "{}",
            table.name
        );
    }
}
