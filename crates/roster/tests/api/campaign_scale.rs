//! Campaigns at scale, through real `roster serve` processes: ten thousand contacts each
//! reached exactly once, a fan-out cut short by SIGKILL resumed without a second message,
//! and three nodes sharing one campaign on PostgreSQL.
//!
//! "Exactly once" is checked where it matters, at the provider: the Twilio fake records
//! one message per idempotency token, so a second outbox row for a contact shows up as a
//! second SMS to its number; a second provider call for the same row (a double claim)
//! shows up in the fake's request count. Email has no idempotency token: every mail the
//! SMTP server accepts counts.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use serde_json::{Value, json};

use crate::{
    cli::{log_problems, serve_with, signal},
    support::node_api::NodeApi as Api,
    support::{
        TestDb,
        messaging::{APP_NUMBER, FROM_EMAIL, SID, TOKEN},
        require_postgres,
        smtp::SmtpServer,
        twilio::TwilioFake,
    },
};

/// newContact requests in flight while an audience is built.
const IN_FLIGHT: usize = 32;

impl Api {
    /// The campaign as getCampaigns lists it.
    async fn campaign(&self, base: &str, id: &str) -> Value {
        let reply = self.ok(base, "getCampaigns", json!({"limit": 1000})).await;
        reply["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|c| c["_id"] == id)
            .unwrap_or_else(|| panic!("campaign {id} not listed: {reply}"))
            .clone()
    }

    /// Creates `count` contacts, `IN_FLIGHT` at a time, round-robin over `bases`; returns
    /// their ids by index.
    async fn contacts(
        &self,
        bases: &[String],
        count: usize,
        fields: impl Fn(usize) -> Value,
    ) -> Vec<String> {
        let mut ids: Vec<(usize, String)> = stream::iter(0..count)
            .map(|i| {
                let base = &bases[i % bases.len()];
                let body = fields(i);
                async move {
                    let reply = self.ok(base, "newContact", body).await;
                    (i, reply["_id"].as_str().expect("_id").to_string())
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        ids.sort();
        ids.into_iter().map(|(_, id)| id).collect()
    }

    /// newCampaign then sendCampaign; the campaign's `_id`.
    async fn start_campaign(&self, base: &str, campaign: Value) -> String {
        let created = self.ok(base, "newCampaign", campaign).await;
        let id = created["_id"].as_str().expect("_id").to_string();
        let started = self.ok(base, "sendCampaign", json!({"id": id})).await;
        assert_eq!(started["campaign_status"], "sending", "{started}");
        id
    }

    /// Polls until the campaign is `sent` and all its messages are out of the outbox.
    async fn wait_until_sent(
        &self,
        base: &str,
        id: &str,
        timeout: Duration,
        logs: &[PathBuf],
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let campaign = self.campaign(base, id).await;
            // Fanned out, and every message out of the outbox (whether that is the whole
            // audience, once each, is for the caller to check).
            if campaign["status"] == "sent" && campaign["sent"] == campaign["recipients"] {
                return campaign;
            }
            assert_eq!(campaign["failed"], 0, "{campaign}");
            assert!(
                Instant::now() < deadline,
                "not sent after {timeout:?}: {campaign}\nlogs: {:#?}",
                log_problems(logs, 20)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A valid US number per index (212-2xx: libphonenumber refuses 555 exchanges).
fn phone(i: usize) -> String {
    assert!(i < 1_000_000);
    format!("+12122{i:06}")
}

fn first_name(i: usize) -> String {
    format!("N{i}")
}

/// `roster serve` settings: the Twilio fake, optionally the SMTP server, every send queued
/// for the workers.
fn env(twilio: &TwilioFake, smtp: Option<&SmtpServer>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("ROSTER_SMS_PROVIDER", "twilio".into()),
        ("ROSTER_TWILIO_BASE_URL", twilio.base_url()),
        ("ROSTER_TWILIO_ACCOUNT_SID", SID.into()),
        ("ROSTER_TWILIO_AUTH_TOKEN", TOKEN.into()),
        ("ROSTER_SMS_FROM", APP_NUMBER.into()),
        ("ROSTER_INLINE_SEND_TIMEOUT_MS", "0".into()),
        ("ROSTER_WORKERS", "16".into()),
        ("ROSTER_DELIVERY_POLL_MS", "50".into()),
        ("ROSTER_RETRY_SCHEDULE", "200ms,500ms,1s".into()),
        // Not the hour the test runs at: campaign messages go at once.
        ("ROSTER_QUIET_HOURS_SMS", "none".into()),
        ("ROSTER_QUIET_HOURS_EMAIL", "none".into()),
        // A commit need not survive a power cut here (it still survives SIGKILL). Every
        // send is a commit, and with FULL the disk's fsyncs were the bottleneck (10,000
        // SMS: 20 s to send instead of 12 s).
        ("ROSTER_SQLITE_SYNCHRONOUS", "normal".into()),
    ];
    if let Some(smtp) = smtp {
        env.extend([
            ("ROSTER_EMAIL_PROVIDER", "smtp".into()),
            ("ROSTER_SMTP_HOST", "127.0.0.1".into()),
            ("ROSTER_SMTP_PORT", smtp.port().to_string()),
            ("ROSTER_SMTP_TLS", "none".into()),
            ("ROSTER_EMAIL_FROM", FROM_EMAIL.into()),
        ]);
    }
    env
}

/// Prints what the nodes logged as warnings or errors (the log is for the report, not
/// the verdict).
fn print_log_problems(logs: &[PathBuf]) {
    for line in log_problems(logs, 20) {
        println!("campaign_scale:   {line}");
    }
}

/// Asserts the fake accepted exactly one SMS per contact `0..total`, each with that
/// contact's personalised body ("Hi N{i}").
fn assert_one_sms_each(twilio: &TwilioFake, total: usize) {
    let delivered = twilio.delivered();
    let mut by_number: HashMap<&str, Vec<&str>> = HashMap::new();
    for sms in &delivered {
        by_number.entry(&sms.to).or_default().push(&sms.body);
    }
    let twice: Vec<_> = by_number
        .iter()
        .filter(|(_, bodies)| bodies.len() > 1)
        .take(10)
        .collect();
    assert!(
        twice.is_empty(),
        "{} numbers got more than one SMS, e.g. {twice:?}",
        by_number.values().filter(|b| b.len() > 1).count()
    );
    for i in 0..total {
        let number = phone(i);
        let bodies = by_number.get(number.as_str());
        assert_eq!(
            bodies,
            Some(&vec![format!("Hi {}", first_name(i)).as_str()]),
            "contact {i} ({number})"
        );
    }
    assert_eq!(delivered.len(), total, "no SMS to anyone else");
    let tokens: HashSet<_> = delivered
        .iter()
        .map(|s| s.idempotency_token.clone())
        .collect();
    assert_eq!(tokens.len(), total, "one outbox message per SMS");
}

/// Asserts the outbox holds exactly one message per contact, to its number, all sent.
fn assert_one_message_each(messages: &[Value], contact_ids: &[String]) {
    assert_eq!(messages.len(), contact_ids.len(), "one message per contact");
    let by_contact: HashMap<&str, &Value> = messages
        .iter()
        .map(|m| (m["contact_id"].as_str().expect("contact_id"), m))
        .collect();
    assert_eq!(
        by_contact.len(),
        contact_ids.len(),
        "no contact has two messages"
    );
    for (i, id) in contact_ids.iter().enumerate() {
        let message = by_contact
            .get(id.as_str())
            .unwrap_or_else(|| panic!("contact {i} ({id}) has no message"));
        assert_eq!(message["to"], phone(i), "{message}");
        assert_eq!(message["status"], "sent", "{message}");
    }
}

/// Measured in the debug build on two cores, alone: SQLite 15 s to create the contacts
/// and 12 s to send, PostgreSQL 17 s and 18 s; up to 65 s in all when other heavy tests
/// share the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_to_10000_contacts_reaches_each_exactly_once() {
    const TOTAL: usize = 10_000;
    let started = Instant::now();
    let twilio = TwilioFake::start(SID, TOKEN).await;
    let db = TestDb::create().await;
    let node = serve_with(&db, &env(&twilio, None)).await;
    let api = Api::of(&node);
    let bases = [node.base.clone()];
    let logs = [node.log.clone()];

    let ids = api
        .contacts(&bases, TOTAL, |i| {
            json!({"first_name": first_name(i), "last_name": "L", "phone": phone(i),
                   "optin_sms": true})
        })
        .await;
    let created_in = started.elapsed();
    let sending = Instant::now();
    let id = api
        .start_campaign(
            &node.base,
            json!({"id": "big", "name": "Big", "channel": "sms", "body": "Hi {{first_name}}"}),
        )
        .await;
    // Generous: 12-37 s measured, the upper end beside other tests on PostgreSQL.
    let done = api
        .wait_until_sent(&node.base, &id, Duration::from_secs(90), &logs)
        .await;
    let sent_in = sending.elapsed();
    // A late duplicate would arrive now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "campaign_scale: {TOTAL} contacts created in {created_in:.2?}, campaign sent in \
         {sent_in:.2?} ({} provider requests); test {:.2?}",
        twilio.requests(),
        started.elapsed()
    );
    print_log_problems(&logs);

    assert_one_sms_each(&twilio, TOTAL);
    assert_eq!(
        (
            done["recipients"].as_u64(),
            done["sent"].as_u64(),
            done["failed"].as_u64(),
            done["skipped"].as_u64()
        ),
        (Some(TOTAL as u64), Some(TOTAL as u64), Some(0), Some(0)),
        "{done}"
    );
    assert_eq!(
        twilio.requests(),
        TOTAL,
        "one provider call per message: a second call is a message claimed twice"
    );
    assert_one_message_each(&api.messages(&node.base).await, &ids);
}

/// 2,000 rather than 10,000: email goes out at about 160-290 a second in the debug build
/// (a new SMTP connection per mail), so 10,000 took 58-67 s in all, 5,000 27-47 s (SQLite,
/// PostgreSQL), slowing the 10,000-SMS test beside it past a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_campaign_reaches_each_address_exactly_once() {
    const TOTAL: usize = 2_000;
    let started = Instant::now();
    let twilio = TwilioFake::start(SID, TOKEN).await;
    let smtp = SmtpServer::start().await;
    let db = TestDb::create().await;
    let node = serve_with(&db, &env(&twilio, Some(&smtp))).await;
    let api = Api::of(&node);
    let address = |i: usize| format!("n{i}@example.com");
    let logs = [node.log.clone()];

    api.contacts(
        std::slice::from_ref(&node.base),
        TOTAL,
        |i| json!({"first_name": first_name(i), "last_name": "L", "email": address(i)}),
    )
    .await;
    let created_in = started.elapsed();
    let sending = Instant::now();
    let id = api
        .start_campaign(
            &node.base,
            json!({"id": "news", "name": "News", "channel": "email",
                   "subject": "News for {{first_name}}", "body": "<p>Hello {{first_name}}</p>"}),
        )
        .await;
    let done = api
        .wait_until_sent(&node.base, &id, Duration::from_secs(40), &logs)
        .await;
    let sent_in = sending.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "campaign_scale: {TOTAL} email contacts created in {created_in:.2?}, campaign sent in \
         {sent_in:.2?} ({} SMTP DATA attempts); test {:.2?}",
        smtp.attempts(),
        started.elapsed()
    );
    print_log_problems(&logs);

    assert_eq!(
        (done["recipients"].as_u64(), done["skipped"].as_u64()),
        (Some(TOTAL as u64), Some(0)),
        "{done}"
    );
    let received = smtp.received();
    let mut by_address: HashMap<String, Vec<String>> = HashMap::new();
    for mail in &received {
        assert_eq!(mail.rcpt_to.len(), 1, "one recipient per mail: {mail:?}");
        by_address
            .entry(mail.rcpt_to[0].clone())
            .or_default()
            .push(mail.header("Subject").unwrap_or_default());
    }
    let twice: Vec<_> = by_address
        .iter()
        .filter(|(_, subjects)| subjects.len() > 1)
        .take(10)
        .collect();
    assert!(twice.is_empty(), "addresses mailed twice, e.g. {twice:?}");
    for i in 0..TOTAL {
        assert_eq!(
            by_address.get(&address(i)),
            Some(&vec![format!("News for {}", first_name(i))]),
            "contact {i}"
        );
    }
    assert_eq!(received.len(), TOTAL, "no mail to anyone else");
    assert_eq!(smtp.attempts(), TOTAL, "no mail sent twice");
    assert!(received.iter().all(|m| m.mail_from == FROM_EMAIL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_interrupted_by_a_crash_resumes_without_duplicates() {
    const TOTAL: usize = 3_000;
    /// Fan-out steps are 500 contacts: the kill comes after two or three committed steps,
    /// with the workers sending.
    const KILL_AT: u64 = 1_000;
    let started = Instant::now();
    let twilio = TwilioFake::start(SID, TOKEN).await;
    let db = TestDb::create().await;
    let mut env = env(&twilio, None);
    // SQLite's default durability: this test is about what a crash leaves.
    env.retain(|(key, _)| *key != "ROSTER_SQLITE_SYNCHRONOUS");
    // A short lease: the sends the kill cuts off are taken up again soon after the restart.
    env.extend([
        ("ROSTER_PROVIDER_TIMEOUT_SECONDS", "2".into()),
        ("ROSTER_DELIVERY_LEASE_SECONDS", "3".into()),
    ]);
    let mut first = serve_with(&db, &env).await;
    let api = Api::of(&first);
    let ids = api
        .contacts(std::slice::from_ref(&first.base), TOTAL, |i| {
            json!({"first_name": first_name(i), "last_name": "L", "phone": phone(i),
                   "optin_sms": true})
        })
        .await;
    let created_in = started.elapsed();

    let id = api
        .start_campaign(
            &first.base,
            json!({"id": "crash", "name": "Crash", "channel": "sms", "body": "Hi {{first_name}}"}),
        )
        .await;
    // Kill the node once two steps of the fan-out have committed: the next step is then
    // most likely under way (steps follow each other at once), its transaction open.
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let campaign = api.campaign(&first.base, &id).await;
        let recipients = campaign["recipients"].as_u64().unwrap();
        if recipients >= KILL_AT {
            break campaign;
        }
        assert!(Instant::now() < deadline, "no fan-out: {campaign}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    signal(&first.child, "-KILL").await;
    first.child.wait().await.unwrap();
    assert!(
        seen["status"] == "sending" && seen["recipients"].as_u64() < Some(TOTAL as u64),
        "the fan-out was over before the kill: {seen}"
    );

    // What the crash left: a node without workers (so without fan-out) only reads.
    let mut reader_env = env.clone();
    reader_env.push(("ROSTER_WORKERS", "0".into()));
    let mut reader = serve_with(&db, &reader_env).await;
    let at_crash = api.campaign(&reader.base, &id).await;
    signal(&reader.child, "-TERM").await;
    reader.child.wait().await.unwrap();
    let recipients_at_crash = at_crash["recipients"].as_u64().unwrap();
    assert_eq!(at_crash["status"], "sending", "{at_crash}");
    assert!(
        recipients_at_crash < TOTAL as u64,
        "the kill came after the fan-out: {at_crash}"
    );
    let delivered_at_crash = twilio.delivered().len();

    let second = serve_with(&db, &env).await;
    let logs = [first.log.clone(), second.log.clone()];
    let done = api
        .wait_until_sent(&second.base, &id, Duration::from_secs(40), &logs)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "campaign_scale: crash test: {TOTAL} contacts created in {created_in:.2?}; \
         {} recipients when the kill was ordered, {recipients_at_crash} committed at the crash \
         ({delivered_at_crash} SMS delivered); {} provider requests in all; test {:.2?}",
        seen["recipients"],
        twilio.requests(),
        started.elapsed()
    );
    print_log_problems(&logs);

    assert_one_sms_each(&twilio, TOTAL);
    assert_eq!(
        (
            done["recipients"].as_u64(),
            done["sent"].as_u64(),
            done["skipped"].as_u64()
        ),
        (Some(TOTAL as u64), Some(TOTAL as u64), Some(0)),
        "{done}"
    );
    assert_one_message_each(&api.messages(&second.base).await, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_send_a_campaign_once_per_contact() {
    if require_postgres("three_nodes_send_a_campaign_once_per_contact").is_none() {
        return;
    }
    const TOTAL: usize = 2_000;
    let started = Instant::now();
    // One fake per node: each counts its node's provider calls. No node dies here, so
    // no repeat is expected that a shared idempotency store would have to absorb.
    let fakes = [
        TwilioFake::start(SID, TOKEN).await,
        TwilioFake::start(SID, TOKEN).await,
        TwilioFake::start(SID, TOKEN).await,
    ];
    let db = TestDb::create().await;
    let mut nodes = Vec::new();
    for fake in &fakes {
        // The first node creates the app and prints its keys; the others find it.
        nodes.push(serve_with(&db, &env(fake, None)).await);
    }
    let api = Api::of(&nodes[0]);
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let logs: Vec<PathBuf> = nodes.iter().map(|n| n.log.clone()).collect();
    let ids = api
        .contacts(&bases, TOTAL, |i| {
            json!({"first_name": first_name(i), "last_name": "L", "phone": phone(i),
                   "optin_sms": true})
        })
        .await;
    let created_in = started.elapsed();

    let sending = Instant::now();
    let id = api
        .start_campaign(
            &bases[0],
            json!({"id": "shared", "name": "Shared", "channel": "sms", "body": "Hi {{first_name}}"}),
        )
        .await;
    let done = api
        .wait_until_sent(&bases[1], &id, Duration::from_secs(40), &logs)
        .await;
    let sent_in = sending.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let per_node: Vec<usize> = fakes.iter().map(|f| f.delivered().len()).collect();
    let requests: usize = fakes.iter().map(TwilioFake::requests).sum();
    println!(
        "campaign_scale: three nodes: {TOTAL} contacts created in {created_in:.2?}, campaign \
         sent in {sent_in:.2?}; SMS by node {per_node:?} ({requests} provider requests); \
         test {:.2?}",
        started.elapsed()
    );
    print_log_problems(&logs);

    // Every SMS of every node, as one fake would have seen them.
    let mut by_number: HashMap<String, Vec<String>> = HashMap::new();
    for sms in fakes.iter().flat_map(TwilioFake::delivered) {
        by_number.entry(sms.to).or_default().push(sms.body);
    }
    for i in 0..TOTAL {
        assert_eq!(
            by_number.get(&phone(i)),
            Some(&vec![format!("Hi {}", first_name(i))]),
            "contact {i} ({})",
            phone(i)
        );
    }
    let delivered: usize = per_node.iter().sum();
    assert_eq!(delivered, TOTAL, "no SMS to anyone else");
    assert_eq!(
        requests, TOTAL,
        "one provider call per message: a second call is a message claimed twice"
    );
    for base in &bases {
        let listed = api.campaign(base, &id).await;
        assert_eq!(
            (
                listed["recipients"].as_u64(),
                listed["sent"].as_u64(),
                listed["failed"].as_u64(),
                listed["skipped"].as_u64()
            ),
            (
                Some(delivered as u64),
                Some(delivered as u64),
                Some(0),
                Some(0)
            ),
            "{listed}"
        );
    }
    assert_eq!(done["status"], "sent");
    assert!(
        per_node.iter().filter(|&&n| n > 0).count() >= 2,
        "the nodes did not share the sends: {per_node:?}"
    );
    assert_one_message_each(&api.messages(&bases[2]).await, &ids);
    for mut node in nodes {
        node.child.kill().await.unwrap();
    }
}
