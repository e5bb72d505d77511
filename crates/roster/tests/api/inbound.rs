//! Twilio's webhooks (inbound SMS with keywords, delivery status) and the double opt-in.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::messaging::{APP_NUMBER, Messaging, SID, TOKEN};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn every_opt_out_keyword_opts_out_and_gets_one_confirmation() {
    let m = Messaging::start().await;
    let words = [
        "STOP",
        "stopall",
        " Unsubscribe ",
        "cancel",
        "END",
        "quit",
        "revoke",
        "OptOut",
    ];
    for (i, word) in words.iter().enumerate() {
        let phone = format!("+1415555020{i}");
        let id = m.opted_in("Ana", &phone).await;
        assert_eq!(
            m.inbound(&phone, word, &format!("SMin{i}")).await,
            StatusCode::OK
        );
        assert!(m.sms_optout_of(&id).await.is_some(), "{word} opts out");
        let history = m.consent_history(&id).await;
        let last = history.last().unwrap();
        assert_eq!(last["change"], "sms_optout", "{word}");
        assert_eq!(last["source"], "keyword", "{word}");
    }
    let confirmations = m.twilio.wait_for_delivered(words.len(), WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        m.twilio.delivered().len(),
        words.len(),
        "one confirmation each"
    );
    for (i, sms) in confirmations.iter().enumerate() {
        assert!(sms.body.contains("unsubscribed"), "{}", sms.body);
        assert_eq!(sms.from, APP_NUMBER);
        assert!(sms.to.starts_with("+1415555020"), "{i}: {}", sms.to);
    }
    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550200", "message": "after STOP"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
}

#[tokio::test]
async fn start_unstop_and_yes_opt_back_in_and_help_answers() {
    let m = Messaging::start().await;
    for (i, word) in ["START", "unstop", "Yes"].iter().enumerate() {
        let phone = format!("+1415555021{i}");
        let id = m.opted_in("Ana", &phone).await;
        m.inbound(&phone, "STOP", &format!("SMstop{i}")).await;
        assert!(!m.is_opted_in(&id).await);
        assert_eq!(
            m.inbound(&phone, word, &format!("SMstart{i}")).await,
            StatusCode::OK
        );
        assert!(m.is_opted_in(&id).await, "{word} opts in again");
        assert!(
            m.sms_optout_of(&id).await.is_none(),
            "{word} clears the opt-out"
        );
    }
    m.opted_in("Help", "+14155550219").await;
    for (i, word) in ["help", "INFO"].iter().enumerate() {
        m.inbound("+14155550219", word, &format!("SMhelp{i}")).await;
    }
    // 3 STOP confirmations, 3 START confirmations, 2 help texts.
    let sent = m.twilio.wait_for_delivered(8, WAIT).await;
    let helps = sent
        .iter()
        .filter(|s| s.to == "+14155550219" && s.body.contains("Reply STOP"))
        .count();
    assert_eq!(helps, 2);
    assert_eq!(
        sent.iter()
            .filter(|s| s.body.contains("now subscribed"))
            .count(),
        3
    );
}

#[tokio::test]
async fn other_text_is_stored_on_the_contact_and_a_replayed_webhook_changes_nothing() {
    let m = Messaging::start().await;
    let id = m.opted_in("Ana", "+14155550220").await;
    for _ in 0..2 {
        assert_eq!(
            m.inbound(
                "+14155550220",
                "Can I bring a friend to stop by?",
                "SMtext1"
            )
            .await,
            StatusCode::OK
        );
    }
    let listed = m.messages(json!({"_id": id})).await;
    assert_eq!(
        listed.len(),
        1,
        "the same MessageSid is stored once: {listed:?}"
    );
    assert_eq!(listed[0]["direction"], "inbound");
    assert_eq!(listed[0]["status"], "received");
    assert_eq!(listed[0]["body"], "Can I bring a friend to stop by?");
    assert_eq!(listed[0]["from"], "+14155550220");
    assert_eq!(listed[0]["service_message_id"], "SMtext1");
    assert!(m.is_opted_in(&id).await, "not a keyword: consent unchanged");
    assert_eq!(m.twilio.requests(), 0, "no reply to ordinary text");
}

#[tokio::test]
async fn webhooks_with_a_wrong_or_missing_signature_are_refused() {
    let m = Messaging::start().await;
    let id = m.opted_in("Ana", "+14155550230").await;
    let app_id = m.app.keys.app_id.clone();
    let params = [
        ("MessageSid", "SMx"),
        ("AccountSid", SID),
        ("From", "+14155550230"),
        ("To", APP_NUMBER),
        ("Body", "STOP"),
    ];

    for (token, kind) in [
        (Some("not-the-token"), "inbound"),
        (None, "inbound"),
        (Some("not-the-token"), "status"),
    ] {
        let (status, body) = m.webhook(&app_id, kind, &params, token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    // A's correctly signed request replayed on B's path: the URL is part of the signature.
    let other = m.app.create_app("Studio B").await;
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let a_url = m.app.url(&format!("/webhooks/twilio/{app_id}/inbound"));
    let replayed = m
        .app
        .client
        .post(
            m.app
                .url(&format!("/webhooks/twilio/{}/inbound", other.app_id)),
        )
        .header(
            "X-Twilio-Signature",
            roster_delivery::signature::sign(TOKEN, &a_url, &owned),
        )
        .form(&owned)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
    let (status, _) = m.webhook("999999", "inbound", &params, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "unknown app");

    assert!(m.is_opted_in(&id).await, "nothing refused changed consent");
    assert!(m.messages(json!({})).await.is_empty());
}

#[tokio::test]
async fn an_app_with_its_own_token_verifies_with_it() {
    let m = Messaging::start().await;
    let app = roster_domain::AppId::new(m.app.keys.app_id.clone());
    m.app
        .store
        .configure_messaging(
            &app,
            &roster_domain::messaging::MessagingSettings {
                twilio_auth_token: Some("studio-a-token".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = m.opted_in("Ana", "+14155550240").await;
    let params = [
        ("MessageSid", "SMa"),
        ("From", "+14155550240"),
        ("To", APP_NUMBER),
        ("Body", "STOP"),
    ];
    let (status, _) = m
        .webhook(&m.app.keys.app_id, "inbound", &params, Some(TOKEN))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the server's token no longer signs for this app"
    );
    let (status, _) = m
        .webhook(
            &m.app.keys.app_id,
            "inbound",
            &params,
            Some("studio-a-token"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(m.sms_optout_of(&id).await.is_some());
}

#[tokio::test]
async fn status_callbacks_move_messages_forward_only() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550250").await;
    m.opted_in("Bo", "+14155550251").await;
    let (_, first) = m
        .send_sms(json!({"to_number": "+14155550250", "message": "one"}))
        .await;
    let (_, second) = m
        .send_sms(json!({"to_number": "+14155550251", "message": "two"}))
        .await;
    let app_id = m.app.keys.app_id.clone();
    let sid = |reply: &serde_json::Value| reply["service_message_id"].as_str().unwrap().to_string();
    let (a, b) = (sid(&first), sid(&second));

    // B's path shares the server's token here, yet cannot touch A's messages.
    let other = m.app.create_app("Studio B").await;
    let foreign = [
        ("MessageSid", a.as_str()),
        ("MessageStatus", "failed"),
        ("ErrorCode", "30008"),
    ];
    let (reply_status, _) = m
        .webhook(&other.app_id, "status", &foreign, Some(TOKEN))
        .await;
    assert_eq!(reply_status, StatusCode::OK);
    for (sid, status, code) in [
        (&a, "delivered", ""),
        (&a, "sent", ""),
        (&a, "undelivered", "30003"),
        (&b, "undelivered", "30003"),
    ] {
        let params = [
            ("MessageSid", sid.as_str()),
            ("MessageStatus", status),
            ("ErrorCode", code),
        ];
        let (reply_status, _) = m.webhook(&app_id, "status", &params, Some(TOKEN)).await;
        assert_eq!(reply_status, StatusCode::OK);
    }
    let one = m
        .wait_for_status(first["_id"].as_str().unwrap(), "delivered")
        .await;
    assert_eq!(
        one["status"], "delivered",
        "neither a late 'sent' nor 'undelivered' undoes 'delivered'"
    );
    assert_eq!(
        one["error"],
        serde_json::Value::Null,
        "B's callback changed nothing"
    );
    let two = m
        .wait_for_status(second["_id"].as_str().unwrap(), "failed")
        .await;
    assert!(two["error"].as_str().unwrap().contains("30003"), "{two}");

    let (status, _) = m
        .webhook(
            &app_id,
            "status",
            &[("MessageStatus", "delivered")],
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "MessageSid is required");
}

#[tokio::test]
async fn double_optin_sends_the_request_and_yes_completes_it() {
    let m = Messaging::start().await;
    let (status, reply) = m
        .app
        .post(
            "optin",
            json!({"phone": "+14155550260", "email": "ana@example.com",
            "user_id": "u-260", "dob": "1990-05-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"status": "success"}));
    let request = m.twilio.wait_for_delivered(1, WAIT).await;
    assert_eq!(request[0].to, "+14155550260");
    assert!(request[0].body.contains("Reply YES"), "{}", request[0].body);

    let member = m.app.customers(json!({"user_id": "u-260"})).await;
    let id = member[0]["id"].as_str().unwrap().to_string();
    assert_eq!(member[0]["email"], "ana@example.com");
    assert!(!m.is_opted_in(&id).await, "pending until YES");
    assert_eq!(
        m.consent_history(&id).await[0]["change"],
        "sms_optin_pending"
    );
    let (status, _) = m
        .send_sms(json!({"to_number": "+14155550260", "message": "too early"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    m.inbound("+14155550260", "YES", "SMyes").await;
    assert!(m.is_opted_in(&id).await);
    let history = m.consent_history(&id).await;
    assert_eq!(history.last().unwrap()["change"], "sms_optin");
    assert_eq!(history.last().unwrap()["source"], "keyword");
    let (status, reply) = m
        .send_sms(json!({"to_number": "+14155550260", "message": "welcome"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // Already opted in: a second optin sends nothing.
    let before = m.twilio.requests();
    let (status, _) = m
        .app
        .post(
            "optin",
            json!({"phone": "+14155550260", "email": "ana@example.com", "user_id": "u-260"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(m.twilio.requests(), before);
}

#[tokio::test]
async fn optin_refuses_minors_bad_input_and_numbers_that_said_stop() {
    let m = Messaging::start().await;
    let young =
        (time::OffsetDateTime::now_utc().date() - time::Duration::days(365 * 12)).to_string();
    let base = json!({"phone": "+14155550270", "email": "kid@example.com", "user_id": "u-270"});
    let with = |extra: serde_json::Value| {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (body, field) in [
        (with(json!({"dob": young})), "dob"),
        (with(json!({"dob": "not a date"})), "dob"),
        (with(json!({"phone": null})), "phone"),
        (with(json!({"email": "nope"})), "email"),
        (with(json!({"user_id": ""})), "user_id"),
    ] {
        let (status, reply) = m.app.post("optin", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["field"], field, "{reply}");
    }
    assert!(
        m.app.customers(json!({})).await.is_empty(),
        "nothing written"
    );

    let id = m.opted_in("Ana", "+14155550271").await;
    m.inbound("+14155550271", "STOP", "SMstop").await;
    let (status, reply) = m
        .app
        .post(
            "optin",
            json!({"phone": "+14155550271", "email": "a@example.com", "user_id": "u-271"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("START"),
        "{reply}"
    );
    assert!(m.sms_optout_of(&id).await.is_some());
}

#[tokio::test]
async fn a_callback_that_beats_twilios_answer_is_kept() {
    let m = Messaging::start_with(|d| {
        d.public_url = Some("https://roster.example.com".into());
        d.inline_timeout = Duration::from_millis(100);
    })
    .await;
    m.opted_in("Ana", "+14155550280").await;
    m.twilio.set_delay(Duration::from_millis(1000));
    let (_, reply) = m
        .send_sms(json!({"to_number": "+14155550280", "message": "race"}))
        .await;
    let id = reply["_id"].as_str().unwrap().to_string();
    let sms = m.twilio.wait_for_delivered(1, WAIT).await.remove(0);
    let callback = sms
        .status_callback
        .clone()
        .expect("a status callback was requested");
    assert_eq!(
        callback,
        format!(
            "https://roster.example.com/webhooks/twilio/{}/status?message_id={id}",
            m.app.keys.app_id
        )
    );
    assert_eq!(m.messages(json!({})).await[0]["status"], "sending");

    // Twilio signs the callback URL it was given; the test server sees only the path.
    let owned = vec![
        ("MessageSid".to_string(), sms.sid.clone()),
        ("MessageStatus".to_string(), "delivered".to_string()),
    ];
    let signature = roster_delivery::signature::sign(TOKEN, &callback, &owned);
    let path = callback.trim_start_matches("https://roster.example.com");
    let response = m
        .app
        .client
        .post(m.app.url(path))
        .header("X-Twilio-Signature", signature)
        .form(&owned)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    m.wait_for_status(&id, "delivered").await;
    // Then Twilio's answer arrives: the sid is recorded, the status stays delivered.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = m.messages(json!({})).await.remove(0);
        if now["service_message_id"] == sms.sid.as_str() {
            assert_eq!(now["status"], "delivered", "{now}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
