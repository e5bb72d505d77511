//! One wrk run: a fixed duration at a fixed number of connections, with the request bodies
//! of `bench/wrk/roster.lua`, whose `done()` prints the figures as one JSON line.

use std::{path::Path, time::Duration};

use serde_json::Value;
use tokio::process::Command;

use crate::nodes::Keys;

pub const SCRIPT: &str = "bench/wrk/roster.lua";

/// What one wrk run measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub requests: u64,
    pub seconds: f64,
    /// Responses with a status of 400 or more (wrk's `errors.status`).
    pub non_2xx: u64,
    /// connect, read, write errors and timeouts.
    pub socket_errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Measured {
    pub fn rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }
}

pub struct Load<'a> {
    pub base: &'a str,
    pub endpoint: &'a str,
    pub keys: &'a Keys,
    pub contacts: usize,
    pub connections: usize,
    pub threads: usize,
    pub duration: Duration,
    /// Distinct per run: event ids and new contacts never repeat across runs.
    pub tag: String,
    /// Area code of newContact's phone numbers (distinct per run on one database).
    pub area: u32,
}

pub fn version() -> Option<String> {
    let out = std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .ok()?;
    // wrk prints its version line, then its usage, and exits 1.
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.starts_with("wrk "))
        .map(|l| l.split(" Copyright").next().unwrap_or(l).trim().to_string())
}

pub async fn run(load: &Load<'_>) -> Measured {
    assert!(
        Path::new(SCRIPT).exists(),
        "{SCRIPT} missing: run from the repository root"
    );
    let threads = load.threads.clamp(1, load.connections.max(1));
    let secs = load.duration.as_secs().max(1);
    let output = Command::new("wrk")
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &load.connections.to_string(),
            "-d",
            &format!("{secs}s"),
            "--timeout",
            "30s",
            "--latency",
            "-s",
            SCRIPT,
            load.base,
        ])
        .env("BENCH_ENDPOINT", load.endpoint)
        .env("BENCH_APP_ID", &load.keys.app_id)
        .env("BENCH_API_KEY", &load.keys.api_key)
        .env("BENCH_SECRET_KEY", &load.keys.secret_key)
        .env("BENCH_CONTACTS", load.contacts.to_string())
        .env("BENCH_TAG", &load.tag)
        .env("BENCH_AREA", load.area.to_string())
        .env("BENCH_THREADS", threads.to_string())
        .output()
        .await
        .expect("run wrk (bench/run.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("BENCH_JSON ")) else {
        panic!(
            "wrk printed no figures (exit {:?}):\n{stdout}\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let v: Value = serde_json::from_str(line).expect("wrk figures are JSON");
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let ms = |k: &str| v[k].as_f64().unwrap_or(0.0) / 1000.0;
    Measured {
        requests: n("requests"),
        seconds: n("duration_us") as f64 / 1e6,
        non_2xx: n("status_errors"),
        socket_errors: n("connect_errors") + n("read_errors") + n("write_errors") + n("timeouts"),
        p50_ms: ms("p50_us"),
        p90_ms: ms("p90_us"),
        p99_ms: ms("p99_us"),
        max_ms: ms("max_us"),
    }
}
