//! mergeContacts: `from_contact` survives and `to_contact` is merged into it.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, contact};

#[tokio::test]
async fn the_from_contact_survives_and_fills_its_gaps_from_the_other() {
    let app = TestApp::spawn().await;
    let survivor = app
        .new_contact(contact(
            "Ana",
            json!({"email": "ana@example.com", "city": "Austin", "tags": "vip", "shoe": 39}),
        ))
        .await;
    let retired = app
        .new_contact(contact("Anita", json!({"user_id": "u7", "phone": "4155552671", "city": "Dallas", "zip": "75001", "tags": "yoga", "shoe": 40, "locker": 3})))
        .await;

    let (status, reply) = app
        .post(
            "mergeContacts",
            json!({"from_contact": survivor, "to_contact": retired}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply,
        json!({"status": true, "message": "Contacts merged successfully"})
    );
    let members = app.customers(json!({"fulldata": true})).await;
    assert_eq!(members.len(), 1);
    let ana = &members[0];
    assert_eq!(ana["id"], survivor);
    assert_eq!(ana["firstname"], "Ana");
    assert_eq!(ana["user_id"], "u7");
    assert_eq!(ana["phone"], "+14155552671");
    assert_eq!(ana["city"], "Austin");
    assert_eq!(ana["zip"], "75001");
    assert_eq!(ana["tags"], json!(["vip", "yoga"]));
    assert_eq!(ana["custom"], json!({"shoe": 39, "locker": 3}));
}

#[tokio::test]
async fn the_retired_id_keeps_resolving_to_the_survivor() {
    let app = TestApp::spawn().await;
    let a = app.new_contact(contact("A", json!({}))).await;
    let b = app.new_contact(contact("B", json!({}))).await;
    let c = app.new_contact(contact("C", json!({}))).await;
    app.post("mergeContacts", json!({"from_contact": b, "to_contact": c}))
        .await;

    // c was retired into b; now b is retired into a: c must follow to a.
    let (status, _) = app
        .post("mergeContacts", json!({"from_contact": a, "to_contact": b}))
        .await;

    assert_eq!(status, StatusCode::OK);
    for old in [&b, &c] {
        let found = app.customers(json!({"_id": old})).await;
        assert_eq!(found.len(), 1, "{old}");
        assert_eq!(found[0]["id"], a);
    }
    let updated = app
        .new_contact(json!({"_id": c, "first_name": "A", "last_name": "Z"}))
        .await;
    assert_eq!(updated, a, "a write by a retired id updates the survivor");
}

#[tokio::test]
async fn an_opt_out_on_either_side_wins() {
    let app = TestApp::spawn().await;
    let survivor = app
        .new_contact(contact("Ana", json!({"optin_sms": true})))
        .await;
    let retired = app
        .new_contact(contact(
            "Bob",
            json!({"optin_sms": false, "optout_email": true}),
        ))
        .await;

    app.post(
        "mergeContacts",
        json!({"from_contact": survivor, "to_contact": retired}),
    )
    .await;

    let ana = &app.customers(json!({})).await[0];
    assert_eq!(
        (ana["sms_optout"].as_u64(), ana["email_optout"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(app.members("getOptinCustomers", json!({})).await.is_empty());
}

#[tokio::test]
async fn an_opt_in_carries_over_from_the_retired_contact() {
    let app = TestApp::spawn().await;
    let survivor = app.new_contact(contact("Ana", json!({}))).await;
    let retired = app
        .new_contact(contact("Bob", json!({"optin_sms": true})))
        .await;

    app.post(
        "mergeContacts",
        json!({"from_contact": survivor, "to_contact": retired}),
    )
    .await;

    let optins = app.members("getOptinCustomers", json!({})).await;
    assert_eq!(optins.len(), 1);
    assert_eq!(optins[0]["id"], survivor);
}

#[tokio::test]
async fn merging_a_contact_with_itself_or_an_unknown_one_is_a_400() {
    let app = TestApp::spawn().await;
    let ana = app.new_contact(contact("Ana", json!({}))).await;
    let unknown = "0123456789abcdef01234567";

    for (body, field) in [
        (
            json!({"from_contact": ana, "to_contact": ana}),
            "to_contact",
        ),
        (
            json!({"from_contact": ana, "to_contact": unknown}),
            "to_contact",
        ),
        (
            json!({"from_contact": unknown, "to_contact": ana}),
            "from_contact",
        ),
        (json!({"from_contact": ana}), "to_contact"),
    ] {
        let (status, reply) = app.post("mergeContacts", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply["field"], field, "{body}");
    }
    assert_eq!(app.customers(json!({})).await.len(), 1);
}
