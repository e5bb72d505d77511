//! The contract's identity rule: `_id`, then `user_id`, then email + first name, then
//! phone + first name; otherwise newContact creates.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, contact};

#[tokio::test]
async fn a_known_user_id_updates_that_contact() {
    let app = TestApp::spawn().await;
    let id = app
        .new_contact(contact("Ana", json!({"user_id": "u1"})))
        .await;

    let again = app
        .new_contact(json!({"first_name": "Anna", "last_name": "Smith", "user_id": "u1"}))
        .await;

    assert_eq!(again, id);
    let members = app.customers(json!({})).await;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["firstname"], "Anna");
}

#[tokio::test]
async fn email_with_the_same_first_name_matches_case_insensitively() {
    let app = TestApp::spawn().await;
    let id = app
        .new_contact(contact("Ana", json!({"email": "ana@example.com"})))
        .await;

    let again = app
        .new_contact(contact(
            "ANA",
            json!({"email": "Ana@Example.COM", "user_id": "u9"}),
        ))
        .await;

    assert_eq!(again, id);
    assert_eq!(
        app.customers(json!({})).await[0]["user_id"],
        "u9",
        "the match takes the request's user_id"
    );
}

#[tokio::test]
async fn email_with_another_first_name_is_another_contact() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"email": "family@example.com"})))
        .await;

    let bob = app
        .new_contact(contact("Bob", json!({"email": "family@example.com"})))
        .await;

    assert_ne!(ana, bob);
    assert_eq!(app.customers(json!({})).await.len(), 2);
}

#[tokio::test]
async fn email_does_not_match_a_contact_with_a_different_user_id() {
    let app = TestApp::spawn().await;
    let first = app
        .new_contact(contact(
            "Ana",
            json!({"email": "ana@example.com", "user_id": "u1"}),
        ))
        .await;

    let second = app
        .new_contact(contact(
            "Ana",
            json!({"email": "ana@example.com", "user_id": "u2"}),
        ))
        .await;

    assert_ne!(first, second);
}

#[tokio::test]
async fn phone_with_the_same_first_name_matches_in_any_notation() {
    let app = TestApp::spawn().await;
    let id = app
        .new_contact(contact("Ana", json!({"phone": "+1 (415) 555-2671"})))
        .await;

    let again = app
        .new_contact(contact(
            "ana",
            json!({"phone": "4155552671", "city": "Austin"}),
        ))
        .await;

    assert_eq!(again, id);
    assert_eq!(
        app.customers(json!({"fulldata": true})).await[0]["city"],
        "Austin"
    );
}

#[tokio::test]
async fn nothing_matching_creates_a_new_contact() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"phone": "4155552671"})))
        .await;

    let other = app
        .new_contact(contact("Ana", json!({"phone": "4155552672"})))
        .await;

    assert_ne!(ana, other);
    assert_eq!(app.customers(json!({})).await.len(), 2);
}

#[tokio::test]
async fn an_id_updates_exactly_that_contact() {
    let app = TestApp::spawn().await;
    let ana = app
        .new_contact(contact("Ana", json!({"email": "ana@example.com"})))
        .await;

    let again = app.new_contact(json!({"_id": ana, "first_name": "Ana", "last_name": "Smith", "email": "new@example.com"})).await;

    assert_eq!(again, ana);
    assert_eq!(
        app.customers(json!({"_id": ana})).await[0]["email"],
        "new@example.com"
    );
}

#[tokio::test]
async fn an_unknown_id_is_a_400_on_writes_and_an_empty_list_on_reads() {
    let app = TestApp::spawn().await;
    let unknown = "0123456789abcdef01234567";

    let (status, reply) = app
        .post("newContact", contact("Ana", json!({"_id": unknown})))
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["field"], "_id");
    assert!(app.customers(json!({"_id": unknown})).await.is_empty());
    assert!(app.customers(json!({"_id": "not-an-id"})).await.is_empty());
    assert!(
        app.customers(json!({})).await.is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn a_user_id_cannot_be_given_to_a_second_contact() {
    let app = TestApp::spawn().await;
    app.new_contact(contact("Ana", json!({"user_id": "u1"})))
        .await;
    let bob = app
        .new_contact(contact("Bob", json!({"user_id": "u2"})))
        .await;

    let (status, reply) = app
        .post(
            "newContact",
            contact("Bob", json!({"_id": bob, "user_id": "u1"})),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(reply["field"], "user_id");
    assert_eq!(app.customers(json!({"_id": bob})).await[0]["user_id"], "u2");
}

#[tokio::test]
async fn concurrent_writes_of_one_identity_end_as_one_contact() {
    let app = TestApp::spawn().await;
    let body = |i: usize| {
        contact(
            "Ana",
            json!({"email": "ana@example.com", "city": format!("City {i}")}),
        )
    };

    let ids = futures::future::join_all((0..20).map(|i| app.new_contact(body(i)))).await;

    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_eq!(app.customers(json!({})).await.len(), 1);
}
