//! `roster-bench`: newContact and getCustomers throughput and latency, measured in one run
//! on SQLite, on one PostgreSQL process and on two processes sharing one PostgreSQL
//! database; with `--events`, also newEvent load and getCustomers with fulldata on a
//! database holding those events. Run it with `bash bench/run.sh` (README, "Benchmarks").

use std::{sync::Arc, time::Duration};

use clap::Parser;
use serde_json::json;

mod load;
mod nodes;
mod report;

use load::{Run, drive};
use nodes::{Keys, Node, PgDatabase, start};

#[derive(Debug, Parser)]
pub struct Args {
    /// Contacts created with newContact in each scenario.
    #[arg(long, default_value_t = 20_000)]
    contacts: usize,
    /// getCustomers requests (limit 100) in each scenario.
    #[arg(long, default_value_t = 10_000)]
    reads: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Upper bound on each contact phase, in seconds.
    #[arg(long, default_value_t = 120)]
    time_cap: u64,
    /// newEvent requests in the events phase (0 skips it). The scale is
    /// `--events 1000000 --event-contacts 100000`.
    #[arg(long, default_value_t = 0)]
    events: usize,
    /// Distinct contacts the events belong to (each created by its first event).
    #[arg(long, default_value_t = 10_000)]
    event_contacts: usize,
    /// Upper bound on the events phase, in seconds.
    #[arg(long, default_value_t = 3600)]
    events_time_cap: u64,
    /// getCustomers requests with fulldata at limit 1000 after the events are loaded.
    #[arg(long, default_value_t = 20)]
    fulldata_reads: usize,
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

pub struct Scenario {
    name: &'static str,
    write: Run,
    read: Run,
    /// With `--events`: newEvent, then getCustomers with fulldata at limit 1000.
    events: Option<(Run, Run)>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut scenarios = Vec::new();

    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let node = start(&sqlite_url, dir.path()).await;
    scenarios.push(measure("SQLite, 1 process", &[node], &args).await);
    report::write(&scenarios, &args);

    if !args.sqlite_only {
        let db = PgDatabase::create(&args.postgres, "roster_bench_one")
            .await
            .expect("PostgreSQL reachable (or pass --sqlite-only)");
        let node = start(&db.url, dir.path()).await;
        scenarios.push(measure("PostgreSQL, 1 process", &[node], &args).await);
        db.drop_now().await;
        report::write(&scenarios, &args);

        let db = PgDatabase::create(&args.postgres, "roster_bench_two")
            .await
            .expect("PostgreSQL reachable");
        let first = start(&db.url, dir.path()).await;
        let second = start(&db.url, dir.path()).await;
        scenarios.push(measure("PostgreSQL, 2 processes", &[first, second], &args).await);
        db.drop_now().await;
    }

    print!("{}", report::write(&scenarios, &args));
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
                   "phone": format!("+1415{}{:06}", 2 + (i / 1_000_000) % 8, i % 1_000_000),
                   "tags": "bench", "plan": "gold"})
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
    // Events once per backend: the two-process scenario shares the PostgreSQL database kind.
    let events = if args.events > 0 && nodes.len() == 1 {
        Some(measure_events(name, &bases, &keys, args).await)
    } else {
        None
    };
    let mut runs = vec![("newContact", &write), ("getCustomers", &read)];
    if let Some((load, full)) = &events {
        runs.extend([("newEvent", load), ("getCustomers fulldata", full)]);
    }
    for (endpoint, run) in runs {
        if run.errors > 0 {
            eprintln!(
                "WARNING {name}: {} of {} {endpoint} requests failed",
                run.errors, run.requests
            );
        }
    }
    Scenario {
        name,
        write,
        read,
        events,
    }
}

/// Loads `--events` events spread over `--event-contacts` contacts through newEvent, then
/// reads pages of 1000 contacts with fulldata (visits, purchases, memberships).
async fn measure_events(name: &str, bases: &[String], keys: &Keys, args: &Args) -> (Run, Run) {
    eprintln!(
        "{name}: newEvent x {} over {} contacts",
        args.events, args.event_contacts
    );
    let (app_id, contacts) = (keys.app_id.clone(), args.event_contacts.max(1));
    let cap = Duration::from_secs(args.events_time_cap);
    let load = drive(bases, keys, "newEvent", args.events, args.concurrency, cap, {
        let app_id = app_id.clone();
        Arc::new(move |i| {
            let day = 1 + (i / contacts) % 28;
            json!({"app_id": app_id, "user_id": format!("ev{}", i % contacts), "id": format!("event-{i}"),
                   "event_type": if i % 5 == 0 { "purchase" } else { "visit" }, "event_name": "Spin",
                   "event_date": format!("2025-02-{day:02}"), "event_time": "6:30 PM",
                   "is_visit": i % 5 != 0, "is_purchase": i % 5 == 0, "location": "Downtown",
                   "event_data": {"staff": "Kim", "room": i % 7}})
        })
    })
    .await;
    eprintln!(
        "{name}: getCustomers fulldata limit 1000 x {}",
        args.fulldata_reads
    );
    let pages = (contacts / 1000).max(1);
    let cap = Duration::from_secs(args.time_cap);
    let full = drive(bases, keys, "getCustomers", args.fulldata_reads, 2, cap, {
        Arc::new(move |i| json!({"app_id": app_id, "fulldata": true, "limit": 1000, "offset": (i % pages) * 1000}))
    })
    .await;
    (load, full)
}
