//! Operations: health, readiness, metrics, OpenAPI, request ids, unknown paths.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(
        response
            .headers()
            .get("x-request-id")
            .is_some_and(|v| !v.is_empty())
    );

    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        given.headers()["x-request-id"],
        "trace-me-42",
        "a caller's id is kept"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    app.post("getCustomers", json!({})).await;
    app.post("getCustomers", json!({"limit": 0})).await;

    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let line = |status: &str| {
        text.lines().any(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/v2/ExternalApi/getCustomers\"")
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(line("200") && line("400"), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "latency is a histogram"
    );
}

#[tokio::test]
async fn the_openapi_document_covers_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let paths = doc["paths"].as_object().expect("paths");
    for endpoint in [
        "newContact",
        "getCustomers",
        "getOptinCustomers",
        "getOptoutCustomers",
        "removeContact",
        "mergeContacts",
        "getAttributes",
        "newEvent",
        "getCustomerEvents",
        "getAttributeEvents",
        "addMemberships",
        "newLocation",
        "getLocations",
        "newClass",
        "removeClass",
        "getClassSchedule",
        "sendSmsNotification/{app_id}",
        "sendEmailNotification/{app_id}",
        "optin",
        "getMessages",
        "getConsentHistory",
    ] {
        let path = format!("/v2/ExternalApi/{endpoint}");
        assert!(paths[&path]["post"].is_object(), "{path} missing");
    }
    assert!(paths.contains_key("/v1/ExternalApi/getOptinCustomers"));
    assert!(paths["/webhooks/twilio/{app_id}/inbound"]["post"].is_object());
    assert!(paths["/webhooks/twilio/{app_id}/status"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_style() {
    let app = TestApp::spawn().await;

    let missing = app
        .client
        .post(app.url("/v2/ExternalApi/noSuchThing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["status"], "error");

    let wrong_method = app
        .client
        .get(app.url("/v2/ExternalApi/getCustomers"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        wrong_method.json::<Value>().await.unwrap()["status"],
        "error"
    );
}

#[tokio::test]
async fn a_request_in_flight_when_shutdown_begins_still_completes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let body =
        json!({"app_id": app.keys.app_id, "first_name": "Ana", "last_name": "Lopez"}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST /v2/ExternalApi/newContact HTTP/1.1\r\nhost: roster\r\ncontent-type: application/json\r\nx-api-key: {}\r\nx-secret-key: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        app.keys.api_key,
        app.keys.secret_key,
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    app.begin_shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    socket.write_all(tail.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"success\""), "{response}");
    let refused = tokio::net::TcpStream::connect(app.addr).await;
    assert!(refused.is_err(), "no new connections after shutdown");
    let contacts = app
        .store
        .find_contacts(
            &roster_domain::AppId::new(app.keys.app_id.clone()),
            &Default::default(),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(contacts.len(), 1, "the in-flight write was committed");
}
