//! Several `roster serve` processes on one PostgreSQL database (issue: scale-out).

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    cli::{Served, printed_value, serve},
    support::{TestDb, require_postgres},
};

struct Node<'a> {
    served: &'a Served,
    keys: &'a Served,
}

impl Node<'_> {
    async fn post(&self, endpoint: &str, mut body: Value) -> (StatusCode, Value) {
        let printed = &self.keys.printed;
        body["app_id"] = json!(printed_value(printed, "app_id"));
        let response = crate::support::http()
            .post(format!("{}/v2/ExternalApi/{endpoint}", self.served.base))
            .header("X-API-KEY", printed_value(printed, "api_key"))
            .header("X-SECRET-KEY", printed_value(printed, "secret_key"))
            .json(&body)
            .send()
            .await
            .unwrap();
        crate::support::read(response).await
    }
}

#[tokio::test]
async fn two_processes_on_one_database_serve_the_same_contacts() {
    if require_postgres("two_processes_on_one_database_serve_the_same_contacts").is_none() {
        return;
    }
    let db = TestDb::create().await;
    let first = serve(&db).await;
    let second = serve(&db).await;
    let (a, b) = (
        Node {
            served: &first,
            keys: &first,
        },
        Node {
            served: &second,
            keys: &first,
        },
    );

    let (status, created) = a
        .post(
            "newContact",
            json!({"first_name": "Ana", "last_name": "L", "user_id": "u1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (_, listed) = b.post("getCustomers", json!({"user_id": "u1"})).await;
    assert_eq!(
        listed["members"][0]["id"], created["_id"],
        "written through one, read through the other"
    );

    // The same 30 identities sent through both processes at once.
    let writes = (0..30).flat_map(|i| {
        let body = json!({"first_name": format!("N{i}"), "last_name": "L", "email": format!("n{i}@example.com")});
        [a.post("newContact", body.clone()), b.post("newContact", body)]
    });
    let replies = join_all(writes).await;

    assert!(
        replies.iter().all(|(status, _)| *status == StatusCode::OK),
        "{replies:?}"
    );
    let ids: HashSet<_> = replies
        .iter()
        .map(|(_, r)| r["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 30, "each identity is one contact, never two");
    let (_, all) = b.post("getCustomers", json!({"limit": 1000})).await;
    assert_eq!(all["members"].as_array().unwrap().len(), 31);
}
