//! `roster-bench`: Roster's load harness. Preloads `--contacts` contacts into a fresh
//! database through roster-store (cached between runs), then, for each endpoint (/healthz,
//! newEvent, newContact, getCustomers), starts `roster serve` on a fresh copy and drives it
//! with wrk at each concurrency level for `--duration` seconds. When /healthz is measured, a
//! bare axum server is measured the same way first (`bare.rs`), the reference issue 7's
//! throughput target was set against. Prints requests/s, p50, p99 and max latency, non-2xx
//! counts, the server's peak RSS and each endpoint's throughput as a ratio of Roster's
//! /healthz and of bare axum; writes `bench/results/latest.{json,md}` and adds a dated
//! section to `bench/RESULTS.md`. Run it with `bash bench/run.sh` (README, "Benchmarks").

use std::{path::PathBuf, time::Duration, time::Instant};

use clap::Parser;

mod bare;
mod nodes;
mod preload;
mod report;
mod wrk;

use nodes::{Keys, Node, start, start_bare};
use preload::Seed;
use wrk::{Load, Measured};

pub const ENDPOINTS: [&str; 4] = ["healthz", "newEvent", "newContact", "getCustomers"];

#[derive(Debug, Parser)]
#[command(about = "Roster's load harness (see README, \"Benchmarks\")")]
pub struct Args {
    /// Contacts in the preloaded database (user ids u0..u<n-1>).
    #[arg(long, default_value_t = 1_000_000)]
    pub contacts: usize,
    /// Seconds of load per endpoint and concurrency level.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrency levels: wrk's open connections, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    pub concurrency: Vec<usize>,
    /// Endpoints to measure, comma-separated: healthz,newEvent,newContact,getCustomers.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "healthz,newEvent,newContact,getCustomers"
    )]
    pub endpoints: Vec<String>,
    /// wrk threads (`-t`); the generator shares the machine with the server.
    #[arg(long, default_value_t = 2)]
    pub wrk_threads: usize,
    /// Concurrent writers while preloading.
    #[arg(long, default_value_t = 64)]
    pub preload_concurrency: usize,
    /// Also measure PostgreSQL: a server URL such as postgres://postgres@127.0.0.1:5432/test
    /// (databases roster_bench_* are created and dropped on it).
    #[arg(long)]
    pub postgres: Option<String>,
    /// Where preloaded databases are cached between runs.
    #[arg(long, default_value = "target/bench-cache")]
    pub cache: PathBuf,
    /// Don't add a section to bench/RESULTS.md (for trial runs); latest.* are still written.
    #[arg(long)]
    pub no_record: bool,
    #[arg(long, default_value = "bench/RESULTS.md")]
    pub results: PathBuf,
    /// Where the raw figures of the last run go (latest.json, latest.md).
    #[arg(long, default_value = "bench/results")]
    pub raw_dir: PathBuf,
    /// Run the bare axum reference server (`bare.rs`) instead; the harness starts it.
    #[arg(long, hide = true)]
    pub serve_bare_axum: bool,
}

/// One measured endpoint at one concurrency level.
#[derive(Debug, Clone)]
pub struct Row {
    pub backend: &'static str,
    pub endpoint: String,
    pub concurrency: usize,
    pub measured: Measured,
    /// The server's peak RSS during this level (or since start if it could not be reset).
    pub peak_rss_kib: Option<u64>,
    /// The server's private (anonymous) RSS at the end of this level.
    pub private_rss_kib: Option<u64>,
    /// req/s divided by /healthz's req/s at the same concurrency on the same backend.
    pub ratio: Option<f64>,
    /// req/s divided by bare axum's at the same concurrency (`bare.rs`).
    pub of_bare: Option<f64>,
    /// The group-commit writer during this level (Roster's grouped writes only).
    pub writer: Option<nodes::WriterLoad>,
}

/// What the report says about the run besides the rows.
pub struct RunInfo {
    pub seeds: Vec<(&'static str, Seed)>,
    pub rss_per_level: bool,
    pub seconds: f64,
    pub command: String,
}

/// The backend column of the bare axum reference's rows.
pub const BARE: &str = "bare axum";

/// Drives `endpoint` on `node` at each concurrency level, adding a row per level; false
/// when the server's peak RSS could not be reset per level.
async fn measure_levels(
    node: &mut Node,
    backend: &'static str,
    endpoint: &str,
    keys: &Keys,
    contacts: usize,
    args: &Args,
    rows: &mut Vec<Row>,
) -> bool {
    let mut rss_per_level = true;
    for (level, &connections) in args.concurrency.iter().enumerate() {
        rss_per_level &= node.reset_peak();
        let writer_before = node.writer_totals().await;
        let started = std::time::Instant::now();
        let measured = wrk::run(&Load {
            base: &node.base,
            endpoint,
            keys,
            contacts,
            connections,
            threads: args.wrk_threads,
            duration: Duration::from_secs(args.duration),
            tag: format!("c{connections}l{level}"),
            area: AREAS[level % AREAS.len()],
        })
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let writer = node
            .writer_totals()
            .await
            .and_then(|after| after.since(writer_before, seconds));
        let row = Row {
            backend,
            endpoint: endpoint.to_string(),
            concurrency: connections,
            measured,
            peak_rss_kib: node.peak_rss_kib(),
            private_rss_kib: node.private_rss_kib(),
            ratio: None,
            of_bare: None,
            writer,
        };
        eprintln!("{}", report::progress_line(&row));
        rows.push(row);
        if !node.alive() {
            eprintln!(
                "\n!!! {backend}: the server died during {endpoint} at {connections} connections !!!\n"
            );
            break;
        }
    }
    rss_per_level
}

/// Area codes of newContact's phone numbers, one per level on the same database.
const AREAS: [u32; 8] = [212, 646, 718, 917, 312, 617, 213, 305];

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.serve_bare_axum {
        bare::serve().await;
        return;
    }
    let started = Instant::now();
    for endpoint in &args.endpoints {
        if !ENDPOINTS.contains(&endpoint.as_str()) {
            eprintln!("unknown endpoint {endpoint:?}: use {}", ENDPOINTS.join(","));
            std::process::exit(2);
        }
    }
    assert!(
        args.contacts >= 1 && args.contacts <= 8_000_000,
        "--contacts 1..=8000000"
    );
    let Some(wrk_version) = wrk::version() else {
        eprintln!(
            "wrk is not installed: run `bash bench/run.sh`, which installs it (apt-get install wrk)"
        );
        std::process::exit(2);
    };
    let machine = report::Machine::read(wrk_version).await;
    std::fs::create_dir_all(&args.cache).expect("create cache dir");
    let run_dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&args.cache)
        .expect("run dir");

    let mut backends: Vec<(&'static str, Option<&str>)> = vec![("SQLite", None)];
    if let Some(url) = args.postgres.as_deref() {
        backends.push(("PostgreSQL", Some(url)));
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut seeds = Vec::new();
    let mut rss_per_level = true;
    if args.endpoints.iter().any(|e| e == "healthz") {
        let mut node = start_bare().await;
        eprintln!(
            "bare axum healthz: server pid {} at {}",
            node.pid, node.base
        );
        rss_per_level &= measure_levels(
            &mut node,
            BARE,
            "healthz",
            &Keys::default(),
            1,
            &args,
            &mut rows,
        )
        .await;
        node.stop().await;
    }
    for (backend, pg) in backends {
        let seed = match pg {
            None => preload::sqlite(&args.cache, args.contacts, args.preload_concurrency).await,
            Some(server) => {
                preload::postgres(&args.cache, server, args.contacts, args.preload_concurrency)
                    .await
            }
        };
        for endpoint in &args.endpoints {
            let name = format!("roster_bench_run_{}", endpoint.to_lowercase());
            let url = match pg {
                None => preload::sqlite_copy(&seed, run_dir.path(), &name),
                Some(server) => preload::postgres_copy(&seed, server, &name).await,
            };
            let mut node = start(&url, run_dir.path()).await;
            eprintln!(
                "{backend} {endpoint}: server pid {} at {}",
                node.pid, node.base
            );
            rss_per_level &= measure_levels(
                &mut node,
                backend,
                endpoint,
                &seed.keys,
                seed.contacts,
                &args,
                &mut rows,
            )
            .await;
            node.stop().await;
            match pg {
                None => {
                    let _ = std::fs::remove_file(run_dir.path().join(format!("{name}.db")));
                }
                Some(server) => preload::postgres_drop(server, &name).await,
            }
        }
        seeds.push((backend, seed));
    }
    report::ratios(&mut rows);
    let info = RunInfo {
        seeds,
        rss_per_level,
        seconds: started.elapsed().as_secs_f64(),
        command: command_line(),
    };
    let failures = report::finish(&rows, &info, &machine, &args);
    if failures > 0 {
        eprintln!("\n{}", "!".repeat(72));
        eprintln!(
            "!!! {failures} REQUESTS FAILED (non-2xx or socket errors): these figures are not a clean run !!!"
        );
        eprintln!("{}\n", "!".repeat(72));
        std::process::exit(1);
    }
}

/// How this run was started, as a user would type it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        "bash bench/run.sh".into()
    } else {
        format!("bash bench/run.sh {}", args.join(" "))
    }
}
