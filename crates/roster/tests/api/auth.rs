//! Tenancy and auth (contract, "Conventions"): 401 for missing or wrong keys, 403 for
//! valid keys with another app's `app_id`, and no way for one app to touch another's data.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Keys, TestApp, contact};

const ENDPOINTS: &[&str] = &[
    "newContact",
    "getCustomers",
    "getOptinCustomers",
    "getOptoutCustomers",
    "removeContact",
    "mergeContacts",
    "getAttributes",
];

#[tokio::test]
async fn missing_or_wrong_keys_are_a_401_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let wrong_secret = Keys {
        secret_key: "wrong".into(),
        ..app.keys.clone()
    };
    let wrong_key = Keys {
        api_key: "wrong".into(),
        ..app.keys.clone()
    };

    for endpoint in ENDPOINTS {
        for keys in [&wrong_secret, &wrong_key] {
            let (status, reply) = app.post_as(keys, endpoint, contact("Ana", json!({}))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{endpoint}: {reply}");
            assert_eq!(reply["status"], "error");
        }
        let bare = app
            .client
            .post(app.url(&format!("/v2/ExternalApi/{endpoint}")))
            .json(&json!({"app_id": app.keys.app_id}));
        assert_eq!(
            bare.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{endpoint}"
        );
    }
    assert!(
        app.customers(json!({})).await.is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn valid_keys_with_another_apps_id_are_a_403_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let other = app.create_app("Studio B").await;

    for endpoint in ENDPOINTS {
        let body = contact("Ana", json!({"app_id": app.keys.app_id}));
        let (status, reply) = app.post_as(&other, endpoint, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {reply}");
    }
    assert!(
        app.customers(json!({})).await.is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn a_numeric_app_id_is_the_same_app() {
    let app = TestApp::spawn().await;
    let numeric: i64 = app.keys.app_id.parse().unwrap();

    let (status, _) = app.post("getCustomers", json!({"app_id": numeric})).await;

    assert_eq!(status, StatusCode::OK);
}

/// Rotates the app's secret as `roster apps rotate-secret` does, through the store.
async fn rotate_secret(app: &TestApp, new_secret: &str) {
    let app_id = roster_domain::AppId::new(app.keys.app_id.clone());
    app.store
        .rotate_secret(&app_id, &roster_domain::SecretHash::of(new_secret))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rotated_secret_stops_working() {
    let app = TestApp::spawn().await;
    let new_secret = "a-brand-new-secret-of-enough-length-0123456789";
    rotate_secret(&app, new_secret).await;

    let (old, _) = app.post("getCustomers", json!({})).await;
    let (new, _) = app
        .post_as(
            &Keys {
                secret_key: new_secret.into(),
                ..app.keys.clone()
            },
            "getCustomers",
            json!({}),
        )
        .await;

    assert_eq!((old, new), (StatusCode::UNAUTHORIZED, StatusCode::OK));
}

/// The server remembers checked keys for a few seconds; a new secret must not wait for
/// that memory to expire.
#[tokio::test]
async fn a_new_secret_works_at_once_although_the_old_one_was_just_used() {
    let app = TestApp::spawn().await;
    let (before, _) = app.post("getCustomers", json!({})).await;
    let new_secret = "another-brand-new-secret-of-enough-length-98765";
    rotate_secret(&app, new_secret).await;

    let new_keys = Keys {
        secret_key: new_secret.into(),
        ..app.keys.clone()
    };
    let (new, _) = app.post_as(&new_keys, "getCustomers", json!({})).await;
    let (wrong, _) = app
        .post_as(
            &Keys {
                secret_key: "not-the-secret".into(),
                ..app.keys.clone()
            },
            "getCustomers",
            json!({}),
        )
        .await;

    assert_eq!(
        (before, new, wrong),
        (StatusCode::OK, StatusCode::OK, StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn one_app_can_neither_read_nor_change_another_apps_contacts() {
    let app = TestApp::spawn().await;
    let b = app.create_app("Studio B").await;
    let ana = app
        .new_contact(contact("Ana", json!({"user_id": "u1", "email": "ana@example.com", "phone": "4155552671", "optin_sms": true, "optout_email": true, "secret": 1})))
        .await;
    let bob = app.new_contact(contact("Bob", json!({}))).await;
    let before = app.customers(json!({"fulldata": true})).await;

    // Reads through B see nothing of A's.
    for filter in [
        json!({}),
        json!({"_id": ana}),
        json!({"user_id": "u1"}),
        json!({"email": "ana@example.com"}),
        json!({"phone": "4155552671"}),
    ] {
        let (status, reply) = app.post_as(&b, "getCustomers", filter.clone()).await;
        assert_eq!(
            (status, reply["members"].clone()),
            (StatusCode::OK, json!([])),
            "{filter}"
        );
    }
    for endpoint in ["getOptinCustomers", "getOptoutCustomers"] {
        let (_, reply) = app.post_as(&b, endpoint, json!({})).await;
        assert_eq!(reply["members"], json!([]), "{endpoint}");
    }
    let (_, attributes) = app.post_as(&b, "getAttributes", json!({})).await;
    assert!(
        !members_named(&attributes, "secret"),
        "A's custom attribute is not in B's catalogue"
    );

    // Writes through B cannot reach A's contacts.
    let (status, _) = app.post_as(&b, "removeContact", json!({"id": ana})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post_as(
            &b,
            "mergeContacts",
            json!({"from_contact": ana, "to_contact": bob}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post_as(
            &b,
            "newContact",
            contact("Ana", json!({"_id": ana, "city": "Hacked"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The same identity in B is B's own new contact, not A's.
    let (status, reply) = app
        .post_as(
            &b,
            "newContact",
            contact(
                "Ana",
                json!({"user_id": "u1", "email": "ana@example.com", "city": "Elsewhere"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(reply["_id"], ana);

    assert_eq!(
        app.customers(json!({"fulldata": true})).await,
        before,
        "A's contacts are unchanged"
    );
}

fn members_named(reply: &Value, name: &str) -> bool {
    reply["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == name)
}
