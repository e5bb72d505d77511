//! The SMTP and Twilio fakes themselves, driven over real sockets by real clients
//! (lettre, reqwest), so the messaging tests can trust them.

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{MultiPart, header::ContentType},
    transport::smtp::authentication::{Credentials, Mechanism},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::{
    smtp::SmtpServer,
    twilio::{Fault, TwilioFake},
};

const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "secret-token";

fn mailer(port: u16) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .credentials(Credentials::new("studio@mail.test".into(), "pw".into()))
        .timeout(Some(Duration::from_secs(5)))
        .build()
}

fn message(to: &str, subject: &str, body: &str) -> Message {
    Message::builder()
        .from("Studio A <studio@mail.test>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .unwrap()
}

#[tokio::test]
async fn smtp_records_a_message_sent_by_lettre() {
    let smtp = SmtpServer::start().await;
    // Non-ASCII and long lines make lettre pick an encoded body and an encoded subject.
    let body = format!(
        "Bonjour Ana,\n.a line starting with a dot\n{}\nà bientôt — l'équipe",
        "long line ".repeat(20)
    );
    mailer(smtp.port())
        .send(message(
            "Ana <ana@example.com>",
            "Votre réservation ✔",
            &body,
        ))
        .await
        .expect("send");

    let mail = smtp.wait_for(1, Duration::from_secs(5)).await.remove(0);
    assert_eq!(mail.mail_from, "studio@mail.test");
    assert_eq!(mail.rcpt_to, vec!["ana@example.com".to_string()]);
    assert_eq!(mail.auth_user.as_deref(), Some("studio@mail.test"));
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("Votre réservation ✔")
    );
    assert_eq!(mail.header("TO").as_deref(), Some("Ana <ana@example.com>"));
    assert!(mail.header("X-Missing").is_none());
    assert!(mail.text_contains("à bientôt — l'équipe"), "{}", mail.data);
    assert!(
        mail.text_contains("\n.a line starting with a dot"),
        "{}",
        mail.text()
    );
    assert!(!mail.body().is_empty());
    assert_eq!(smtp.attempts(), 1);
}

#[tokio::test]
async fn smtp_decodes_multipart_and_base64_parts() {
    let smtp = SmtpServer::start().await;
    let email = Message::builder()
        .from("studio@mail.test".parse().unwrap())
        .to("ana@example.com".parse().unwrap())
        .to("bo@example.com".parse().unwrap())
        .subject("Plain subject")
        .multipart(MultiPart::alternative_plain_html(
            "Plain façade text".to_string(),
            "<p>日本語のテキストです</p>".to_string(),
        ))
        .unwrap();
    mailer(smtp.port()).send(email).await.expect("send");

    let mail = smtp.wait_for(1, Duration::from_secs(5)).await.remove(0);
    assert_eq!(mail.rcpt_to, vec!["ana@example.com", "bo@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some("Plain subject"));
    assert!(mail.text_contains("Plain façade text"), "{}", mail.data);
    // Mostly non-ASCII: lettre sends it base64-encoded.
    assert!(mail.data.contains("base64"), "{}", mail.data);
    assert!(!mail.data.contains("日本語"), "{}", mail.data);
    assert!(
        mail.text_contains("<p>日本語のテキストです</p>"),
        "{}",
        mail.data
    );
}

#[tokio::test]
async fn smtp_refusals_reach_lettre_and_are_not_recorded() {
    let smtp = SmtpServer::start().await;
    smtp.fail_next(1, 550, "5.7.1 Mailbox unavailable");
    smtp.fail_next(1, 451, "4.3.0 Try again later");
    let mailer = mailer(smtp.port());

    let err = mailer
        .send(message("ana@example.com", "One", "first"))
        .await
        .expect_err("550 refuses");
    assert!(err.is_permanent(), "{err}");
    let err = mailer
        .send(message("ana@example.com", "Two", "second"))
        .await
        .expect_err("451 refuses");
    assert!(err.is_transient(), "{err}");
    assert!(smtp.received().is_empty());
    assert_eq!(smtp.attempts(), 2);

    mailer
        .send(message("ana@example.com", "Three", "third"))
        .await
        .expect("the fault is used up");
    let received = smtp.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("Subject").as_deref(), Some("Three"));
    assert_eq!(smtp.attempts(), 3);
}

#[tokio::test]
async fn smtp_delay_holds_the_answer_and_auth_login_works() {
    let smtp = SmtpServer::start().await;
    smtp.set_delay(Duration::from_millis(300));
    let login_mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtp.port())
        .credentials(Credentials::new("login-user".into(), "pw".into()))
        .authentication(vec![Mechanism::Login])
        .build();
    let started = std::time::Instant::now();
    login_mailer
        .send(message("ana@example.com", "Slow", "slow"))
        .await
        .expect("send");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].auth_user.as_deref(), Some("login-user"));
}

async fn post_sms(
    twilio: &TwilioFake,
    auth: (&str, &str),
    token: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        twilio.base_url(),
        auth.0
    );
    let mut request = crate::support::http()
        .post(url)
        .basic_auth(auth.0, Some(auth.1))
        .form(form);
    if let Some(token) = token {
        request = request.header("I-Twilio-Idempotency-Token", token);
    }
    request.send().await.expect("post")
}

const HELLO: &[(&str, &str)] = &[
    ("To", "+15551230001"),
    ("From", "+15559990000"),
    ("Body", "Hi Ana & co + 100% more"),
    ("StatusCallback", "http://127.0.0.1:1/hooks/twilio?x=1"),
];

#[tokio::test]
async fn twilio_accepts_a_message_like_twilio() {
    let twilio = TwilioFake::start(SID, TOKEN).await;
    let response = post_sms(&twilio, (SID, TOKEN), None, HELLO).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let reply: Value = response.json().await.unwrap();
    let sid = reply["sid"].as_str().unwrap().to_string();
    assert_eq!(sid.len(), 34);
    assert!(sid.starts_with("SM"));
    assert!(sid[2..].chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    assert_eq!(reply["account_sid"], SID);
    assert_eq!(reply["to"], "+15551230001");
    assert_eq!(reply["from"], "+15559990000");
    assert_eq!(reply["body"], "Hi Ana & co + 100% more");
    assert_eq!(reply["status"], "queued");
    assert_eq!(reply["num_segments"], "1");
    assert_eq!(reply["direction"], "outbound-api");
    assert_eq!(reply["error_code"], Value::Null);
    assert_eq!(reply["price"], Value::Null);
    assert_eq!(
        reply["uri"],
        format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json")
    );
    let created = reply["date_created"].as_str().unwrap();
    time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc2822)
        .expect("RFC 2822 date");

    let delivered = twilio.wait_for_delivered(1, Duration::from_secs(5)).await;
    assert_eq!(delivered[0].sid, sid);
    assert_eq!(delivered[0].body, "Hi Ana & co + 100% more");
    assert_eq!(
        delivered[0].status_callback.as_deref(),
        Some("http://127.0.0.1:1/hooks/twilio?x=1")
    );
    assert_eq!(twilio.requests(), 1);
}

#[tokio::test]
async fn twilio_idempotency_token_replays_the_first_answer() {
    let twilio = TwilioFake::start(SID, TOKEN).await;
    let first = post_sms(&twilio, (SID, TOKEN), Some("job-1"), HELLO).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = post_sms(&twilio, (SID, TOKEN), Some("job-1"), HELLO).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["sid"], again["sid"]);

    let other = post_sms(&twilio, (SID, TOKEN), Some("job-2"), HELLO).await;
    let other: Value = other.json().await.unwrap();
    assert_ne!(first["sid"], other["sid"]);

    let delivered = twilio.delivered();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].idempotency_token.as_deref(), Some("job-1"));
    assert_eq!(twilio.requests(), 3);
}

#[tokio::test]
async fn twilio_refuses_bad_auth_and_missing_parameters() {
    let twilio = TwilioFake::start(SID, TOKEN).await;
    let response = post_sms(&twilio, (SID, "wrong"), None, HELLO).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"code": 20003, "message": "Authenticate",
               "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
    );
    let unauthenticated = crate::support::http()
        .post(format!(
            "{}/2010-04-01/Accounts/{SID}/Messages.json",
            twilio.base_url()
        ))
        .form(HELLO)
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    for (form, code) in [
        (&[("From", "+15559990000"), ("Body", "x")][..], 21604),
        (&[("To", "+15551230001"), ("Body", "x")][..], 21603),
        (
            &[("To", "+15551230001"), ("From", "+15559990000")][..],
            21602,
        ),
    ] {
        let response = post_sms(&twilio, (SID, TOKEN), None, form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let reply: Value = response.json().await.unwrap();
        assert_eq!(reply["code"], code, "{reply}");
        assert_eq!(reply["status"], 400);
    }

    let service = post_sms(
        &twilio,
        (SID, TOKEN),
        None,
        &[
            ("To", "+15551230001"),
            ("MessagingServiceSid", "MG0001"),
            ("Body", "x"),
        ],
    )
    .await;
    assert_eq!(service.status(), StatusCode::CREATED);
    assert_eq!(twilio.delivered().len(), 1);
    assert_eq!(twilio.requests(), 6);
}

#[tokio::test]
async fn twilio_scripted_faults_come_in_order() {
    let twilio = TwilioFake::start(SID, TOKEN).await;
    twilio.push_fault(Fault::TooManyRequests {
        retry_after_secs: 7,
    });
    twilio.push_fault(Fault::Status(503));
    twilio.push_fault(Fault::Reject {
        status: 400,
        code: 21610,
        message: "Attempt to send to unsubscribed recipient".into(),
    });

    let limited = post_sms(&twilio, (SID, TOKEN), None, HELLO).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(limited.json::<Value>().await.unwrap()["code"], 20429);

    let unavailable = post_sms(&twilio, (SID, TOKEN), None, HELLO).await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unavailable.json::<Value>().await.unwrap()["code"], 20503);

    let rejected = post_sms(&twilio, (SID, TOKEN), None, HELLO).await;
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    assert_eq!(rejected.json::<Value>().await.unwrap()["code"], 21610);

    assert!(twilio.delivered().is_empty());
    let ok = post_sms(&twilio, (SID, TOKEN), None, HELLO).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(twilio.delivered().len(), 1);
    assert_eq!(twilio.requests(), 4);
}

#[tokio::test]
async fn twilio_survives_clients_hanging_up() {
    let twilio = TwilioFake::start(SID, TOKEN).await;
    // Half a request, then gone.
    let addr = twilio.base_url().trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    socket
        .write_all(
            format!(
                "POST /2010-04-01/Accounts/{SID}/Messages.json HTTP/1.1\r\n\
                 Host: {addr}\r\nContent-Length: 500\r\n\r\nTo=%2B1555"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    drop(socket);

    // A slow answer the client gives up on: the message was still taken.
    twilio.push_fault(Fault::Delay(Duration::from_millis(500)));
    let timed_out = crate::support::http()
        .post(format!(
            "{}/2010-04-01/Accounts/{SID}/Messages.json",
            twilio.base_url()
        ))
        .basic_auth(SID, Some(TOKEN))
        .header("I-Twilio-Idempotency-Token", "job-9")
        .timeout(Duration::from_millis(100))
        .form(HELLO)
        .send()
        .await;
    assert!(timed_out.expect_err("times out").is_timeout());

    // The retry with the same token is answered from the first attempt.
    let retry = post_sms(&twilio, (SID, TOKEN), Some("job-9"), HELLO).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    let delivered = twilio.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        retry.json::<Value>().await.unwrap()["sid"],
        delivered[0].sid
    );
}
