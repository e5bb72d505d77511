//! The outbox across crashes, and our Twilio requests against Twilio's own API schema.

use std::{collections::HashMap, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    cli::{Served, printed_value, serve_with, signal},
    support::{
        TestDb,
        messaging::{APP_NUMBER, Messaging, SID, TOKEN},
        require_service,
        twilio::TwilioFake,
    },
};

async fn post(node: &Served, keys: &str, path: &str, mut body: Value) -> (StatusCode, Value) {
    body["app_id"] = json!(printed_value(keys, "app_id"));
    let response = crate::support::http()
        .post(format!("{}{path}", node.base))
        .header("X-API-KEY", printed_value(keys, "api_key"))
        .header("X-SECRET-KEY", printed_value(keys, "secret_key"))
        .json(&body)
        .send()
        .await
        .unwrap();
    crate::support::read(response).await
}

/// Twilio at the fake; every send queued for the workers; a short lease.
fn env(twilio: &TwilioFake) -> Vec<(&'static str, String)> {
    vec![
        ("ROSTER_SMS_PROVIDER", "twilio".into()),
        ("ROSTER_TWILIO_BASE_URL", twilio.base_url()),
        ("ROSTER_TWILIO_ACCOUNT_SID", SID.into()),
        ("ROSTER_TWILIO_AUTH_TOKEN", TOKEN.into()),
        ("ROSTER_SMS_FROM", APP_NUMBER.into()),
        ("ROSTER_INLINE_SEND_TIMEOUT_MS", "0".into()),
        ("ROSTER_WORKERS", "4".into()),
        ("ROSTER_PROVIDER_TIMEOUT_SECONDS", "2".into()),
        ("ROSTER_DELIVERY_LEASE_SECONDS", "3".into()),
        ("ROSTER_DELIVERY_POLL_MS", "50".into()),
        ("ROSTER_RETRY_SCHEDULE", "100ms,200ms,500ms".into()),
    ]
}

#[tokio::test]
async fn a_server_killed_mid_send_loses_and_duplicates_nothing_after_restart() {
    let twilio = TwilioFake::start(SID, TOKEN).await;
    // Twilio takes the message at once but answers late: a kill now loses the answer.
    twilio.set_delay(Duration::from_millis(800));
    let db = TestDb::create().await;
    let first = serve_with(&db, &env(&twilio)).await;
    let keys = first.printed.clone();
    let v2 = "/v2/ExternalApi";
    let send_path = format!(
        "{v2}/sendSmsNotification/{}",
        printed_value(&keys, "app_id")
    );
    for i in 0..8 {
        let contact = json!({"first_name": "A", "last_name": "B", "phone": format!("+1415555030{i}"), "optin_sms": true});
        let (status, reply) = post(&first, &keys, &format!("{v2}/newContact"), contact).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    for i in 0..8 {
        let sms = json!({"to_number": format!("+1415555030{i}"), "message": format!("crash-{i}")});
        let (status, reply) = post(&first, &keys, &send_path, sms).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["delivery_status"], "queued");
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while twilio.requests() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no send started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    signal(&first.child, "-KILL").await;
    let second = serve_with(&db, &env(&twilio)).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let messages = loop {
        let (_, listed) = post(&second, &keys, &format!("{v2}/getMessages"), json!({})).await;
        let members = listed["members"].as_array().unwrap().clone();
        if members.len() == 8 && members.iter().all(|m| m["status"] == "sent") {
            break members;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all sent: {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let delivered = twilio.delivered();
    let mut bodies: Vec<_> = delivered.iter().map(|s| s.body.clone()).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        (0..8).map(|i| format!("crash-{i}")).collect::<Vec<_>>(),
        "each once"
    );
    assert!(
        twilio.requests() > 8,
        "the kill hit sends in flight, which were re-sent: {} requests",
        twilio.requests()
    );
    // Each re-send carried its message's id, so Twilio answered with the first sid.
    let sids: HashMap<_, _> = delivered
        .iter()
        .map(|s| (s.idempotency_token.clone().unwrap(), s.sid.clone()))
        .collect();
    for message in &messages {
        let id = message["_id"].as_str().unwrap();
        assert_eq!(
            message["service_message_id"].as_str(),
            sids.get(id).map(String::as_str)
        );
    }
}

#[tokio::test]
async fn our_requests_match_twilios_published_api() {
    let Some(prism) = require_service(
        "TEST_TWILIO_PRISM_URL",
        "our_requests_match_twilios_published_api",
    ) else {
        return;
    };
    let m = Messaging::start_with(|d| d.defaults.twilio_base_url = Some(prism.clone())).await;
    m.opted_in("Ana", "+14155550310").await;

    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550310", "message": "Schema-checked hello"}))
        .await;

    // Prism validates auth, the path's AccountSid, the content type and the form fields
    // against Twilio's OpenAPI document, answering 401/415/422 to a request that strays.
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["delivery_status"], "sent", "{reply}");
    let sid = reply["service_message_id"].as_str().unwrap();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");

    // The mock does check: the same request without credentials is refused.
    let unauthenticated = crate::support::http()
        .post(format!("{prism}/2010-04-01/Accounts/{SID}/Messages.json"))
        .form(&[("To", "+14155550310"), ("From", APP_NUMBER), ("Body", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sigterm_lets_sends_in_flight_finish_and_record_their_outcome() {
    let twilio = TwilioFake::start(SID, TOKEN).await;
    twilio.set_delay(Duration::from_millis(1500));
    let db = TestDb::create().await;
    let mut first = serve_with(&db, &env(&twilio)).await;
    let keys = first.printed.clone();
    let v2 = "/v2/ExternalApi";
    let contact =
        json!({"first_name": "A", "last_name": "B", "phone": "+14155550320", "optin_sms": true});
    post(&first, &keys, &format!("{v2}/newContact"), contact).await;
    let send_path = format!(
        "{v2}/sendSmsNotification/{}",
        printed_value(&keys, "app_id")
    );
    let (_, reply) = post(
        &first,
        &keys,
        &send_path,
        json!({"to_number": "+14155550320", "message": "drain"}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while twilio.requests() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no send started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    signal(&first.child, "-TERM").await;
    let exit = tokio::time::timeout(Duration::from_secs(30), first.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit}");

    // A node without workers only reads: the outcome must already be recorded.
    let mut reader_env = env(&twilio);
    reader_env.push(("ROSTER_WORKERS", "0".into()));
    let reader = serve_with(&db, &reader_env).await;
    let (_, listed) = post(&reader, &keys, &format!("{v2}/getMessages"), json!({})).await;
    let message = &listed["members"][0];
    assert_eq!(message["_id"], reply["_id"]);
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["attempts"], 1);
    assert_eq!(twilio.requests(), 1);
}
