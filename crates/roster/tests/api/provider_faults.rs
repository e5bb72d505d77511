//! Provider faults: timeouts, 5xx, 429 with Retry-After, connection resets, SMTP
//! temporary refusals and cut-off DATA, and providers down for a minute. Every message
//! ends sent exactly once at its provider or failed with a reason; what getMessages says
//! agrees with what the providers saw; retries keep to the schedule, never a tight loop.

use std::{collections::HashMap, time::Duration};

use futures::future::join_all;
use reqwest::StatusCode;
use roster_domain::messaging::RetrySchedule;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{
    messaging::Messaging,
    smtp::ReceivedMail,
    twilio::{Fault, Outcome},
};

/// Every message of the app, once none is queued or sending any more (bounded).
async fn settled(m: &Messaging, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let all = m.messages(json!({"limit": 1000})).await;
        let pending: Vec<_> = all
            .iter()
            .filter(|msg| msg["status"] == "queued" || msg["status"] == "sending")
            .collect();
        if pending.is_empty() {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "{} message(s) still pending after {within:?}: {pending:#?}",
            pending.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn id_of(message: &Value) -> &str {
    message["_id"].as_str().expect("_id")
}

/// Roster's message id from an email's `Message-ID: <id@domain>`.
fn roster_id(mail: &ReceivedMail) -> String {
    let header = mail.header("Message-ID").expect("a Message-ID");
    header
        .trim_start_matches('<')
        .split('@')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The invariant: each message is either sent, and then the provider accepted it exactly
/// once under its id with the provider id Roster shows, or failed with a reason and the
/// provider never accepted it. Attempts stay within the schedule.
fn assert_once_or_failed(m: &Messaging, messages: &[Value], schedule: &RetrySchedule) {
    let mut sms_by_token: HashMap<String, Vec<_>> = HashMap::new();
    for sms in m.twilio.delivered() {
        let token = sms.idempotency_token.clone().expect("a token");
        sms_by_token.entry(token).or_default().push(sms);
    }
    let mut mail_by_id: HashMap<String, Vec<ReceivedMail>> = HashMap::new();
    for mail in m.smtp.received() {
        mail_by_id.entry(roster_id(&mail)).or_default().push(mail);
    }
    let log = m.twilio.log();
    for message in messages {
        let id = id_of(message);
        let attempts = message["attempts"].as_u64().unwrap();
        assert!(
            (1..=schedule.max_attempts() as u64).contains(&attempts),
            "attempts beyond the schedule: {message}"
        );
        let accepted: usize = match message["channel"].as_str() {
            Some("sms") => {
                let requests = log
                    .iter()
                    .filter(|r| r.token.as_deref() == Some(id))
                    .count() as u64;
                assert!(
                    requests <= attempts,
                    "{requests} requests for {attempts} attempts: {message}"
                );
                let sent = sms_by_token.get(id).map(Vec::as_slice).unwrap_or_default();
                if let [sms] = sent {
                    assert_eq!(message["service_message_id"], sms.sid.as_str(), "{message}");
                    assert_eq!(message["body"], sms.body.as_str(), "{message}");
                    assert_eq!(message["to"], sms.to.as_str(), "{message}");
                }
                sent.len()
            }
            Some("email") => {
                let sent = mail_by_id.get(id).map(Vec::as_slice).unwrap_or_default();
                if let [mail] = sent {
                    assert_eq!(
                        message["service_message_id"],
                        mail.header("Message-ID").unwrap().as_str(),
                        "{message}"
                    );
                    assert_eq!(mail.rcpt_to, vec![message["to"].as_str().unwrap()]);
                }
                sent.len()
            }
            other => panic!("unexpected channel {other:?}: {message}"),
        };
        match message["status"].as_str() {
            Some("sent" | "delivered") => {
                assert_eq!(accepted, 1, "sent, so accepted exactly once: {message}")
            }
            Some("failed") => {
                assert_eq!(accepted, 0, "failed, so never accepted: {message}");
                let error = message["error"].as_str().unwrap_or_default();
                assert!(!error.is_empty(), "failed without a reason: {message}");
            }
            _ => panic!("not finished: {message}"),
        }
    }
    let ours = |id: &String| messages.iter().any(|msg| id_of(msg) == id);
    assert!(
        sms_by_token.keys().all(ours) && mail_by_id.keys().all(ours),
        "the providers accepted messages getMessages does not list"
    );
}

/// After a 429 with `Retry-After`, the message's next request came no earlier than the
/// header asked, counted from when the 429 was answered. Returns how many 429s were
/// followed by another request.
fn assert_retry_after_honoured(m: &Messaging) -> usize {
    let log = m.twilio.log();
    let mut checked = 0;
    for (i, request) in log.iter().enumerate() {
        let Outcome::Refused {
            status: 429,
            retry_after: Some(secs),
        } = request.outcome
        else {
            continue;
        };
        let answered = request.answered.expect("the 429 went out");
        let Some(next) = log[i + 1..].iter().find(|r| r.token == request.token) else {
            continue;
        };
        let waited = next.arrived.saturating_duration_since(answered);
        assert!(
            waited >= Duration::from_secs(secs),
            "retried {waited:?} after a 429 asking for {secs}s ({:?})",
            request.token
        );
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn a_batch_through_every_fault_ends_sent_once_or_failed_with_a_reason() {
    let schedule = RetrySchedule::parse("200ms,400ms,800ms,1s,1s").unwrap();
    let m = Messaging::start_with(|d| {
        d.retry = schedule.clone();
        d.inline_timeout = Duration::from_millis(300);
        d.provider_timeout = Duration::from_secs(1);
    })
    .await;
    let phones: Vec<String> = (0..50).map(|i| format!("+141555510{i:02}")).collect();
    for phone in &phones {
        m.opted_in("Ana", phone).await;
    }

    // The first requests meet these, in order; every fault costs its message one attempt.
    let sms_faults = [
        Fault::Status(500),
        Fault::Status(503),
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
        Fault::Reset,
        Fault::ResetMidResponse,
        // Processed, but the answer comes after the provider timeout: the retry must
        // not send a second SMS.
        Fault::Delay(Duration::from_millis(1500)),
        // A slow 429: Retry-After counts from the answer, not from the request.
        Fault::Late {
            delay: Duration::from_millis(800),
            then: Box::new(Fault::TooManyRequests {
                retry_after_secs: 2,
            }),
        },
        Fault::Status(500),
        Fault::Reset,
        Fault::ResetMidResponse,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        Fault::Delay(Duration::from_millis(1500)),
    ];
    let sms_fault_count = sms_faults.len();
    for fault in sms_faults {
        m.twilio.push_fault(fault);
    }
    m.smtp.fail_next(3, 451, "4.3.0 try again later");
    m.smtp.drop_next_mid_data(3);
    m.smtp
        .refuse_next_connections(2, 421, "4.3.2 too busy, come back later");
    let email_fault_count = 3 + 3 + 2;

    let sms = phones.iter().enumerate().map(|(i, phone)| {
        m.send_sms(json!({"to_number": phone, "message": format!("class {i} moved to 7pm")}))
    });
    let emails = (0..20).map(|i| {
        m.send_email(json!({"to_email": format!("member{i}@example.com"),
            "subject": format!("Schedule {i}"), "text": format!("Your plan {i} renews")}))
    });
    let (sms, emails) = tokio::join!(join_all(sms), join_all(emails));
    for (status, reply) in sms.iter().chain(&emails) {
        assert_eq!(*status, StatusCode::OK, "{reply}");
        assert!(
            reply["delivery_status"] == "sent" || reply["delivery_status"] == "queued",
            "{reply}"
        );
    }

    let messages = settled(&m, Duration::from_secs(60)).await;
    assert_eq!(messages.len(), 70);
    assert_once_or_failed(&m, &messages, &schedule);
    // A message fails only after max_attempts faults of its own: at most this many can.
    let failed = messages.iter().filter(|msg| msg["status"] == "failed");
    let (failed_sms, failed_email): (Vec<_>, Vec<_>) =
        failed.partition(|msg| msg["channel"] == "sms");
    assert!(
        failed_sms.len() <= sms_fault_count / schedule.max_attempts(),
        "{failed_sms:#?}"
    );
    assert!(
        failed_email.len() <= email_fault_count / schedule.max_attempts(),
        "{failed_email:#?}"
    );
    // Every fault was met and cost an attempt; retries followed the schedule, not a loop.
    let attempts: u64 = messages
        .iter()
        .map(|msg| msg["attempts"].as_u64().unwrap())
        .sum();
    assert!(
        attempts >= 70 + (sms_fault_count + email_fault_count) as u64,
        "{attempts}"
    );
    let log = m.twilio.log();
    for outcome in [
        Outcome::Reset,
        Outcome::AcceptedThenReset,
        Outcome::Replayed,
    ] {
        assert!(
            log.iter().any(|r| r.outcome == outcome),
            "no {outcome:?}: {log:#?}"
        );
    }
    assert!(assert_retry_after_honoured(&m) >= 2, "{log:#?}");
    assert!(m.smtp.attempts() >= 20 + 3);

    // Retries exhausted: the last reason is kept, and nothing reaches the provider.
    for _ in 0..schedule.max_attempts() {
        m.twilio.push_fault(Fault::Status(503));
    }
    m.smtp
        .fail_next(schedule.max_attempts(), 451, "4.3.0 still busy");
    let (_, doomed_sms) = m
        .send_sms(json!({"to_number": phones[0], "message": "doomed"}))
        .await;
    let (_, doomed_email) = m
        .send_email(json!({"to_email": "doomed@example.com", "subject": "s", "text": "doomed"}))
        .await;
    for (reply, says) in [(&doomed_sms, "503"), (&doomed_email, "still busy")] {
        let failed = m.wait_for_status(id_of(reply), "failed").await;
        let error = failed["error"].as_str().unwrap();
        let gave_up = format!("gave up after {} attempts", schedule.max_attempts());
        assert!(error.contains(&gave_up) && error.contains(says), "{failed}");
        assert_eq!(failed["attempts"], schedule.max_attempts());
    }
    let messages = settled(&m, Duration::from_secs(10)).await;
    assert_once_or_failed(&m, &messages, &schedule);
}

#[tokio::test]
async fn retries_exhausted_while_providers_are_down_fail_with_the_reason_and_stay_failed() {
    let schedule = RetrySchedule::parse("100ms,200ms").unwrap();
    let m = Messaging::start_with(|d| d.retry = schedule.clone()).await;
    m.opted_in("Ana", "+14155551100").await;
    m.twilio.go_down().await;
    m.smtp.go_down().await;

    let (status, sms) = m
        .send_sms(json!({"to_number": "+14155551100", "message": "nobody home"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{sms}");
    let (status, email) = m
        .send_email(json!({"to_email": "a@example.com", "subject": "s", "text": "nobody home"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{email}");
    for (reply, says) in [
        (&sms, "Twilio request failed"),
        (&email, "SMTP delivery failed"),
    ] {
        let failed = m.wait_for_status(id_of(reply), "failed").await;
        let error = failed["error"].as_str().unwrap();
        assert!(
            error.contains("gave up after 3 attempts") && error.contains(says),
            "{failed}"
        );
        assert_eq!(failed["attempts"], 3);
    }

    // Back up: a failed message stays failed; nothing goes out late.
    m.twilio.come_back().await;
    m.smtp.come_back().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(m.twilio.requests(), 0);
    assert_eq!(m.smtp.connections(), 0);
    let messages = settled(&m, Duration::from_secs(5)).await;
    assert!(messages.iter().all(|msg| msg["status"] == "failed"));
    assert_once_or_failed(&m, &messages, &schedule);
}

/// Both providers down for a minute. The schedule outlasts the outage (its shortest
/// jittered total is 0.8 × 87 s), and no wait is longer than 9.6 s, so every message is
/// retried soon after the providers come back.
#[tokio::test]
async fn providers_down_for_a_minute_deliver_everything_once_afterwards_without_busy_looping() {
    const OUTAGE: Duration = Duration::from_secs(60);
    let schedule = RetrySchedule::parse("1s,2s,4s,8s,8s,8s,8s,8s,8s,8s,8s,8s,8s").unwrap();
    let m = Messaging::start_with(|d| d.retry = schedule.clone()).await;
    let phones: Vec<String> = (0..10).map(|i| format!("+141555512{i:02}")).collect();
    for phone in &phones {
        m.opted_in("Ana", phone).await;
    }
    // One of each first, so that both clients hold pooled connections the outage cuts.
    let (_, first) = m
        .send_sms(json!({"to_number": phones[0], "message": "before"}))
        .await;
    assert_eq!(first["delivery_status"], "sent", "{first}");
    let (_, first) = m
        .send_email(json!({"to_email": "first@example.com", "subject": "s", "text": "before"}))
        .await;
    assert_eq!(first["delivery_status"], "sent", "{first}");

    m.twilio.go_down().await;
    m.smtp.go_down().await;
    let down_at = Instant::now();
    let (requests_before, connections_before) = (m.twilio.requests(), m.smtp.connections());
    for (i, phone) in phones.iter().enumerate() {
        let (status, reply) = m
            .send_sms(json!({"to_number": phone, "message": format!("outage {i}")}))
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["delivery_status"], "queued", "{reply}");
    }
    for i in 0..5 {
        let (status, reply) = m
            .send_email(
                json!({"to_email": format!("m{i}@example.com"), "subject": "s",
                "text": format!("outage {i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["delivery_status"], "queued", "{reply}");
    }

    // Twice during the outage: every message still queued, its attempts no more than the
    // schedule allows in the time elapsed (the shortest jittered waits, 0.8 × each).
    for checkpoint in [OUTAGE / 2, OUTAGE - Duration::from_secs(5)] {
        tokio::time::sleep_until(down_at + checkpoint).await;
        let elapsed = down_at.elapsed();
        let mut due = Duration::ZERO;
        let allowed = 1
            + (1..schedule.max_attempts() as u32)
                .take_while(|&n| {
                    due += schedule.wait_after(n, None, 0.0).unwrap();
                    due <= elapsed
                })
                .count() as u64;
        for message in m.messages(json!({"limit": 1000})).await {
            if message["body"]
                .as_str()
                .is_some_and(|b| b.starts_with("before"))
            {
                continue;
            }
            // "sending" while a worker holds it for an attempt at this very moment.
            assert!(
                message["status"] == "queued" || message["status"] == "sending",
                "{message}"
            );
            let attempts = message["attempts"].as_u64().unwrap();
            assert!(
                (1..=allowed).contains(&attempts),
                "{attempts} attempts in {elapsed:?}, the schedule allows {allowed}: {message}"
            );
            assert!(
                message["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{message}"
            );
        }
        // The port refuses: nothing reached either provider.
        assert_eq!(m.twilio.requests(), requests_before);
        assert_eq!(m.smtp.connections(), connections_before);
    }

    tokio::time::sleep_until(down_at + OUTAGE).await;
    m.twilio.come_back().await;
    m.smtp.come_back().await;

    let messages = settled(&m, Duration::from_secs(40)).await;
    assert_eq!(messages.len(), 17);
    assert!(
        messages.iter().all(|msg| msg["status"] == "sent"),
        "{messages:#?}"
    );
    assert_once_or_failed(&m, &messages, &schedule);
    // Once back, one request per message: the herd of retries did not pile up.
    assert_eq!(m.twilio.requests(), requests_before + 10);
    assert_eq!(m.smtp.received().len(), 6);
    assert_eq!(m.smtp.attempts(), 6);
}
