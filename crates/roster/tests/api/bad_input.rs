//! Bad input is a 4xx in the contract's error style, names the field, and writes nothing.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::support::{TestApp, contact};

#[tokio::test]
async fn each_bad_new_contact_is_a_400_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"last_name": "Lopez"}), "first_name"),
        (json!({"first_name": "Ana"}), "last_name"),
        (
            json!({"first_name": "", "last_name": "Lopez"}),
            "first_name",
        ),
        (
            json!({"first_name": {"a": 1}, "last_name": "Lopez"}),
            "first_name",
        ),
        (
            json!({"first_name": ["Ana"], "last_name": "Lopez"}),
            "first_name",
        ),
        (contact("Ana", json!({"email": "not-an-email"})), "email"),
        (contact("Ana", json!({"email": "ana@localhost"})), "email"),
        (contact("Ana", json!({"phone": "12345"})), "phone"),
        (contact("Ana", json!({"phone": true})), "phone"),
        (contact("Ana", json!({"dob": "1990-02-30"})), "dob"),
        (contact("Ana", json!({"dob": "01/02/1990"})), "dob"),
        (
            contact("Ana", json!({"created_date": "2024-01-01"})),
            "created_date",
        ),
        (contact("Ana", json!({"optin_sms": "maybe"})), "optin_sms"),
        (contact("Ana", json!({"optout_email": 7})), "optout_email"),
        (
            contact("Ana", json!({"tag_action": "toggle", "tags": "vip"})),
            "tag_action",
        ),
        (contact("Ana", json!({"tags": [1, 2]})), "tags"),
        (contact("Ana", json!({"_id": "xyz"})), "_id"),
        (contact("Ana", json!({"favorites": ["spin"]})), "favorites"),
        (contact("Ana", json!({"profile": {"a": 1}})), "profile"),
        (contact("Ana", json!({"city": "x".repeat(2000)})), "city"),
        (
            json!({"first_name": "A\u{0}na", "last_name": "Lopez"}),
            "first_name",
        ),
        (contact("Ana", json!({"user_id": "u\u{1}"})), "user_id"),
        (contact("Ana", json!({"shoe": "size\u{0}"})), "shoe"),
        (
            contact(
                "Ana",
                json!({"tags": (0..101).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",")}),
            ),
            "tags",
        ),
        (contact("Ana", json!({"tags": ["ok", "a,b"]})), "tags"),
        (contact("Ana", json!({"tags": "x".repeat(101)})), "tags"),
        (
            json!({"app_id": null, "first_name": "Ana", "last_name": "Lopez"}),
            "app_id",
        ),
    ];
    for (body, field) in cases {
        let (status, reply) = app.post("newContact", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["status"], "error", "{body}");
        assert_eq!(reply["field"], field, "{body}: {reply}");
        assert!(
            reply["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    assert!(
        app.customers(json!({})).await.is_empty(),
        "nothing was written"
    );
    let attributes = app.members("getAttributes", json!({})).await;
    assert!(
        attributes.iter().all(|a| a["source"] == "system"),
        "no custom attribute was catalogued"
    );
}

#[tokio::test]
async fn each_bad_list_request_is_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        ("getCustomers", json!({"limit": 0}), "limit"),
        ("getCustomers", json!({"limit": 1001}), "limit"),
        ("getCustomers", json!({"limit": "ten"}), "limit"),
        ("getCustomers", json!({"limit": 2.5}), "limit"),
        ("getCustomers", json!({"offset": -1}), "offset"),
        (
            "getCustomers",
            json!({"updated_since": "yesterday"}),
            "updated_since",
        ),
        (
            "getCustomers",
            json!({"event_since_date": "2024-13-01"}),
            "event_since_date",
        ),
        ("getCustomers", json!({"email": "nope"}), "email"),
        ("getCustomers", json!({"phone": "123"}), "phone"),
        ("getCustomers", json!({"fulldata": "very"}), "fulldata"),
        ("getOptinCustomers", json!({"limit": -5}), "limit"),
        ("getOptoutCustomers", json!({"type": "fax"}), "type"),
        ("removeContact", json!({}), "id"),
        ("removeContact", json!({"id": "123"}), "id"),
        (
            "mergeContacts",
            json!({"to_contact": "0123456789abcdef01234567"}),
            "from_contact",
        ),
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
}

#[tokio::test]
async fn malformed_bodies_are_4xx_in_the_error_style() {
    let app = TestApp::spawn().await;
    let url = app.url("/v2/ExternalApi/newContact");
    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(&url)
            .header("X-API-KEY", &app.keys.api_key)
            .header("X-SECRET-KEY", &app.keys.secret_key)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let cases = [
        (
            "{\"first_name\": ",
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        ("not json", "application/json", StatusCode::BAD_REQUEST),
        ("[1, 2]", "application/json", StatusCode::BAD_REQUEST),
        ("\"text\"", "application/json", StatusCode::BAD_REQUEST),
        ("{} {}", "application/json", StatusCode::BAD_REQUEST),
        ("", "application/json", StatusCode::BAD_REQUEST),
        (
            "first_name=Ana",
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("{}", "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ];
    for (body, content_type, expected) in cases {
        let (status, reply) = crate::support::read(send(body, content_type).await.unwrap()).await;
        assert_eq!(status, expected, "{body:?} as {content_type}: {reply}");
        assert_eq!(reply["status"], "error", "{body:?}");
    }
    assert!(app.customers(json!({})).await.is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let settings = roster_server::ServerSettings {
        max_body_bytes: 4096,
        ..Default::default()
    };
    let app = TestApp::spawn_with(settings).await;
    let big = contact(
        "Ana",
        json!({"note": "x".repeat(3000), "note2": "y".repeat(3000)}),
    );

    let (status, reply) = app.post("newContact", big).await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    assert_eq!(reply["status"], "error");
    assert!(app.customers(json!({})).await.is_empty());
}

#[tokio::test]
async fn credentials_sent_in_the_body_are_never_stored_as_attributes() {
    let app = TestApp::spawn().await;

    app.new_contact(contact("Ana", json!({"api_key": "k", "secret_key": "s"})))
        .await;

    assert_eq!(
        app.customers(json!({"fulldata": true})).await[0]["custom"],
        json!({})
    );
}
