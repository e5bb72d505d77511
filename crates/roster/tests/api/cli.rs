//! The `roster` binary: commands, configuration layering, first run, shutdown, durability.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use crate::support::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

fn roster(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command.current_dir(dir).kill_on_drop(true);
    // Campaign tests must not depend on the hour they run at.
    command.env("ROSTER_QUIET_HOURS_SMS", "none");
    command.env("ROSTER_QUIET_HOURS_EMAIL", "none");
    // Load tests (10,000 contacts, crash rounds) must not meet the per-app rate limit;
    // protection.rs tests it on its own.
    command.env("ROSTER_RATE_LIMIT_PER_SECOND", "0");
    for key in [
        "ROSTER_DATABASE_URL",
        "ROSTER_LISTEN",
        "ROSTER_CONFIG",
        "ROSTER_DEFAULT_REGION",
        "ROSTER_LOG_FORMAT",
    ] {
        command.env_remove(key);
    }
    command
}

async fn output(command: &mut Command) -> (bool, String, String) {
    let out = command.output().await.expect("run roster");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["apps", "--help"],
        vec!["apps", "create", "--help"],
        vec!["apps", "list", "--help"],
        vec!["apps", "rotate-secret", "--help"],
        vec!["apps", "configure", "--help"],
        vec!["messages", "list", "--help"],
        vec!["migrate", "--help"],
        vec!["config", "--help"],
        vec!["copy", "--help"],
    ] {
        let (ok, stdout, _) = output(roster(dir.path()).args(&args)).await;
        assert!(ok && stdout.contains("Usage"), "{args:?}: {stdout}");
    }
}

#[tokio::test]
async fn apps_create_json_prints_exactly_one_object_with_the_three_keys() {
    let db = TestDb::create().await;
    let dir = db.dir.path();

    let (ok, stdout, stderr) = output(roster(dir).args([
        "apps",
        "create",
        "--name",
        "Gym",
        "--json",
        "--database",
        &db.url,
    ]))
    .await;

    assert!(ok, "{stderr}");
    let value: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["api_key", "app_id", "secret_key"]);
    let (_, listed, _) = output(roster(dir).args(["apps", "list", "--database", &db.url])).await;
    assert!(listed.contains("Gym") && listed.contains(value["api_key"].as_str().unwrap()));
    assert!(
        !listed.contains(value["secret_key"].as_str().unwrap()),
        "secrets are never listed"
    );
}

#[tokio::test]
async fn rotate_secret_prints_a_new_secret() {
    let test_db = TestDb::create().await;
    let dir = test_db.dir.path();
    let db = ["--database", test_db.url.as_str()];
    let (_, created, _) = output(
        roster(dir)
            .args(["apps", "create", "--name", "Gym", "--json"])
            .args(db),
    )
    .await;
    let created: Value = serde_json::from_str(created.trim()).unwrap();

    let (ok, rotated, _) = output(
        roster(dir)
            .args([
                "apps",
                "rotate-secret",
                created["app_id"].as_str().unwrap(),
                "--json",
            ])
            .args(db),
    )
    .await;

    let rotated: Value = serde_json::from_str(rotated.trim()).unwrap();
    assert!(ok);
    assert_eq!(rotated["app_id"], created["app_id"]);
    assert_ne!(rotated["secret_key"], created["secret_key"]);
    let (ok, _, stderr) = output(
        roster(dir)
            .args(["apps", "rotate-secret", "999", "--json"])
            .args(db),
    )
    .await;
    assert!(!ok && stderr.contains("999"), "{stderr}");
}

#[tokio::test]
async fn configuration_layers_are_defaults_then_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("roster.toml"),
        "listen = \"127.0.0.1:7001\"\ndatabase_url = \"sqlite://file.db\"\ndefault_region = \"GB\"\nmax_body_bytes = 2048\npg_max_connections = 4\nsqlite_mmap_mib = 256\n",
    )
    .unwrap();

    let (ok, stdout, stderr) = output(
        roster(dir.path())
            .args([
                "config",
                "--config",
                "roster.toml",
                "--listen",
                "127.0.0.1:7003",
            ])
            .env("ROSTER_LISTEN", "127.0.0.1:7002")
            .env("ROSTER_DATABASE_URL", "postgres://ann:hunter2@db/roster"),
    )
    .await;

    assert!(ok, "{stderr}");
    let config: toml::Table = stdout.parse().expect("TOML");
    assert_eq!(
        config["listen"].as_str(),
        Some("127.0.0.1:7003"),
        "flag beats env"
    );
    assert_eq!(
        config["database_url"].as_str(),
        Some("postgres://ann:[redacted]@db/roster"),
        "env beats file, password hidden"
    );
    assert_eq!(
        config["default_region"].as_str(),
        Some("GB"),
        "file beats default"
    );
    assert_eq!(config["max_body_bytes"].as_integer(), Some(2048));
    assert_eq!(config["pg_max_connections"].as_integer(), Some(4));
    assert_eq!(config["sqlite_mmap_mib"].as_integer(), Some(256));
    assert_eq!(
        config["pg_acquire_timeout_seconds"].as_integer(),
        Some(5),
        "default"
    );
    assert_eq!(
        config["sqlite_synchronous"].as_str(),
        Some("full"),
        "default"
    );
    assert!(!stdout.contains("hunter2"));
}

#[tokio::test]
async fn a_bad_configuration_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "listen = \"127.0.0.1:1\"\nno_such_key = 1\n",
    )
    .unwrap();

    let (ok, _, stderr) = output(roster(dir.path()).args(["config", "--config", "bad.toml"])).await;
    assert!(!ok && stderr.contains("no_such_key"), "{stderr}");
    let (ok, _, stderr) =
        output(roster(dir.path()).args(["config", "--default-region", "XX"])).await;
    assert!(!ok && stderr.contains("default_region"), "{stderr}");
    let (ok, _, stderr) =
        output(roster(dir.path()).args(["config", "--pg-max-connections", "0"])).await;
    assert!(!ok && stderr.contains("pg_max_connections"), "{stderr}");
    let (ok, _, stderr) =
        output(roster(dir.path()).args(["config", "--sqlite-mmap-mib", "2048"])).await;
    assert!(!ok && stderr.contains("sqlite_mmap_mib"), "{stderr}");
    let (ok, _, stderr) =
        output(roster(dir.path()).args(["config", "--sqlite-mmap-mib", "2047"])).await;
    assert!(ok, "SQLite's largest map is accepted: {stderr}");
}

/// A running `roster serve`, what it printed on start, and the file its log goes to.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub printed: String,
    pub log: PathBuf,
}

pub async fn serve(db: &TestDb) -> Served {
    serve_with(db, &[]).await
}

/// `roster serve` with extra environment (ROSTER_* settings).
pub async fn serve_with(db: &TestDb, env: &[(&str, String)]) -> Served {
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let log = db.dir.path().join(format!("serve-{n}.log"));
    let mut child = roster(db.dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db.url])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if let Some(addr) = line.strip_prefix("Roster listening on ") {
                return addr.to_string();
            }
        }
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("serve exited before listening: {printed}\n{log}");
    })
    .await
    .expect("serve starts");
    Served {
        child,
        base,
        printed,
        log,
    }
}

pub fn printed_value(printed: &str, key: &str) -> String {
    printed
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("{key} not printed: {printed}"))
        .trim()
        .to_string()
}

pub async fn create_contact(base: &str, printed: &str, first_name: &str) -> StatusCode {
    crate::support::http()
        .post(format!("{base}/v2/ExternalApi/newContact"))
        .header("X-API-KEY", printed_value(printed, "api_key"))
        .header("X-SECRET-KEY", printed_value(printed, "secret_key"))
        .json(&json!({"app_id": printed_value(printed, "app_id"), "first_name": first_name, "last_name": "L"}))
        .send()
        .await
        .unwrap()
        .status()
}

pub async fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args([name, &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn first_serve_prints_working_keys_and_sigterm_stops_it_cleanly() {
    let db = TestDb::create().await;
    let mut served = serve(&db).await;

    assert_eq!(
        create_contact(&served.base, &served.printed, "Ana").await,
        StatusCode::OK
    );
    signal(&served.child, "-TERM").await;

    let status = tokio::time::timeout(Duration::from_secs(30), served.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let again = serve(&db).await;
    assert!(
        !again.printed.contains("secret_key"),
        "keys are printed only for the first app"
    );
}

#[tokio::test]
async fn an_acknowledged_write_survives_sigkill() {
    let db = TestDb::create().await;
    let mut served = serve(&db).await;
    for name in ["Ana", "Bob", "Cy"] {
        assert_eq!(
            create_contact(&served.base, &served.printed, name).await,
            StatusCode::OK
        );
    }

    signal(&served.child, "-KILL").await;
    served.child.wait().await.unwrap();

    let store = roster_store::open(&db.url, &Default::default())
        .await
        .unwrap();
    let app = store.list_apps().await.unwrap().remove(0).app_id;
    let contacts = store
        .find_contacts(&app, &Default::default(), Default::default())
        .await
        .unwrap();
    let names: Vec<_> = contacts.iter().map(|c| c.first_name.as_str()).collect();
    assert_eq!(names, ["Ana", "Bob", "Cy"]);
}

#[tokio::test]
async fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();

    let (ok, stdout, stderr) =
        output(roster(dir.path()).args(["migrate", "--database", "sqlite://fresh.db"])).await;

    assert!(ok, "{stderr}");
    assert!(stdout.contains("up to date"));
    assert!(dir.path().join("fresh.db").exists());
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let db = TestDb::create().await;
    let mut child = roster(db.dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--database",
            &db.url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();

    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("a log line");

    let entry: Value = serde_json::from_str(&first).unwrap_or_else(|_| panic!("not JSON: {first}"));
    assert!(
        entry["level"].is_string() && entry["timestamp"].is_string(),
        "{entry}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn apps_configure_sets_messaging_and_never_prints_secrets() {
    let db = TestDb::create().await;
    let dir = db.dir.path();
    let (ok, created, stderr) = output(roster(dir).args([
        "apps",
        "create",
        "--name",
        "A",
        "--json",
        "--database",
        &db.url,
    ]))
    .await;
    assert!(ok, "{stderr}");
    let app_id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["app_id"]
        .as_str()
        .unwrap()
        .to_string();

    let (ok, stdout, stderr) = output(roster(dir).args([
        "apps",
        "configure",
        &app_id,
        "--database",
        &db.url,
        "--sms-provider",
        "twilio",
        "--twilio-auth-token",
        "tok-SECRET-123",
        "--sms-from",
        "+15550001111, +15550002222",
        "--min-age",
        "18",
        "--json",
    ]))
    .await;
    assert!(ok, "{stderr}");
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["sms_provider"], "twilio");
    assert_eq!(shown["sms_from"], json!(["+15550001111", "+15550002222"]));
    assert_eq!(shown["min_age"], 18);
    assert_eq!(shown["twilio_auth_token"], "<redacted>");
    assert!(!stdout.contains("SECRET"));
    // A second call changes only what it names.
    let (ok, stdout, _) = output(roster(dir).args([
        "apps",
        "configure",
        &app_id,
        "--database",
        &db.url,
        "--help-text",
        "Call us",
        "--json",
    ]))
    .await;
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (shown["help_text"].as_str(), shown["min_age"].as_u64()),
        (Some("Call us"), Some(18))
    );

    for (args, says) in [
        (vec!["--sms-provider", "carrier-pigeon"], "sms-provider"),
        (vec!["--optin-text", "Hi {{first_name"], "optin-text"),
        (vec!["--email-from", "nope"], "email-from"),
    ] {
        let (ok, _, stderr) = output(
            roster(dir)
                .args(["apps", "configure", &app_id, "--database", &db.url])
                .args(&args),
        )
        .await;
        assert!(!ok && stderr.contains(says), "{args:?}: {stderr}");
    }
    let (ok, _, stderr) = output(roster(dir).args([
        "apps",
        "configure",
        "424242",
        "--database",
        &db.url,
        "--min-age",
        "1",
    ]))
    .await;
    assert!(!ok && stderr.contains("424242"), "{stderr}");

    let (ok, config, _) = output(
        roster(dir)
            .args(["config"])
            .env("ROSTER_TWILIO_AUTH_TOKEN", "env-SECRET-456")
            .env("ROSTER_SMTP_PASSWORD", "smtp-SECRET-789")
            .env("ROSTER_SMS_FROM", "+15550001111"),
    )
    .await;
    assert!(ok);
    assert!(!config.contains("SECRET"), "{config}");
    assert!(
        config.contains("twilio_auth_token = \"<redacted>\""),
        "{config}"
    );
    assert!(config.contains("sms_from = \"+15550001111\""), "{config}");
    let (ok, _, stderr) = output(roster(dir).args([
        "config",
        "--delivery-lease-seconds",
        "5",
        "--provider-timeout-seconds",
        "10",
    ]))
    .await;
    assert!(!ok && stderr.contains("delivery_lease_seconds"), "{stderr}");
}

#[tokio::test]
async fn messages_list_shows_the_outbox() {
    let db = TestDb::create().await;
    let served = serve(&db).await;
    let printed = &served.printed;
    let app_id = printed_value(printed, "app_id");
    let client = crate::support::http();
    let post = |path: String, body: serde_json::Value| {
        client
            .post(format!("{}/v2/ExternalApi/{path}", served.base))
            .header("X-API-KEY", printed_value(printed, "api_key"))
            .header("X-SECRET-KEY", printed_value(printed, "secret_key"))
            .json(&body)
            .send()
    };
    let status = post("newContact".into(), json!({"app_id": app_id, "first_name": "A", "last_name": "B", "phone": "+14155550400", "optin_sms": true}))
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let reply: serde_json::Value = post(
        format!("sendSmsNotification/{app_id}"),
        json!({"to_number": "+14155550400", "message": "logged"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(reply["service_type"], "log", "{reply}");
    assert_eq!(reply["delivery_status"], "sent", "{reply}");

    let (ok, stdout, stderr) = output(roster(db.dir.path()).args([
        "messages",
        "list",
        "--app",
        &app_id,
        "--json",
        "--database",
        &db.url,
    ]))
    .await;
    assert!(ok, "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["to"], "+14155550400");
    assert_eq!(line["status"], "sent");
    assert_eq!(line["_id"], reply["_id"]);
    let (ok, _, stderr) = output(roster(db.dir.path()).args([
        "messages",
        "list",
        "--app",
        &app_id,
        "--status",
        "lost",
        "--database",
        &db.url,
    ]))
    .await;
    assert!(!ok && stderr.contains("status"), "{stderr}");
}

/// Warnings and errors that `roster serve` processes logged, at most `most_per_node`
/// lines from each (for test reports).
pub fn log_problems(logs: &[PathBuf], most_per_node: usize) -> Vec<String> {
    logs.iter()
        .enumerate()
        .flat_map(|(node, path)| {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .map(strip_colours)
                .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
                .map(|line| format!("node {}: {line}", node + 1))
                .take(most_per_node)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `line` without its ANSI colour codes.
fn strip_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}
