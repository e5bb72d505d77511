//! Protection a public API needs (README, "Protection"): a per-app rate limit answered 429
//! with `Retry-After` and `RateLimit-*`, a bound on requests in flight answered 503 at once,
//! a request timeout answered 503, and limits on the shape of JSON bodies answered 400/413
//! naming the field. Nothing refused is written.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use roster_server::{JsonLimits, ProtectionSettings, ServerSettings};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::support::{Keys, TestApp, contact, read};

async fn spawn(protection: ProtectionSettings) -> TestApp {
    TestApp::spawn_with(ServerSettings {
        protection,
        ..ServerSettings::default()
    })
    .await
}

/// One request per second on average, three back to back; nothing else limited.
fn tiny_rate() -> ProtectionSettings {
    ProtectionSettings {
        rate_per_second: 1,
        rate_burst: 3,
        ..ProtectionSettings::off()
    }
}

/// One request in flight at a time; nothing else limited.
fn one_slot() -> ProtectionSettings {
    ProtectionSettings {
        max_concurrent_requests: 1,
        ..ProtectionSettings::off()
    }
}

/// getCustomers as `keys`, keeping the headers.
async fn list_as(app: &TestApp, keys: &Keys) -> Response {
    app.client
        .post(app.url("/v2/ExternalApi/getCustomers"))
        .header("X-API-KEY", &keys.api_key)
        .header("X-SECRET-KEY", &keys.secret_key)
        .json(&json!({"app_id": keys.app_id}))
        .send()
        .await
        .expect("request")
}

/// Sends requests as `keys` until one is refused (at most 30); the refusal.
async fn spend_budget(app: &TestApp, keys: &Keys) -> Response {
    for _ in 0..30 {
        let response = list_as(app, keys).await;
        if response.status() != StatusCode::OK {
            return response;
        }
    }
    panic!("30 requests at a rate limit of 1/s never got a 429");
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_app_over_its_rate_limit_gets_a_429_with_headers_and_passes_after_retry_after() {
    let app = spawn(tiny_rate()).await;

    let refused = spend_budget(&app, &app.keys).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header(&refused, "ratelimit-limit"), "3");
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    assert_eq!(header(&refused, "ratelimit-reset"), retry_after.to_string());
    let (_, body) = read(refused).await;
    assert_eq!(body["status"], "error");
    tokio::time::sleep(Duration::from_millis(retry_after * 1000 + 300)).await;
    assert_eq!(list_as(&app, &app.keys).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn allowed_answers_say_what_is_left_of_the_budget_on_v2_and_v1_alike() {
    let app = spawn(tiny_rate()).await;

    let first = list_as(&app, &app.keys).await;
    assert_eq!(first.status(), StatusCode::OK);
    // A fresh bucket of 3 with one request taken: 2 left, full again in 1 s at 1/s.
    assert_eq!(header(&first, "ratelimit-limit"), "3");
    assert_eq!(header(&first, "ratelimit-remaining"), "2");
    assert_eq!(header(&first, "ratelimit-reset"), "1");
    // The legacy endpoints carry their keys in the body; their answers count the same.
    let legacy = app
        .client
        .post(app.url("/v1/ExternalApi/getOptinCustomers"))
        .json(&json!({"api_key": app.keys.api_key, "secret_key": app.keys.secret_key}))
        .send()
        .await
        .expect("request");
    assert_eq!(legacy.status(), StatusCode::OK);
    assert_eq!(header(&legacy, "ratelimit-limit"), "3");
    let left: u32 = header(&legacy, "ratelimit-remaining").parse().unwrap();
    assert!(
        left < 3,
        "the legacy request took from the same bucket: {left} left"
    );

    let wrong_secret = Keys {
        secret_key: "wrong".into(),
        ..app.keys.clone()
    };
    let refused = list_as(&app, &wrong_secret).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("ratelimit-remaining").is_none());
}

#[tokio::test]
async fn without_a_rate_limit_answers_carry_no_rate_limit_headers() {
    let app = spawn(ProtectionSettings::off()).await;

    let answer = list_as(&app, &app.keys).await;

    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers().get("ratelimit-limit").is_none());
}

#[tokio::test]
async fn one_app_spending_its_budget_leaves_other_apps_and_wrong_keys_cost_nothing() {
    let app = spawn(tiny_rate()).await;
    let other = app.create_app("Studio B").await;
    let wrong_secret = Keys {
        secret_key: "wrong".into(),
        ..app.keys.clone()
    };

    for _ in 0..10 {
        assert_eq!(
            list_as(&app, &wrong_secret).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The ten refused requests spent nothing: the whole burst is still there.
    for _ in 0..3 {
        assert_eq!(list_as(&app, &app.keys).await.status(), StatusCode::OK);
    }
    let refused = spend_budget(&app, &app.keys).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);

    assert_eq!(list_as(&app, &other).await.status(), StatusCode::OK);
}

/// A request whose headers promise a body that never finishes arriving: it holds its
/// request slot until the connection closes.
async fn hold_request(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /v2/ExternalApi/newContact HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         X-API-KEY: {}\r\nX-SECRET-KEY: {}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n\
         {{\"first_name\": \"Held\", ",
        app.addr, app.keys.api_key, app.keys.secret_key
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// The status line and body of the answer to a held request.
async fn answer_of(mut stream: TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 30 s")
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn past_the_concurrency_bound_requests_get_a_503_at_once_and_ops_endpoints_still_answer() {
    let app = spawn(one_slot()).await;
    let held = hold_request(&app).await;

    let mut refused = None;
    for _ in 0..100 {
        let response = list_as(&app, &app.keys).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a 503 while the only slot is held");
    assert_eq!(header(&refused, "retry-after"), "1");
    let (_, body) = read(refused).await;
    assert_eq!(body["status"], "error");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // The public pages have slots of their own.
    let page = app
        .client
        .get(app.url("/forms/no-such-form"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);

    drop(held);
    let mut freed = false;
    for _ in 0..100 {
        if list_as(&app, &app.keys).await.status() == StatusCode::OK {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "the slot came back once the held request ended");
    assert!(app.customers(json!({})).await.is_empty());
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_gets_a_503_and_writes_nothing() {
    let app = spawn(ProtectionSettings {
        request_timeout: Duration::from_millis(300),
        ..ProtectionSettings::off()
    })
    .await;

    let (status, body) = answer_of(hold_request(&app).await).await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "error");
    assert!(app.customers(json!({})).await.is_empty());
}

/// Holds the database's write lock from outside the server (SQLite: `BEGIN IMMEDIATE`;
/// PostgreSQL: the contacts table locked against writes) until dropped.
enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(url: &str) -> WriteLock {
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
            WriteLock::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE contacts IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            WriteLock::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            WriteLock::Sqlite(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
            WriteLock::Postgres(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
        }
    }
}

/// The request times out while its write waits for the database; the write is not cut
/// off half-way but runs to its commit once the database is free, whole.
#[tokio::test]
async fn a_write_cut_off_by_the_timeout_still_commits_whole() {
    let app = spawn(ProtectionSettings {
        request_timeout: Duration::from_millis(500),
        ..ProtectionSettings::off()
    })
    .await;
    let lock = WriteLock::take(&app.db.url).await;

    let (status, reply) = app
        .post(
            "newContact",
            contact(
                "Ana",
                json!({"user_id": "u1", "tags": "vip, yoga", "shoe": 39}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reply}");
    assert_eq!(reply["status"], "error");
    lock.release().await;

    // Waits (up to 10 s, far past the lock wait) for the write to land, whole.
    let mut members = Vec::new();
    for _ in 0..100 {
        members = app.customers(json!({"fulldata": true})).await;
        if !members.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let [ana] = &members[..] else {
        panic!("the cut-off write never committed: {members:?}");
    };
    assert_eq!(ana["user_id"], "u1", "{ana}");
    assert_eq!(ana["tags"], json!(["vip", "yoga"]), "{ana}");
    assert_eq!(ana["custom"], json!({"shoe": 39}), "{ana}");
}

fn event(extra: Value) -> Value {
    let mut body =
        json!({"user_id": "u1", "id": "e1", "event_type": "visit", "event_date": "2025-03-01"});
    if let (Value::Object(base), Value::Object(extra)) = (&mut body, extra) {
        base.extend(extra);
    }
    body
}

fn nested(levels: usize) -> Value {
    (1..levels).fold(json!({"deep": true}), |inner, _| json!({ "a": inner }))
}

#[tokio::test]
async fn bodies_past_the_json_limits_are_refused_naming_the_field_and_nothing_is_written() {
    let app = spawn(ProtectionSettings::off()).await;
    let wide: serde_json::Map<String, Value> =
        (0..300).map(|i| (format!("k{i}"), json!(i))).collect();
    let many: Vec<Value> = (0..1001).map(|i| json!({ "n": i })).collect();
    let tags: Vec<String> = (0..1001).map(|i| format!("t{i}")).collect();
    let cases = [
        (
            "newEvent",
            event(json!({"event_data": nested(40)})),
            StatusCode::BAD_REQUEST,
            "event_data.a.a",
        ),
        (
            "newContact",
            contact("Ana", json!({"note": "x".repeat(17 * 1024)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "note",
        ),
        (
            "newEvent",
            event(json!({"event_data": {"staff": "y".repeat(17 * 1024)}})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "event_data.staff",
        ),
        (
            "newEvent",
            event(json!({ "event_data": many })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "event_data",
        ),
        (
            "newEvent",
            event(json!({ "event_data": wide })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "event_data",
        ),
        (
            "newContact",
            contact("Ana", json!({ "tags": tags })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "tags",
        ),
    ];

    for (endpoint, body, expected, field) in cases {
        let (status, reply) = app.post(endpoint, body).await;
        assert_eq!(status, expected, "{endpoint} {field}: {reply}");
        assert_eq!(reply["status"], "error");
        let named = reply["field"].as_str().unwrap_or_default();
        assert!(named.starts_with(field), "{field}: {reply}");
    }

    assert!(app.customers(json!({})).await.is_empty());
}

#[tokio::test]
async fn the_json_limits_are_the_configured_ones() {
    let app = spawn(ProtectionSettings {
        json: JsonLimits {
            max_array_items: 3,
            ..JsonLimits::default()
        },
        ..ProtectionSettings::off()
    })
    .await;

    let refused = app
        .post(
            "newEvent",
            event(json!({"event_data": {"rooms": [1, 2, 3, 4]}})),
        )
        .await;
    assert_eq!(refused.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", refused.1);
    assert_eq!(refused.1["field"], "event_data.rooms");
    assert!(
        refused.1["message"]
            .as_str()
            .unwrap()
            .contains("more than 3 items"),
        "{}",
        refused.1
    );
    let fits = app
        .post(
            "newEvent",
            event(json!({"event_data": {"rooms": [1, 2, 3]}})),
        )
        .await;
    assert_eq!(fits.0, StatusCode::OK, "{}", fits.1);
}

/// The hosted form page takes form-encoded bodies from anyone: more than 256 parameters,
/// or a value past 16 KiB, is a 413 before anything is decoded or stored.
#[tokio::test]
async fn form_bodies_past_the_limits_are_refused_and_nothing_is_stored() {
    let app = spawn(ProtectionSettings::off()).await;
    let (status, reply) = app
        .post(
            "newForm",
            json!({"id": "signup", "name": "Sign-up", "fields": [
                {"name": "first_name", "label": "First name", "type": "text", "required": true},
                {"name": "email", "label": "Email", "type": "email", "required": true}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let form = reply["_id"].as_str().unwrap().to_string();
    let valid = [("first_name", "Ana"), ("email", "ana@example.com")];
    let many: Vec<(String, String)> = valid
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain((0..300).map(|i| (format!("extra{i}"), "x".to_string())))
        .collect();
    let long = vec![
        ("first_name".to_string(), "y".repeat(17 * 1024)),
        ("email".to_string(), "ana@example.com".to_string()),
    ];

    for (what, fields) in [("300 parameters", many), ("a 17 KiB value", long)] {
        let response = app
            .client
            .post(app.url(&format!("/forms/{form}")))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{what}");
    }

    assert!(app.customers(json!({})).await.is_empty());
    assert!(
        app.members("getFormSubmissions", json!({"form_id": form}))
            .await
            .is_empty()
    );
}

/// Anyone can post a slow body to a public form page; that must not take the slots of
/// the keyed API.
#[tokio::test]
async fn slow_bodies_on_public_pages_do_not_take_the_apis_slots() {
    let app = spawn(one_slot()).await;
    let mut held = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /forms/no-such-form HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\
         Connection: close\r\n\r\nfirst_name=Held&",
        app.addr
    );
    held.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let response = list_as(&app, &app.keys).await;

    assert_eq!(response.status(), StatusCode::OK);
    drop(held);
}
