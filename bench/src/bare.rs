//! The reference the throughput target was set against: bare axum, measured in the
//! same run as Roster. Issue 7 asks for 30,000 newEvent/s on a machine where "bare axum
//! answers ~160k req/s"; absolute figures differ several-fold between the VMs this runs
//! on, so the report also gives each endpoint as a ratio of this ceiling.
//!
//! `roster-bench --serve-bare-axum` runs it: the same `/healthz` answer as Roster's, on
//! axum's defaults and tokio's multi-threaded runtime (as `roster serve` uses), with no
//! middleware, state or store.

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

/// The line `nodes::start_bare` waits for; the address follows it.
pub const LISTENING: &str = "bare axum listening on ";

/// The target as a ratio of bare axum: 30,000 of ~160,000 requests/s.
pub const TARGET_RATIO: f64 = 30_000.0 / 160_000.0;

pub async fn serve() {
    let app = Router::new().route("/healthz", get(healthz));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    println!("{LISTENING}http://{addr}");
    axum::serve(listener, app).await.expect("serve");
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
