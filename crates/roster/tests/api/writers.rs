//! PostgreSQL's group-commit writers (`Grouping::writers`, one per app's events): a batch
//! stuck on a lock stalls its own writer only.

use std::time::Duration;

use reqwest::StatusCode;
use roster_domain::AppId;
use roster_store::group_commit::{Grouping, writer_of};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::support::{Keys, TestApp, read, require_postgres};

fn visit(id: &str, user_id: &str) -> Value {
    json!({"user_id": user_id, "id": id, "event_type": "visit", "event_date": "2025-03-01"})
}

fn writer_for(keys: &Keys) -> usize {
    writer_of(&AppId::new(&keys.app_id), Grouping::Events.writers())
}

/// Another transaction holds the key of app A's contact "held" (as a newContact or a merge
/// of that contact would), so the batch carrying A's event for it waits. The event of app
/// B, whose events go to another writer, is answered while that lock is still held; A's
/// is answered once it is released. With one writer per process B's event waited behind
/// A's batch, and this test failed at its 8 s bound, before the server's 10 s
/// `lock_timeout` let go.
#[tokio::test]
async fn a_batch_waiting_for_a_lock_holds_up_only_its_own_writer() {
    let test = "writers::a_batch_waiting_for_a_lock_holds_up_only_its_own_writer";
    if require_postgres(test).is_none() {
        return;
    }
    assert!(
        Grouping::Events.writers() > 1,
        "PostgreSQL has several writers"
    );
    let app = TestApp::spawn().await;
    let mut other = app.create_app("Studio B").await;
    // App ids are generated: make apps until one goes to another writer (each does with
    // probability 3/4).
    for n in 0..32 {
        if writer_for(&other) != writer_for(&app.keys) {
            break;
        }
        other = app.create_app(&format!("Studio B{n}")).await;
    }
    assert_ne!(
        writer_for(&other),
        writer_for(&app.keys),
        "app B on another writer"
    );
    let free_user = "free";

    let mut holder = PgConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("contact:{}:user:held", app.keys.app_id))
        .execute(&mut holder)
        .await
        .unwrap();

    let mut stuck_body = visit("a1", "held");
    stuck_body["app_id"] = json!(app.keys.app_id);
    let stuck = tokio::spawn(
        app.client
            .post(app.url("/v2/ExternalApi/newEvent"))
            .header("X-API-KEY", &app.keys.api_key)
            .header("X-SECRET-KEY", &app.keys.secret_key)
            .json(&stuck_body)
            .send(),
    );
    wait_for_a_lock_wait(&mut holder).await;

    let (status, reply) = tokio::time::timeout(
        Duration::from_secs(8),
        app.post_as(&other, "newEvent", visit("b1", free_user)),
    )
    .await
    .expect("app B's event waited behind app A's stuck batch");
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(
        !stuck.is_finished(),
        "A's event was answered while its key was held"
    );

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let (status, reply) = read(stuck.await.unwrap().expect("A's request")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    for (keys, user_id) in [(&app.keys, "held"), (&other, free_user)] {
        let (status, events) = app
            .post_as(keys, "getCustomerEvents", json!({"user_id": user_id}))
            .await;
        assert_eq!(status, StatusCode::OK, "{events}");
        assert_eq!(
            events["members"].as_array().map(Vec::len),
            Some(1),
            "{events}"
        );
    }
}

/// Until a transaction of this database waits for an advisory lock (the stuck batch).
async fn wait_for_a_lock_wait(conn: &mut PgConnection) {
    for _ in 0..500 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the newEvent for the held contact never waited for its lock");
}
