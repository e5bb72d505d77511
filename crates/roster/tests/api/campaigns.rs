//! Campaigns: audiences, consent skips, fan-out through the outbox exactly once, cancel,
//! schedules, counts that match the outbox.

use std::{collections::BTreeSet, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{contact, messaging::Messaging};

const WAIT: Duration = Duration::from_secs(30);

async fn campaign(m: &Messaging, body: Value) -> String {
    let (status, reply) = m.app.post("newCampaign", body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["_id"].as_str().unwrap().to_string()
}

async fn start(m: &Messaging, id: &str) -> Value {
    let (status, reply) = m.app.post("sendCampaign", json!({"id": id})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply
}

/// Waits until the campaign has fanned out and none of its messages is still on its way.
async fn settled(m: &Messaging, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let all = m.app.members("getCampaigns", json!({"limit": 100})).await;
        let found = all
            .into_iter()
            .find(|c| c["_id"] == id)
            .expect("campaign listed");
        let done = found["status"] == "sent" || found["status"] == "cancelled";
        if done
            && found["recipients"]
                == found["sent"].as_u64().unwrap() + found["failed"].as_u64().unwrap()
        {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not settled: {found}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_campaign_reaches_its_audience_once_and_skips_without_consent() {
    let m = Messaging::start().await;
    let yes = m
        .app
        .new_contact(contact(
            "Ana",
            json!({"phone": "+14155550501", "optin_sms": true, "tags": "yoga"}),
        ))
        .await;
    m.app
        .new_contact(contact(
            "Bo",
            json!({"phone": "+14155550502", "optin_sms": true, "tags": "spin"}),
        ))
        .await;
    m.app
        .new_contact(contact(
            "Cy",
            json!({"phone": "+14155550503", "tags": "Yoga"}),
        ))
        .await;
    m.app
        .new_contact(contact(
            "Di",
            json!({"phone": "+14155550504", "optin_sms": false, "tags": "yoga"}),
        ))
        .await;
    m.app
        .new_contact(contact(
            "Ed",
            json!({"email": "ed@example.com", "tags": "yoga"}),
        ))
        .await;

    let id = campaign(
        &m,
        json!({"id": "spring", "name": "Spring", "channel": "sms",
        "body": "Hi {{first_name}}, spring yoga is on", "audience": {"tags_any": ["YOGA"]}}),
    )
    .await;
    assert_eq!(start(&m, &id).await["campaign_status"], "sending");
    let done = settled(&m, &id).await;

    assert_eq!(done["status"], "sent");
    assert_eq!(
        (
            done["recipients"].as_u64(),
            done["sent"].as_u64(),
            done["skipped"].as_u64()
        ),
        (Some(1), Some(1), Some(3))
    );
    assert!(done["sent_date"].is_string());
    assert_eq!(
        done["skipped_reasons"],
        json!({"no_address": 1, "not_opted_in": 1, "opted_out": 1, "duplicate_address": 0})
    );
    let delivered = m.twilio.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].body, "Hi Ana, spring yoga is on");
    assert_eq!(delivered[0].to, "+14155550501");
    let messages = m.messages(json!({"_id": yes})).await;
    assert_eq!(messages.len(), 1, "the outbox agrees with the counts");

    let (status, reply) = m.app.post("sendCampaign", json!({"id": "spring"})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a sent campaign does not start again: {reply}"
    );
    let (status, _) = m
        .app
        .post(
            "newCampaign",
            json!({"id": "spring", "name": "x", "channel": "sms", "body": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only a draft can change");
}

#[tokio::test]
async fn each_audience_filter_selects_its_contacts() {
    let m = Messaging::start().await;
    for id in ["north", "south"] {
        let (status, _) = m
            .app
            .post("newLocation", json!({"id": id, "name": id}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    m.app
        .post(
            "newWorkroom",
            json!({"id": "wr", "name": "North room", "location_ids": ["north"]}),
        )
        .await;
    let people = [
        (
            "Ana",
            json!({"type": "member", "status": "active", "location": "north", "tags": "a,b"}),
        ),
        (
            "Bo",
            json!({"type": "prospect", "status": "inactive", "location": "south", "tags": "a"}),
        ),
        (
            "Cy",
            json!({"type": "member", "status": "inactive", "location": "south"}),
        ),
    ];
    for (i, (name, extra)) in people.iter().enumerate() {
        let mut fields = extra.clone();
        fields["phone"] = json!(format!("+1415555060{i}"));
        fields["optin_sms"] = json!(true);
        fields["user_id"] = json!(name);
        m.app.new_contact(contact(name, fields)).await;
    }
    let (status, reply) = m
        .app
        .post(
            "newEvent",
            json!({"user_id": "Bo", "id": "e1", "event_type": "visit", "event_date": "2026-06-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    m.app
        .post(
            "newEvent",
            json!({"user_id": "Cy", "id": "e2", "event_type": "visit", "event_date": "2025-01-01"}),
        )
        .await;
    let (status, reply) = m
        .app
        .post("addMemberships", json!({"user_id": "Cy", "memberships": [{"id": "m1", "name": "Gold", "status": "active"}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    for (n, (audience, expected)) in [
        (json!({"type": "member"}), vec!["Ana", "Cy"]),
        (json!({"status": "inactive"}), vec!["Bo", "Cy"]),
        (json!({"location": "south"}), vec!["Bo", "Cy"]),
        (json!({"workroom": "wr"}), vec!["Ana"]),
        (json!({"tags_all": "a,b"}), vec!["Ana"]),
        (json!({"tags_any": ["b", "a"]}), vec!["Ana", "Bo"]),
        (
            json!({"event_type": "visit", "event_since": "2026-01-01"}),
            vec!["Bo"],
        ),
        (json!({"event_type": "visit"}), vec!["Bo", "Cy"]),
        (json!({"membership_status": "active"}), vec!["Cy"]),
        (json!({"type": "member", "status": "active"}), vec!["Ana"]),
        (json!({}), vec!["Ana", "Bo", "Cy"]),
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!("c{n}-{{{{first_name}}}}");
        let id = campaign(&m, json!({"id": format!("c{n}"), "name": "c", "channel": "sms", "body": body, "audience": audience})).await;
        start(&m, &id).await;
        settled(&m, &id).await;
        let got: BTreeSet<String> = m
            .twilio
            .delivered()
            .iter()
            .filter_map(|s| s.body.strip_prefix(&format!("c{n}-")).map(String::from))
            .collect();
        let expected: BTreeSet<String> = expected.into_iter().map(String::from).collect();
        assert_eq!(got, expected, "audience {audience}");
    }
}

#[tokio::test]
async fn an_email_campaign_goes_over_smtp() {
    let m = Messaging::start().await;
    for (name, email) in [("Ana", "ana@example.com"), ("Bo", "bo@example.com")] {
        m.app
            .new_contact(contact(
                name,
                json!({"email": email, "last_name": "<script>x</script>"}),
            ))
            .await;
    }
    m.app
        .new_contact(contact(
            "Cy",
            json!({"email": "cy@example.com", "optout_email": true}),
        ))
        .await;
    let id = campaign(
        &m,
        json!({"id": "news", "name": "News", "channel": "email",
        "subject": "News for {{first_name}}", "body": "<p>Hello {{first_name}} {{last_name}}</p>"}),
    )
    .await;
    start(&m, &id).await;
    let done = settled(&m, &id).await;
    assert_eq!(
        (done["sent"].as_u64(), done["skipped"].as_u64()),
        (Some(2), Some(1))
    );
    let mails = m.smtp.wait_for(2, WAIT).await;
    assert!(
        mails
            .iter()
            .all(|mail| !mail.text_contains("<script>") && mail.text_contains("&lt;script&gt;")),
        "names are escaped in HTML"
    );
    let subjects: BTreeSet<_> = mails.iter().filter_map(|m| m.header("Subject")).collect();
    assert_eq!(
        subjects,
        ["News for Ana", "News for Bo"].map(String::from).into()
    );
    assert!(mails.iter().any(|m| m.text_contains("Hello Bo")));
}

#[tokio::test]
async fn cancel_stops_a_campaign_mid_send() {
    let m = Messaging::start_with(|d| d.workers = 1).await;
    for i in 0..20 {
        m.opted_in("Ana", &format!("+141555507{i:02}")).await;
    }
    m.twilio.set_delay(Duration::from_millis(150));
    let id = campaign(
        &m,
        json!({"id": "big", "name": "Big", "channel": "sms", "body": "hello"}),
    )
    .await;
    start(&m, &id).await;
    m.twilio.wait_for_delivered(1, WAIT).await;
    let (status, reply) = m.app.post("cancelCampaign", json!({"id": id})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let done = settled(&m, &id).await;
    assert_eq!(done["status"], "cancelled");
    let sent = done["sent"].as_u64().unwrap();
    assert!(sent < 20, "{done}");
    assert!(done["failed"].as_u64().unwrap() > 0, "{done}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        m.twilio.delivered().len() as u64,
        sent,
        "nothing went out after the cancel settled"
    );
    let failed = m.messages(json!({"status": "failed"})).await;
    assert!(
        failed.iter().all(|f| f["error"] == "campaign cancelled"),
        "{failed:?}"
    );
    let (status, _) = m.app.post("cancelCampaign", json!({"id": id})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_scheduled_campaign_waits_for_its_time() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550801").await;
    let id = campaign(
        &m,
        json!({"id": "later", "name": "Later", "channel": "sms", "body": "later",
        "scheduled_date": "2999-01-01 09:00:00"}),
    )
    .await;
    assert_eq!(start(&m, &id).await["campaign_status"], "scheduled");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed = m
        .app
        .members("getCampaigns", json!({"status": "scheduled"}))
        .await;
    assert_eq!(listed[0]["scheduled_date"], "2999-01-01T09:00:00.000Z");
    assert_eq!(listed[0]["recipients"], 0);
    assert_eq!(m.twilio.requests(), 0);

    let id = campaign(
        &m,
        json!({"id": "past", "name": "Past", "channel": "sms", "body": "now",
        "scheduled_date": "2020-01-01 09:00:00"}),
    )
    .await;
    assert_eq!(start(&m, &id).await["campaign_status"], "sending");
    assert_eq!(settled(&m, &id).await["sent"], 1);
}

#[tokio::test]
async fn bad_campaigns_are_400_and_other_apps_cannot_touch_them() {
    let m = Messaging::start().await;
    let ok = json!({"id": "c", "name": "C", "channel": "sms", "body": "hi"});
    let with = |patch: Value| {
        let mut body = ok.clone();
        body.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        body
    };
    for (body, field) in [
        (with(json!({"channel": "fax"})), "channel"),
        (with(json!({"body": null})), "body"),
        (with(json!({"channel": "email"})), "subject"),
        (with(json!({"body": "Hi {{nickname}}"})), "body"),
        (
            with(json!({"audience": {"workroom": "nowhere"}})),
            "audience.workroom",
        ),
        (
            with(json!({"audience": {"event_since": "soon"}})),
            "audience.event_since",
        ),
        (with(json!({"audience": {"colour": "red"}})), "audience"),
        (
            with(json!({"scheduled_date": "tomorrow"})),
            "scheduled_date",
        ),
        (with(json!({"from_number": "+15550009999"})), "from_number"),
    ] {
        let (status, reply) = m.app.post("newCampaign", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert!(
            reply["field"].as_str().unwrap_or("").starts_with(field),
            "{body}: {reply}"
        );
    }
    for (endpoint, body) in [
        ("sendCampaign", json!({"id": "nope"})),
        ("cancelCampaign", json!({})),
        ("getCampaigns", json!({"status": "lost"})),
    ] {
        let (status, _) = m.app.post(endpoint, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}");
    }
    assert!(m.app.members("getCampaigns", json!({})).await.is_empty());

    let id = campaign(&m, ok).await;
    let other = m.app.create_app("Studio B").await;
    for endpoint in ["sendCampaign", "cancelCampaign"] {
        let (status, _) = m.app.post_as(&other, endpoint, json!({"id": id})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}");
    }
    let (_, theirs) = m.app.post_as(&other, "getCampaigns", json!({})).await;
    assert_eq!(theirs["members"], json!([]));
    assert_eq!(
        m.app.members("getCampaigns", json!({})).await[0]["status"],
        "draft"
    );
}

#[tokio::test]
async fn quiet_hours_hold_campaign_messages_until_the_window_opens() {
    // A window around "now" in UTC, whatever the hour the test runs at.
    let now = time::OffsetDateTime::now_utc();
    let hm = |t: time::OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    let (from, to) = (
        now - time::Duration::hours(1),
        now + time::Duration::hours(2),
    );
    let window = format!("{}-{}", hm(from), hm(to));
    let m = Messaging::start_with(|d| d.defaults.quiet_hours_sms = Some(window.clone())).await;
    // Tokyo is 9 hours ahead: for a contact at a Tokyo location the window is not now.
    m.app
        .post(
            "newLocation",
            json!({"id": "tokyo", "name": "Tokyo", "timezone": "Asia/Tokyo"}),
        )
        .await;
    let here = m.opted_in("Ana", "+14155550901").await;
    m.app
        .new_contact(contact(
            "Ken",
            json!({"phone": "+14155550902", "optin_sms": true, "location": "tokyo"}),
        ))
        .await;
    let id = campaign(
        &m,
        json!({"id": "q", "name": "Q", "channel": "sms", "body": "quiet"}),
    )
    .await;
    start(&m, &id).await;

    let delivered = m.twilio.wait_for_delivered(1, WAIT).await;
    assert_eq!(
        delivered[0].to, "+14155550902",
        "Tokyo's clock is outside the window"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(m.twilio.delivered().len(), 1, "the UTC contact waits");
    let waiting = m.messages(json!({"_id": here})).await;
    assert_eq!(waiting[0]["status"], "queued");
    let opens = format!("{}T{}:00.000Z", to.date(), hm(to));
    assert_eq!(waiting[0]["next_attempt_date"], opens.as_str());
}

#[tokio::test]
async fn the_send_rate_spaces_campaign_messages() {
    // No workers: the fan-out is stepped by hand and the due times read from the outbox,
    // so the check does not depend on how fast this machine sends.
    let m = Messaging::start_with(|d| {
        d.workers = 0;
        d.defaults.sms_per_second = Some(10);
    })
    .await;
    for i in 0..5 {
        m.opted_in("Ana", &format!("+1415555095{i}")).await;
    }
    let id = campaign(
        &m,
        json!({"id": "r", "name": "R", "channel": "sms", "body": "paced"}),
    )
    .await;
    start(&m, &id).await;
    let defaults = roster_domain::messaging::MessagingSettings {
        quiet_hours_sms: Some("none".into()),
        sms_per_second: Some(10),
        ..Default::default()
    };
    while m
        .app
        .store
        .fan_out_step(500, &defaults)
        .await
        .unwrap()
        .is_some()
    {}
    let mut due: Vec<time::OffsetDateTime> = m
        .messages(json!({}))
        .await
        .iter()
        .map(|msg| {
            time::OffsetDateTime::parse(
                msg["next_attempt_date"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    due.sort();
    assert_eq!(due.len(), 5);
    // Five messages at 10 a second are due 0.1 s apart.
    for pair in due.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            time::Duration::milliseconds(100),
            "{due:?}"
        );
    }
}

#[tokio::test]
async fn message_lists_filter_by_workroom() {
    let m = Messaging::start().await;
    for id in ["north", "south"] {
        m.app
            .post("newLocation", json!({"id": id, "name": id}))
            .await;
    }
    m.app
        .post(
            "newWorkroom",
            json!({"id": "wr", "name": "North", "location_ids": ["north"]}),
        )
        .await;
    let north = m
        .app
        .new_contact(contact(
            "Ana",
            json!({"phone": "+14155550971", "optin_sms": true, "location": "north"}),
        ))
        .await;
    m.app
        .new_contact(contact(
            "Bo",
            json!({"phone": "+14155550972", "optin_sms": true, "location": "south"}),
        ))
        .await;
    let id = campaign(
        &m,
        json!({"id": "all", "name": "All", "channel": "sms", "body": "hi"}),
    )
    .await;
    start(&m, &id).await;
    settled(&m, &id).await;
    assert_eq!(m.messages(json!({})).await.len(), 2);
    let listed = m.messages(json!({"workroom": "wr"})).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["contact_id"], north.as_str());
    assert!(m.messages(json!({"workroom": "nowhere"})).await.is_empty());
}

#[tokio::test]
async fn merging_two_records_that_both_got_a_campaign_keeps_the_counts() {
    let m = Messaging::start().await;
    let keep = m.opted_in("Ana", "+14155550981").await;
    let gone = m.opted_in("Ana", "+14155550982").await;
    m.app
        .new_contact(contact("Bo", json!({"phone": "+14155550983"})))
        .await;
    let id = campaign(
        &m,
        json!({"id": "m", "name": "M", "channel": "sms", "body": "hi"}),
    )
    .await;
    start(&m, &id).await;
    let before = settled(&m, &id).await;
    assert_eq!(
        (before["recipients"].as_u64(), before["skipped"].as_u64()),
        (Some(2), Some(1))
    );

    let (status, reply) = m
        .app
        .post(
            "mergeContacts",
            json!({"from_contact": keep, "to_contact": gone}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let after = settled(&m, &id).await;
    assert_eq!(
        (after["recipients"].as_u64(), after["sent"].as_u64()),
        (Some(2), Some(2)),
        "both were sent: {after}"
    );
    assert_eq!(m.messages(json!({"_id": keep})).await.len(), 1);
}

#[tokio::test]
async fn two_records_sharing_a_number_get_the_campaign_once() {
    let m = Messaging::start().await;
    m.opted_in("Ana", "+14155550991").await;
    m.opted_in("Anna", "+14155550991").await;
    let id = campaign(
        &m,
        json!({"id": "d", "name": "D", "channel": "sms", "body": "once"}),
    )
    .await;
    start(&m, &id).await;
    let done = settled(&m, &id).await;
    assert_eq!(
        (done["recipients"].as_u64(), done["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{done}"
    );
    assert_eq!(done["skipped_reasons"]["duplicate_address"], 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(m.twilio.delivered().len(), 1);
}

#[tokio::test]
async fn contacts_created_after_the_start_are_not_in_the_audience() {
    let m = Messaging::start_with(|d| d.workers = 0).await;
    m.opted_in("Ana", "+14155550993").await;
    let id = campaign(
        &m,
        json!({"id": "fixed", "name": "F", "channel": "sms", "body": "x"}),
    )
    .await;
    start(&m, &id).await;
    // No workers on this node: step the fan-out by hand around a new contact.
    let defaults = roster_domain::messaging::MessagingSettings {
        quiet_hours_sms: Some("none".into()),
        ..Default::default()
    };
    m.app.store.fan_out_step(1, &defaults).await.unwrap();
    m.opted_in("Late", "+14155550994").await;
    while m
        .app
        .store
        .fan_out_step(1, &defaults)
        .await
        .unwrap()
        .is_some()
    {}
    let listed = m.app.members("getCampaigns", json!({})).await;
    assert_eq!(listed[0]["status"], "sent");
    assert_eq!(listed[0]["recipients"], 1, "{listed:?}");
}
