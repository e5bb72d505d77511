//! The contact endpoints' happy paths (contract Part A and B).

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, contact};

#[tokio::test]
async fn a_new_contact_is_listed_with_every_field_it_was_given() {
    let app = TestApp::spawn().await;
    let id = app
        .new_contact(json!({
            "first_name": "Ana", "last_name": "Lopez", "email": "Ana@Example.com",
            "phone": "(415) 555-2671", "address": "1 Main St", "city": "Austin", "state": "TX",
            "zip": 78701, "source": "website", "user_id": 42, "dob": "1990-04-01",
            "created_date": "2024-01-02 03:04:05", "gender": "female", "type": "member",
            "status": "active", "location": "Downtown", "tags": "vip, yoga"
        }))
        .await;

    let members = app.customers(json!({"fulldata": true})).await;

    assert_eq!(members.len(), 1);
    let ana = &members[0];
    assert_eq!(ana["id"], id);
    assert_eq!(ana["user_id"], "42");
    assert_eq!(
        (ana["firstname"].as_str(), ana["lastname"].as_str()),
        (Some("Ana"), Some("Lopez"))
    );
    assert_eq!(ana["email"], "Ana@Example.com");
    assert_eq!(ana["phone"], "+14155552671");
    assert_eq!(ana["zip"], "78701");
    assert_eq!(ana["dob"], "1990-04-01");
    assert_eq!(ana["type"], "member");
    assert_eq!(ana["created_date"], "2024-01-02T03:04:05.000Z");
    assert_eq!(ana["tags"], json!(["vip", "yoga"]));
    assert_eq!(
        (ana["email_optout"].as_u64(), ana["sms_optout"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(ana["visits"], json!([]));
}

#[tokio::test]
async fn without_fulldata_only_the_summary_fields_are_returned() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"city": "Austin"})))
        .await;

    let members = app.customers(json!({})).await;

    assert!(members[0].get("city").is_none());
    assert!(members[0].get("custom").is_none());
    assert!(members[0].get("events").is_none());
    let with_events = app.customers(json!({"events": true})).await;
    assert_eq!(with_events[0]["events"], json!([]));
}

#[tokio::test]
async fn an_update_keeps_the_fields_it_does_not_mention() {
    let app = TestApp::spawn().await;
    let id = app
        .new_contact(contact(
            "Ana",
            json!({"user_id": "u1", "city": "Austin", "zip": "78701"}),
        ))
        .await;

    let again = app
        .new_contact(contact("Ana", json!({"user_id": "u1", "zip": "78702"})))
        .await;

    assert_eq!(again, id);
    let ana = &app.customers(json!({"fulldata": true})).await[0];
    assert_eq!(
        (ana["city"].as_str(), ana["zip"].as_str()),
        (Some("Austin"), Some("78702"))
    );
}

#[tokio::test]
async fn custom_attributes_round_trip_and_are_catalogued() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"user_id": "u1", "Favorite class": "Spin", "shoe": 39, "vip": true, "renewal": "2025-01-31"}))).await;
    app.new_contact(contact(
        "Ana",
        json!({"user_id": "u1", "shoe": null, "locker": 12}),
    ))
    .await;

    let ana = &app.customers(json!({"fulldata": true})).await[0];
    assert_eq!(
        ana["custom"],
        json!({"Favorite class": "Spin", "vip": true, "renewal": "2025-01-31", "locker": 12})
    );

    let attributes = app.members("getAttributes", json!({})).await;
    let find = |name: &str| attributes.iter().find(|a| a["name"] == name).cloned();
    assert_eq!(find("Favorite class").unwrap()["type"], "string");
    assert_eq!(find("renewal").unwrap()["type"], "date");
    assert_eq!(find("vip").unwrap()["source"], "custom");
    assert_eq!(find("email").unwrap()["source"], "system");
    assert_eq!(find("dob").unwrap()["type"], "date");
}

#[tokio::test]
async fn tags_are_added_and_removed() {
    let app = TestApp::spawn().await;
    let body = |tags: &str, action: &str| {
        contact(
            "Ana",
            json!({"user_id": "u1", "tags": tags, "tag_action": action}),
        )
    };
    app.new_contact(body("vip,yoga", "add")).await;
    app.new_contact(body("Spin, VIP", "add")).await;
    assert_eq!(
        app.customers(json!({})).await[0]["tags"],
        json!(["vip", "yoga", "Spin"])
    );

    app.new_contact(body("YOGA,unknown", "remove")).await;

    assert_eq!(
        app.customers(json!({})).await[0]["tags"],
        json!(["vip", "Spin"])
    );
}

#[tokio::test]
async fn sms_opt_in_and_out_show_in_the_consent_lists() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"user_id": "a", "optin_sms": true})))
        .await;
    let bob = app
        .new_contact(contact("Bob", json!({"user_id": "b", "optin_sms": true})))
        .await;
    let cy = app
        .new_contact(contact("Cy", json!({"user_id": "c", "optout_email": true})))
        .await;

    app.new_contact(contact("Bob", json!({"user_id": "b", "optin_sms": false})))
        .await;

    let optins = app.members("getOptinCustomers", json!({})).await;
    assert_eq!(optins.len(), 1);
    assert_eq!(optins[0]["id"], ana);
    assert!(optins[0]["add_date"].as_str().unwrap().ends_with('Z'));
    let ids = |members: Vec<serde_json::Value>| {
        members
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app
            .members("getOptoutCustomers", json!({"type": "sms"}))
            .await),
        [bob.as_str()]
    );
    assert_eq!(
        ids(app
            .members("getOptoutCustomers", json!({"type": "email"}))
            .await),
        [cy.as_str()]
    );
    let both = app.members("getOptoutCustomers", json!({})).await;
    assert_eq!(ids(both.clone()), [bob, cy]);
    assert_eq!(
        (
            both[0]["sms_optout"].as_u64(),
            both[0]["email_optout"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert!(both[0]["optout_date"].is_string());
}

#[tokio::test]
async fn clearing_an_email_opt_out_removes_the_contact_from_the_list() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"user_id": "a", "optout_email": "1"})))
        .await;
    app.new_contact(contact(
        "Ana",
        json!({"user_id": "a", "optout_email": false}),
    ))
    .await;

    assert!(
        app.members("getOptoutCustomers", json!({"type": "email"}))
            .await
            .is_empty()
    );
    assert_eq!(app.customers(json!({})).await[0]["email_optout"], 0);
}

#[tokio::test]
async fn removing_a_contact_deletes_it_and_a_second_removal_is_a_400() {
    let app = TestApp::spawn().await;
    let ana = app.new_contact(contact("Ana", json!({}))).await;
    let bob = app.new_contact(contact("Bob", json!({}))).await;

    let (status, reply) = app.post("removeContact", json!({"id": ana})).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply, json!({"result": "success"}));
    let left = app.customers(json!({})).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], bob);
    let (again, reply) = app.post("removeContact", json!({"id": ana})).await;
    assert_eq!(again, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(reply["field"], "id");
}

#[tokio::test]
async fn filters_combine_with_and() {
    let app = TestApp::spawn().await;
    app.new_contact(contact(
        "Ana",
        json!({"email": "ana@example.com", "user_id": "a"}),
    ))
    .await;
    app.new_contact(contact(
        "Ana",
        json!({"email": "ana@example.com", "phone": "4155552671", "user_id": "b"}),
    ))
    .await;

    assert_eq!(
        app.customers(json!({"email": "ANA@example.com"}))
            .await
            .len(),
        2
    );
    assert_eq!(
        app.customers(json!({"email": "ana@example.com", "phone": "+1 415 555 2671"}))
            .await
            .len(),
        1
    );
    assert_eq!(
        app.customers(json!({"email": "ana@example.com", "user_id": "a"}))
            .await
            .len(),
        1
    );
    assert!(
        app.customers(json!({"user_id": "a", "phone": "4155552671"}))
            .await
            .is_empty()
    );
    assert_eq!(
        app.customers(json!({"updated_since": "2000-01-01"}))
            .await
            .len(),
        2
    );
    assert!(
        app.customers(json!({"updated_since": "2999-01-01"}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn walking_the_pages_sees_each_of_2500_contacts_exactly_once() {
    let app = TestApp::spawn().await;
    let mut created = HashSet::new();
    for chunk in (0..2500).collect::<Vec<_>>().chunks(50) {
        let requests = chunk
            .iter()
            .map(|i| app.new_contact(contact(&format!("N{i}"), json!({"user_id": i}))));
        created.extend(join_all(requests).await);
    }

    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = app
            .customers(json!({"limit": 1000, "offset": seen.len()}))
            .await;
        pages += 1;
        let last = page.len() < 1000;
        seen.extend(
            page.into_iter()
                .map(|m| m["id"].as_str().unwrap().to_string()),
        );
        if last {
            break;
        }
    }

    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 2500);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);
    let small = app.customers(json!({"limit": 7, "offset": 2495})).await;
    assert_eq!(small.len(), 5, "a short page is the last");
}

#[tokio::test]
async fn the_v1_lists_take_the_keys_in_the_body() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"optin_sms": true})))
        .await;
    let url = app.url("/v1/ExternalApi/getOptinCustomers");
    let body = json!({"api_key": app.keys.api_key, "secret_key": app.keys.secret_key});

    let (status, reply) =
        crate::support::read(app.client.post(&url).json(&body).send().await.unwrap()).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["members"][0]["id"], ana);
    let wrong = json!({"api_key": app.keys.api_key, "secret_key": "nope"});
    let response = app.client.post(&url).json(&wrong).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
