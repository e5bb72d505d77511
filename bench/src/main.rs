//! `roster-bench`: newContact and getCustomers throughput and latency, measured in one run
//! on SQLite, on one PostgreSQL process and on two processes sharing one PostgreSQL
//! database. Run it with `bash bench/run.sh` (README, "Benchmarks").

use std::{fmt::Write as _, sync::Arc, time::Duration};

use clap::Parser;
use serde_json::json;

mod load;
mod nodes;

use load::{Run, drive};
use nodes::{Node, PgDatabase, start};

#[derive(Debug, Parser)]
struct Args {
    /// Contacts created with newContact in each scenario.
    #[arg(long, default_value_t = 20_000)]
    contacts: usize,
    /// getCustomers requests (limit 100) in each scenario.
    #[arg(long, default_value_t = 10_000)]
    reads: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Upper bound on each phase, in seconds.
    #[arg(long, default_value_t = 120)]
    time_cap: u64,
    /// PostgreSQL server to create the benchmark databases on.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres: String,
    /// Skip the PostgreSQL scenarios.
    #[arg(long)]
    sqlite_only: bool,
    /// Where the Markdown report goes.
    #[arg(long, default_value = "bench/last-run.md")]
    out: String,
}

struct Scenario {
    name: &'static str,
    write: Run,
    read: Run,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut scenarios = Vec::new();

    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let node = start(&sqlite_url, dir.path()).await;
    scenarios.push(measure("SQLite, 1 process", &[node], &args).await);

    if !args.sqlite_only {
        let db = PgDatabase::create(&args.postgres, "roster_bench_one")
            .await
            .expect("PostgreSQL reachable (or pass --sqlite-only)");
        let node = start(&db.url, dir.path()).await;
        scenarios.push(measure("PostgreSQL, 1 process", &[node], &args).await);
        db.drop_now().await;

        let db = PgDatabase::create(&args.postgres, "roster_bench_two")
            .await
            .expect("PostgreSQL reachable");
        let first = start(&db.url, dir.path()).await;
        let second = start(&db.url, dir.path()).await;
        scenarios.push(measure("PostgreSQL, 2 processes", &[first, second], &args).await);
        db.drop_now().await;
    }

    let report = report(&scenarios, &args);
    print!("{report}");
    std::fs::write(&args.out, &report).expect("write report");
    eprintln!("report written to {}", args.out);
}

async fn measure(name: &'static str, nodes: &[Node], args: &Args) -> Scenario {
    let keys = nodes[0].keys();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let cap = Duration::from_secs(args.time_cap);
    let app_id = keys.app_id.clone();
    eprintln!("{name}: newContact x {}", args.contacts);
    let write = drive(
        &bases,
        &keys,
        "newContact",
        args.contacts,
        args.concurrency,
        cap,
        {
            let app_id = app_id.clone();
            Arc::new(move |i| {
                json!({"app_id": app_id, "first_name": format!("N{i}"), "last_name": "Bench",
                   "email": format!("n{i}@bench.example"), "user_id": format!("b{i}"),
                   "phone": format!("+1415{}{:06}", 2 + (i / 1_000_000) % 8, i % 1_000_000), "tags": "bench", "plan": "gold"})
            })
        },
    )
    .await;
    eprintln!("{name}: getCustomers x {}", args.reads);
    let contacts = write.requests.max(1);
    let read = drive(
        &bases,
        &keys,
        "getCustomers",
        args.reads,
        args.concurrency,
        cap,
        {
            Arc::new(
                move |i| json!({"app_id": app_id, "limit": 100, "offset": (i * 7919) % contacts}),
            )
        },
    )
    .await;
    for (endpoint, run) in [("newContact", &write), ("getCustomers", &read)] {
        if run.errors > 0 {
            eprintln!(
                "WARNING {name}: {} of {} {endpoint} requests failed",
                run.errors, run.requests
            );
        }
    }
    Scenario { name, write, read }
}

fn report(scenarios: &[Scenario], args: &Args) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Run of {}\n", now());
    let _ = writeln!(out, "Machine: {}\n", machine());
    let _ = writeln!(
        out,
        "Load: {} newContact (each a new contact) then {} getCustomers (limit 100, spread offsets), {} concurrent clients, client and servers on the same machine.\n",
        args.contacts, args.reads, args.concurrency
    );
    let _ = writeln!(
        out,
        "| scenario | endpoint | requests | errors | req/s | p50 ms | p99 ms | req/s vs SQLite |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    let baseline = scenarios
        .first()
        .map(|s| (s.write.throughput(), s.read.throughput()));
    for s in scenarios {
        for (endpoint, run, base) in [
            ("newContact", &s.write, baseline.map(|b| b.0)),
            ("getCustomers", &s.read, baseline.map(|b| b.1)),
        ] {
            let ratio = base.map_or(1.0, |b| run.throughput() / b);
            let _ = writeln!(
                out,
                "| {} | {endpoint} | {} | {} | {:.0} | {:.2} | {:.2} | {ratio:.2} |",
                s.name,
                run.requests,
                run.errors,
                run.throughput(),
                run.percentile(0.50).as_secs_f64() * 1000.0,
                run.percentile(0.99).as_secs_f64() * 1000.0,
            );
        }
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
                    / 1024
            })
        })
        .unwrap_or(0);
    format!("{cores} cores ({cpu}), {memory} GiB RAM, release build")
}

fn now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
