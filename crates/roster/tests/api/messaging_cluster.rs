//! Three `roster serve` processes on one PostgreSQL database share one SMS outbox: every
//! message is sent exactly once, even when a node is SIGKILLed with sends in flight (its
//! leases run out, another node retries, and Twilio's idempotency token absorbs the repeat).

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus, Uri},
    response::{IntoResponse, Response},
};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    cli::{Served, log_problems, serve_with, signal},
    support::node_api::NodeApi as Api,
    support::{TestDb, require_postgres, twilio::TwilioFake},
};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fake-auth-token";
const NUMBERS: usize = 30;
const MESSAGES: usize = 60;
/// Each answer of the fake comes this late (the message is recorded at once): sends are
/// in flight when a node dies, and their answers are lost with it.
const PROVIDER_DELAY: Duration = Duration::from_millis(300);

/// `roster serve` on `db` with messaging through `twilio` (its log: `Served::log`).
async fn serve_messaging(db: &TestDb, twilio: &str) -> Served {
    let env = [
        ("ROSTER_SMS_PROVIDER", "twilio"),
        ("ROSTER_TWILIO_BASE_URL", twilio),
        ("ROSTER_TWILIO_ACCOUNT_SID", SID),
        ("ROSTER_TWILIO_AUTH_TOKEN", TOKEN),
        ("ROSTER_SMS_FROM", "+15550001111"),
        ("ROSTER_WORKERS", "8"),
        ("ROSTER_INLINE_SEND_TIMEOUT_MS", "0"),
        ("ROSTER_PROVIDER_TIMEOUT_SECONDS", "1"),
        ("ROSTER_DELIVERY_LEASE_SECONDS", "2"),
        ("ROSTER_DELIVERY_POLL_MS", "100"),
        ("ROSTER_RETRY_SCHEDULE", "200ms,500ms,1s,1s,1s"),
    ]
    .map(|(key, value)| (key, value.to_string()));
    serve_with(db, &env).await
}

/// One provider call as a node made it, seen by that node's proxy.
#[derive(Clone, Debug)]
struct Call {
    node: usize,
    token: String,
    at: Instant,
}

#[derive(Clone)]
struct Relay {
    node: usize,
    target: String,
    client: reqwest::Client,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// A pass-through in front of the one fake Twilio, one per node: Twilio sees a single
/// account (its idempotency tokens shared by all nodes) while the test learns which node
/// made each call, which the fake, deduplicating by token, cannot tell.
async fn start_relay(node: usize, target: String, calls: Arc<Mutex<Vec<Call>>>) -> String {
    let relay = Relay {
        node,
        target,
        client: crate::support::http(),
        calls,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(forward).with_state(relay);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn forward(
    State(relay): State<Relay>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    relay.calls.lock().unwrap().push(Call {
        node: relay.node,
        token: header("i-twilio-idempotency-token")
            .unwrap_or_default()
            .to_string(),
        at: Instant::now(),
    });
    let mut request = relay
        .client
        .post(format!("{}{uri}", relay.target))
        .body(body);
    for name in [
        "authorization",
        "content-type",
        "i-twilio-idempotency-token",
    ] {
        if let Some(value) = header(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = AxumStatus::from_u16(answer.status().as_u16()).unwrap();
            let body = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], body).into_response()
        }
        Err(err) => (AxumStatus::BAD_GATEWAY, err.to_string()).into_response(),
    }
}

fn number(i: usize) -> String {
    format!("+1212{}4567", 200 + i)
}

fn count_by_status(messages: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in messages {
        *counts
            .entry(m["status"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn three_nodes_share_the_outbox_and_a_killed_node_loses_nothing() {
    if require_postgres("three_nodes_share_the_outbox_and_a_killed_node_loses_nothing").is_none() {
        return;
    }
    let started = Instant::now();
    let twilio = TwilioFake::start(SID, TOKEN).await;
    twilio.set_delay(PROVIDER_DELAY);
    let db = TestDb::create().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut relays = Vec::new();
    for node in 1..=3 {
        relays.push(start_relay(node, twilio.base_url(), calls.clone()).await);
    }
    // The first node creates the app and prints its keys; the others find it.
    let mut first = serve_messaging(&db, &relays[0]).await;
    let second = serve_messaging(&db, &relays[1]).await;
    let third = serve_messaging(&db, &relays[2]).await;
    let logs: Vec<PathBuf> = [&first, &second, &third]
        .iter()
        .map(|node| node.log.clone())
        .collect();
    let api = Api::of(&first);
    let bases = [first.base.clone(), second.base.clone(), third.base.clone()];

    let created = join_all((0..NUMBERS).map(|i| {
        api.post(
            &bases[i % 3],
            "newContact",
            json!({"app_id": api.app_id, "first_name": format!("C{i}"), "last_name": "L",
                   "phone": number(i), "optin_sms": true}),
        )
    }))
    .await;
    for (status, reply) in &created {
        assert_eq!(*status, StatusCode::OK, "{reply}");
    }

    // Two messages per number, round-robin over the nodes, all at once.
    let path = format!("sendSmsNotification/{}", api.app_id);
    let sent_at = Instant::now();
    let replies = join_all((0..MESSAGES).map(|i| {
        api.post(
            &bases[i % 3],
            &path,
            json!({"app_id": api.app_id, "to_number": number(i % NUMBERS),
                   "message": format!("msg-{i}")}),
        )
    }))
    .await;
    let mut ids = HashSet::new();
    for (status, reply) in &replies {
        assert_eq!(*status, StatusCode::OK, "{reply}");
        assert_eq!(reply["status"], true, "{reply}");
        ids.insert(reply["_id"].as_str().expect("_id").to_string());
    }
    assert_eq!(ids.len(), MESSAGES, "each send is its own message");
    let expected: HashSet<(String, String)> = (0..MESSAGES)
        .map(|i| (number(i % NUMBERS), format!("msg-{i}")))
        .collect();

    // Kill node 1 while every node holds sends whose answers have not come back yet.
    let deadline = Instant::now() + Duration::from_secs(20);
    let at_kill = loop {
        let n = twilio.delivered().len();
        assert!(
            n < MESSAGES,
            "all {MESSAGES} were delivered before the kill: the test did not hit in-flight sends"
        );
        if n >= 20 {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} delivered after 20 s; logs: {:?}",
            log_problems(&logs, usize::MAX)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    signal(&first.child, "-KILL").await;
    first.child.wait().await.unwrap();
    let killed_at = Instant::now();
    let requests_at_kill = twilio.requests();

    // The survivors finish everything, node 1's claims included once their leases expire.
    let deadline = Instant::now() + Duration::from_secs(30);
    let messages = loop {
        let messages = api.messages(&bases[1]).await;
        let sent = messages.iter().filter(|m| m["status"] == "sent").count();
        if sent == MESSAGES {
            break messages;
        }
        assert!(
            messages
                .iter()
                .all(|m| m["status"] != "failed" && m["status"] != "delivered"),
            "a message failed: {messages:#?}"
        );
        assert!(
            Instant::now() < deadline,
            "not all sent 30 s after the kill: {:?}; {:#?}\nlogs: {:#?}",
            count_by_status(&messages),
            messages
                .iter()
                .filter(|m| m["status"] != "sent")
                .collect::<Vec<_>>(),
            log_problems(&logs, usize::MAX)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let recovered_in = killed_at.elapsed();
    // Nothing more arrives afterwards (a late duplicate would show up here).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let delivered = twilio.delivered();
    let requests = twilio.requests();
    let retried: Vec<&Value> = messages
        .iter()
        .filter(|m| m["attempts"].as_u64().unwrap_or(0) > 1)
        .collect();
    println!(
        "messaging_cluster: {} delivered at the kill ({requests_at_kill} requests); \
         {requests} provider requests for {MESSAGES} messages, {} unique at the fake \
         ({} repeats answered from the idempotency token); \
         {} messages took more than one attempt; all sent {:.2?} after the sends, \
         {recovered_in:.2?} after the kill; test {:.2?}",
        at_kill,
        delivered.len(),
        requests.saturating_sub(delivered.len()),
        retried.len(),
        sent_at.elapsed(),
        started.elapsed(),
    );
    let problems = log_problems(&logs, usize::MAX);
    let log_lines: Vec<usize> = logs
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .count()
        })
        .collect();
    println!(
        "messaging_cluster: log lines by node {log_lines:?}, {} of them warnings or errors",
        problems.len()
    );
    for line in problems.iter().take(40) {
        println!("  {line}");
    }

    assert_eq!(
        delivered.len(),
        MESSAGES,
        "exactly one SMS per message: {delivered:#?}"
    );
    let bodies: HashSet<(String, String)> = delivered
        .iter()
        .map(|sms| (sms.to.clone(), sms.body.clone()))
        .collect();
    assert_eq!(bodies.len(), MESSAGES, "no body delivered twice");
    assert_eq!(bodies, expected, "every message, to its number");
    let mut sid_of_token: HashMap<&str, &str> = HashMap::new();
    for sms in &delivered {
        assert_eq!(sms.from, "+15550001111");
        let token = sms
            .idempotency_token
            .as_deref()
            .unwrap_or_else(|| panic!("sent without an idempotency token: {sms:?}"));
        assert!(ids.contains(token), "{token} is not a Roster message id");
        let previous = sid_of_token.insert(token, &sms.sid);
        assert!(
            previous.is_none(),
            "message {token} got two sids: {previous:?} and {}",
            sms.sid
        );
    }
    // Roster recorded, for each message, the sid Twilio created for it (a retry after a
    // lost answer got the first sid back, not a second message).
    assert_eq!(messages.len(), MESSAGES, "{messages:#?}");
    for m in &messages {
        let id = m["_id"].as_str().unwrap();
        assert!(ids.contains(id), "{m}");
        assert_eq!(
            m["service_message_id"].as_str(),
            sid_of_token.get(id).copied(),
            "{m}"
        );
        assert_eq!(m["error"], Value::Null, "{m}");
    }
    // Who called the provider for which message. One worker at a time owns a message: the
    // only repeats are node 1's calls cut off by the kill, made again by a survivor once
    // node 1's lease ran out.
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls.len(),
        requests,
        "every provider call went through a relay"
    );
    let mut by_token: HashMap<&str, Vec<&Call>> = HashMap::new();
    for call in &calls {
        by_token.entry(call.token.as_str()).or_default().push(call);
    }
    let show = |calls: &[&Call]| {
        calls
            .iter()
            .map(|c| format!("node {} at {:?}", c.node, c.at.duration_since(sent_at)))
            .collect::<Vec<_>>()
    };
    let mut taken_over = 0;
    for (token, calls) in &by_token {
        assert!(ids.contains(*token), "{token} is not a Roster message id");
        let (cut_off, survivors): (Vec<&Call>, Vec<&Call>) =
            calls.iter().partition(|c| c.node == 1);
        assert!(
            cut_off.len() <= 1 && survivors.len() <= 1,
            "message {token} was sent by two workers (claimed twice): {:?}",
            show(calls)
        );
        if let ([cut_off], [survivor]) = (&cut_off[..], &survivors[..]) {
            assert!(
                cut_off.at < killed_at
                    && survivor.at > killed_at
                    && survivor.at.duration_since(cut_off.at) >= Duration::from_secs(1),
                "message {token} was taken over before node 1's lease ran out \
                 (killed at {:?}): {:?}",
                killed_at.duration_since(sent_at),
                show(calls)
            );
            taken_over += 1;
        }
    }
    println!(
        "messaging_cluster: calls by node {:?}; {taken_over} of node 1's sends cut off by the kill \
         and taken over by a survivor",
        (1..=3)
            .map(|n| calls.iter().filter(|c| c.node == n).count())
            .collect::<Vec<_>>()
    );
    assert!(
        taken_over > 0,
        "the kill cut off no send of node 1 ({requests} calls): the crash path was not exercised"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:.2?}",
        started.elapsed()
    );

    for mut node in [second, third] {
        node.child.kill().await.unwrap();
    }
}
