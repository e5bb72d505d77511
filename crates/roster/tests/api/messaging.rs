//! sendSmsNotification and sendEmailNotification against real providers on real sockets:
//! the Twilio-compatible fake and the SMTP server.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{
    contact,
    messaging::{APP_NUMBER, FROM_EMAIL, Messaging},
    twilio::Fault,
};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn sms_to_an_opted_in_member_goes_out_through_twilio() {
    let m = Messaging::start().await;
    let id = m.opted_in("Ana", "+14155550001").await;

    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550001", "message": "Class at 6 tonight", "_id": id}))
        .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], true);
    assert_eq!(reply["service_type"], "twilio");
    assert_eq!(reply["phone"], "+14155550001");
    assert_eq!(reply["from"], APP_NUMBER);
    assert_eq!(reply["delivery_status"], "sent");
    let sent = m.twilio.delivered();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+14155550001");
    assert_eq!(sent[0].from, APP_NUMBER);
    assert_eq!(sent[0].body, "Class at 6 tonight");
    assert_eq!(reply["service_message_id"], sent[0].sid.as_str());
    assert_eq!(
        sent[0].idempotency_token.as_deref(),
        reply["_id"].as_str(),
        "the message id is the idempotency token"
    );
    let listed = m.messages(json!({"_id": id})).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "sent");
    assert_eq!(listed[0]["attempts"], 1);
    assert_eq!(listed[0]["service_message_id"], sent[0].sid.as_str());
    assert_eq!(listed[0]["contact_id"], id.as_str());
}

#[tokio::test]
async fn sms_without_consent_is_refused_and_nothing_is_queued() {
    let m = Messaging::start().await;
    m.app
        .new_contact(contact("Never", json!({"phone": "+14155550002"})))
        .await;
    let out = m.opted_in("Out", "+14155550003").await;
    m.app
        .new_contact(contact(
            "Out",
            json!({"phone": "+14155550003", "optin_sms": false}),
        ))
        .await;
    // A second record with the same number cannot stand in for the opted-out one.
    m.opted_in("Twin", "+14155550003").await;

    for (number, says) in [
        ("+14155559999", "not opted in"),
        ("+14155550002", "not opted in"),
        ("+14155550003", "opted out"),
    ] {
        let (status, reply) = m
            .send_sms(json!({"to_number": number, "message": "hello"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{number}: {reply}");
        assert_eq!(reply["field"], "to_number");
        assert!(reply["message"].as_str().unwrap().contains(says), "{reply}");
    }
    assert!(m.messages(json!({})).await.is_empty());
    assert_eq!(m.twilio.requests(), 0);
    assert!(m.sms_optout_of(&out).await.is_some());
}

#[tokio::test]
async fn bodies_are_personalised_and_unknown_placeholders_refused() {
    let m = Messaging::start().await;
    let id = m
        .app
        .new_contact(contact(
            "Ana",
            json!({"phone": "+14155550010", "optin_sms": true, "plan": "Gold"}),
        ))
        .await;
    m.app
        .new_contact(contact(
            "Bo",
            json!({"phone": "+14155550011", "nickname": "B"}),
        ))
        .await;

    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550010", "_id": id,
            "message": "Hi {{first_name}} {{last_name}}, your {{plan}} plan{{nickname}}"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        m.twilio.delivered()[0].body,
        "Hi Ana Lopez, your Gold plan",
        "an app attribute this contact lacks renders empty"
    );

    for (body, field) in [
        (
            json!({"message": "Hi {{favourite_colour}}", "_id": id}),
            "message",
        ),
        (json!({"message": "Hi {{first_name}}"}), "_id"),
        (json!({"message": "Hi {{first_name", "_id": id}), "message"),
    ] {
        let mut body = body;
        body["to_number"] = json!("+14155550010");
        let (status, reply) = m.send_sms(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_eq!(reply["field"], field, "{reply}");
    }
    assert_eq!(
        m.messages(json!({})).await.len(),
        1,
        "refused sends queue nothing"
    );
}

#[tokio::test]
async fn bad_send_requests_get_4xx_naming_the_field() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550020").await;
    let long = "x".repeat(1601);
    for (body, field) in [
        (json!({"message": "hi"}), "to_number"),
        (json!({"to_number": "12345", "message": "hi"}), "to_number"),
        (json!({"to_number": "+14155550020"}), "message"),
        (
            json!({"to_number": "+14155550020", "message": long}),
            "message",
        ),
        (
            json!({"to_number": "+14155550020", "message": "hi", "from_number": "+15550009999"}),
            "from_number",
        ),
        (
            json!({"to_number": "+14155550020", "message": "hi", "_id": "nope"}),
            "_id",
        ),
        (
            json!({"to_number": "+14155550020", "message": "hi", "_id": "aaaaaaaaaaaaaaaaaaaaaaaa"}),
            "_id",
        ),
        (
            json!({"to_number": "+14155550020", "message": ["hi"]}),
            "message",
        ),
    ] {
        let (status, reply) = m.send_sms(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["field"], field, "{body}: {reply}");
    }
    for (body, field) in [
        (json!({"subject": "s", "text": "t"}), "to_email"),
        (
            json!({"to_email": "nope", "subject": "s", "text": "t"}),
            "to_email",
        ),
        (json!({"to_email": "a@example.com", "text": "t"}), "subject"),
        (json!({"to_email": "a@example.com", "subject": "s"}), "html"),
        (
            json!({"to_email": "a@example.com", "subject": "s", "text": "t", "reply_to": "x"}),
            "reply_to",
        ),
    ] {
        let (status, reply) = m.send_email(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["field"], field, "{body}: {reply}");
    }
    assert!(m.messages(json!({})).await.is_empty());
}

#[tokio::test]
async fn transient_failures_retry_with_backoff_honouring_retry_after() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550030").await;
    m.twilio.push_fault(Fault::Status(500));
    m.twilio.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    let started = Instant::now();

    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550030", "message": "retry me"}))
        .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["delivery_status"], "queued");
    assert_eq!(
        reply["service_message_id"], reply["_id"],
        "Roster's id until sent"
    );
    let id = reply["_id"].as_str().unwrap();
    let sent = m.wait_for_status(id, "sent").await;
    // The schedule alone would retry within ~0.3 s; the 429 asked for a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sent["attempts"], 3);
    assert_eq!(m.twilio.requests(), 3);
    assert_eq!(m.twilio.delivered().len(), 1);
}

#[tokio::test]
async fn retries_give_up_after_the_schedule_with_the_reason() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550040").await;
    for _ in 0..4 {
        m.twilio.push_fault(Fault::Status(503));
    }
    let (_, reply) = m
        .send_sms(json!({"to_number": "+14155550040", "message": "doomed"}))
        .await;
    let failed = m
        .wait_for_status(reply["_id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(
        failed["attempts"], 4,
        "one attempt, then the 3 retries of the schedule"
    );
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("gave up after 4 attempts") && error.contains("503"),
        "{error}"
    );
    assert!(m.twilio.delivered().is_empty());
}

#[tokio::test]
async fn a_permanent_refusal_at_request_time_is_a_500_with_the_reason() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550050").await;
    m.twilio.push_fault(Fault::Reject {
        status: 400,
        code: 21211,
        message: "The 'To' number is not a valid phone number.".into(),
    });
    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550050", "message": "hi"}))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("21211"),
        "{reply}"
    );
    let listed = m.messages(json!({"status": "failed"})).await;
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0]["error"]
            .as_str()
            .unwrap()
            .contains("not a valid phone number")
    );
    assert_eq!(m.twilio.requests(), 1, "no retry of a permanent failure");
}

#[tokio::test]
async fn an_unsubscribed_recipient_error_opts_the_contact_out() {
    let m = Messaging::start().await;
    let id = m.opted_in("Ana", "+14155550060").await;
    m.twilio.push_fault(Fault::Reject {
        status: 400,
        code: 21610,
        message: "Attempt to send to unsubscribed recipient".into(),
    });
    let (status, _) = m
        .send_sms(json!({"to_number": "+14155550060", "message": "hi"}))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    assert!(m.sms_optout_of(&id).await.is_some());
    let history = m.consent_history(&id).await;
    let last = history.last().unwrap();
    assert_eq!(
        (last["change"].as_str(), last["source"].as_str()),
        (Some("sms_optout"), Some("provider_error"))
    );
    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550060", "message": "again"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(m.twilio.requests(), 1);
}

#[tokio::test]
async fn a_slow_provider_gets_the_inline_deadline_then_the_outbox_delivers_once() {
    let m = Messaging::start_with(|d| d.inline_timeout = Duration::from_millis(200)).await;
    m.opted_in("Ana", "+14155550070").await;
    m.twilio.set_delay(Duration::from_millis(800));

    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550070", "message": "slow"}))
        .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], true);
    assert_eq!(reply["delivery_status"], "queued");
    assert_eq!(reply["service_message_id"], reply["_id"]);
    let sent = m
        .wait_for_status(reply["_id"].as_str().unwrap(), "sent")
        .await;
    assert_eq!(
        sent["attempts"], 1,
        "the inline attempt finished in the background"
    );
    assert_eq!(m.twilio.delivered().len(), 1);
}

#[tokio::test]
async fn queue_only_mode_hands_every_send_to_the_workers() {
    let m = Messaging::start_with(|d| d.inline_timeout = Duration::ZERO).await;
    for i in 0..10 {
        m.opted_in("Ana", &format!("+1415555008{i}")).await;
    }
    for i in 0..10 {
        let (status, reply) = m
            .send_sms(json!({"to_number": format!("+1415555008{i}"), "message": format!("n{i}")}))
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["delivery_status"], "queued");
    }
    let delivered = m.twilio.wait_for_delivered(10, WAIT).await;
    let mut bodies: Vec<_> = delivered.iter().map(|s| s.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, (0..10).map(|i| format!("n{i}")).collect::<Vec<_>>());
    for message in m.messages(json!({})).await {
        m.wait_for_status(message["_id"].as_str().unwrap(), "sent")
            .await;
    }
}

#[tokio::test]
async fn email_goes_out_over_smtp_with_headers_and_a_stable_message_id() {
    let m = Messaging::start().await;
    let id = m
        .app
        .new_contact(contact("Ana", json!({"email": "ana@example.com"})))
        .await;

    let (status, reply) = m
        .send_email(json!({
            "to_email": "ana@example.com", "_id": id,
            "subject": "Welcome {{first_name}}",
            "text": "Hello {{first_name}},\nsee you on the mat.",
            "html": "<p>Hello <b>{{first_name}}</b></p>",
            "reply_to": "desk@example.com", "from_name": "Yoga Loft"
        }))
        .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], true);
    assert_eq!(reply["service_type"], "smtp");
    assert_eq!(reply["email"], "ana@example.com");
    let mails = m.smtp.wait_for(1, WAIT).await;
    let mail = &mails[0];
    assert_eq!(mail.rcpt_to, vec!["ana@example.com".to_string()]);
    assert_eq!(mail.mail_from, FROM_EMAIL);
    assert_eq!(mail.header("Subject").as_deref(), Some("Welcome Ana"));
    assert!(
        mail.header("From").unwrap().contains("Yoga Loft"),
        "{:?}",
        mail.header("From")
    );
    assert!(mail.header("From").unwrap().contains(FROM_EMAIL));
    assert_eq!(mail.header("Reply-To").as_deref(), Some("desk@example.com"));
    let message_id = mail.header("Message-ID").unwrap();
    assert!(
        message_id.contains(reply["_id"].as_str().unwrap()),
        "{message_id}"
    );
    assert_eq!(reply["service_message_id"], message_id.as_str());
    assert!(mail.text_contains("see you on the mat."));
    assert!(mail.text_contains("<b>Ana</b>"));
    let listed = m.messages(json!({"channel": "email"})).await;
    assert_eq!(listed[0]["status"], "sent");
    assert_eq!(listed[0]["contact_id"], id.as_str());
}

#[tokio::test]
async fn email_to_an_opted_out_address_is_refused() {
    let m = Messaging::start().await;
    m.app
        .new_contact(contact(
            "Ana",
            json!({"email": "Ana@Example.com", "optout_email": true}),
        ))
        .await;
    let (status, reply) = m
        .send_email(json!({"to_email": "ana@example.com", "subject": "s", "text": "t"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(reply["field"], "to_email");
    // No contact at all is fine for email: consent is only an opt-out.
    let (status, reply) = m
        .send_email(json!({"to_email": "walk-in@example.com", "subject": "s", "text": "t"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(m.smtp.wait_for(1, WAIT).await.len(), 1);
    assert_eq!(m.messages(json!({})).await.len(), 1);
}

#[tokio::test]
async fn smtp_temporary_refusals_are_retried_and_permanent_ones_fail() {
    let m = Messaging::start().await;
    m.smtp.fail_next(2, 451, "4.3.0 try again later");
    let (status, reply) = m
        .send_email(json!({"to_email": "a@example.com", "subject": "s", "text": "retried"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let sent = m
        .wait_for_status(reply["_id"].as_str().unwrap(), "sent")
        .await;
    assert_eq!(sent["attempts"], 3);
    assert_eq!(m.smtp.received().len(), 1);

    m.smtp.fail_next(1, 550, "5.1.1 no such mailbox");
    let (status, reply) = m
        .send_email(json!({"to_email": "gone@example.com", "subject": "s", "text": "t"}))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    let failed = m.messages(json!({"status": "failed"})).await;
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("no such mailbox"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn another_app_cannot_send_as_or_read_this_app() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550090").await;
    let (_, reply) = m
        .send_sms(json!({"to_number": "+14155550090", "message": "mine"}))
        .await;
    assert_eq!(reply["status"], true);
    let other = m.app.create_app("Studio B").await;

    // B's keys on A's path, and B's path with A's body app_id.
    let mut as_a = other.clone();
    as_a.app_id = m.app.keys.app_id.clone();
    let (status, _) = m
        .send_as(
            &as_a,
            "sendSmsNotification",
            json!({"to_number": "+14155550090", "message": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = m
        .send_as(
            &other,
            "sendSmsNotification",
            json!({"app_id": m.app.keys.app_id, "to_number": "+14155550090", "message": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A's opted-in member is no consent for B.
    let (status, _) = m
        .send_as(
            &other,
            "sendSmsNotification",
            json!({"to_number": "+14155550090", "message": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, reply) = m.app.post_as(&other, "getMessages", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["members"], json!([]));
    let (status, _) = m
        .app
        .post_as(&other, "getMessages", json!({"app_id": m.app.keys.app_id}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(m.twilio.requests(), 1);
}

#[tokio::test]
async fn messages_follow_a_merge_and_leave_with_a_removed_contact() {
    let m = Messaging::start().await;
    let keep = m.opted_in("Ana", "+14155550100").await;
    let gone = m.opted_in("Ana", "+14155550101").await;
    m.send_sms(json!({"to_number": "+14155550101", "message": "to the second record"}))
        .await;
    let (status, _) = m
        .app
        .post(
            "mergeContacts",
            json!({"from_contact": keep, "to_contact": gone}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m.messages(json!({"_id": keep})).await.len(), 1);

    let (status, _) = m.app.post("removeContact", json!({"id": keep})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(m.messages(json!({})).await.is_empty());
}

#[tokio::test]
async fn get_messages_filters_by_channel_status_and_date() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550110").await;
    m.send_sms(json!({"to_number": "+14155550110", "message": "sms"}))
        .await;
    m.send_email(json!({"to_email": "a@example.com", "subject": "s", "text": "email"}))
        .await;
    assert_eq!(m.messages(json!({"channel": "sms"})).await.len(), 1);
    assert_eq!(m.messages(json!({"channel": "email"})).await.len(), 1);
    assert_eq!(m.messages(json!({"status": "queued"})).await.len(), 0);
    let today = time::OffsetDateTime::now_utc().date().to_string();
    assert_eq!(
        m.messages(json!({"start_date": today, "end_date": today}))
            .await
            .len(),
        2
    );
    assert_eq!(m.messages(json!({"end_date": "2020-01-01"})).await.len(), 0);
    assert_eq!(m.messages(json!({"_id": "not-an-id"})).await.len(), 0);
    for (body, field) in [
        (json!({"channel": "fax"}), "channel"),
        (json!({"status": "lost"}), "status"),
        (json!({"start_date": "yesterday"}), "start_date"),
    ] {
        let (status, reply) = m.app.post("getMessages", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(reply["field"], field);
    }
}

#[tokio::test]
async fn an_opt_out_stops_a_message_waiting_for_its_retry() {
    let m = Messaging::start_with(|d| {
        d.retry = roster_domain::messaging::RetrySchedule::parse("1s,1s").unwrap();
    })
    .await;
    let sms = m.opted_in("Ana", "+14155550120").await;
    m.app
        .new_contact(contact("Bo", json!({"email": "bo@example.com"})))
        .await;
    m.twilio.push_fault(Fault::Status(503));
    m.smtp.fail_next(1, 451, "4.3.0 later");
    let (_, text) = m
        .send_sms(json!({"to_number": "+14155550120", "message": "waiting"}))
        .await;
    let (_, mail) = m
        .send_email(json!({"to_email": "bo@example.com", "subject": "s", "text": "waiting"}))
        .await;
    assert_eq!(text["delivery_status"], "queued", "{text}");
    assert_eq!(mail["delivery_status"], "queued", "{mail}");

    assert_eq!(
        m.inbound("+14155550120", "STOP", "SMstop-wait").await,
        StatusCode::OK
    );
    m.app
        .new_contact(contact(
            "Bo",
            json!({"email": "bo@example.com", "optout_email": true}),
        ))
        .await;

    for reply in [&text, &mail] {
        let failed = m
            .wait_for_status(reply["_id"].as_str().unwrap(), "failed")
            .await;
        assert!(
            failed["error"].as_str().unwrap().contains("opted out"),
            "{failed}"
        );
    }
    let delivered = m.twilio.wait_for_delivered(1, WAIT).await;
    assert!(
        delivered[0].body.contains("unsubscribed"),
        "only the STOP confirmation went out"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(m.twilio.delivered().len(), 1);
    assert!(m.smtp.received().is_empty());
    assert!(m.sms_optout_of(&sms).await.is_some());
}
