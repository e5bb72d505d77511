//! The Markdown report: printed, and written after every scenario so that an interrupted
//! long run still leaves its figures.

use std::fmt::Write as _;

use crate::{Args, Scenario, load::Run};

pub fn write(scenarios: &[Scenario], args: &Args) -> String {
    let report = render(scenarios, args);
    std::fs::write(&args.out, &report).expect("write report");
    report
}

fn render(scenarios: &[Scenario], args: &Args) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Run of {}\n", now());
    let _ = writeln!(out, "Machine: {}\n", machine());
    let _ = writeln!(
        out,
        "Contacts: {} newContact (each a new contact), then {} getCustomers (limit 100, spread offsets); {} concurrent clients; client and servers on the same machine.\n",
        args.contacts, args.reads, args.concurrency
    );
    if args.events > 0 {
        let _ = writeln!(
            out,
            "Events: {} newEvent over {} contacts ({} concurrent clients; 4 in 5 visits, 1 in 5 purchases), then {} getCustomers with fulldata at limit 1000 (2 concurrent clients); on SQLite and one PostgreSQL process.\n",
            args.events, args.event_contacts, args.concurrency, args.fulldata_reads
        );
    }
    let _ = writeln!(
        out,
        "| scenario | endpoint | requests | errors | req/s | p50 ms | p99 ms | req/s vs SQLite |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    let first = scenarios.first();
    for s in scenarios {
        let mut rows: Vec<(&str, &Run, Option<&Run>)> = vec![
            ("newContact", &s.write, first.map(|f| &f.write)),
            ("getCustomers", &s.read, first.map(|f| &f.read)),
        ];
        if let Some((load, full)) = &s.events {
            let base = first.and_then(|f| f.events.as_ref());
            rows.push(("newEvent", load, base.map(|b| &b.0)));
            rows.push((
                "getCustomers fulldata, limit 1000",
                full,
                base.map(|b| &b.1),
            ));
        }
        for (endpoint, run, base) in rows {
            let ratio = base.map_or(1.0, |b| run.throughput() / b.throughput());
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
