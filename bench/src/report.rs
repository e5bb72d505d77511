//! The report: a Markdown table printed and written to `bench/results/latest.md`, the raw
//! figures in `bench/results/latest.json`, and a dated section at the top of
//! `bench/RESULTS.md`.

use std::{fmt::Write as _, path::Path};

use serde_json::json;
use sqlx::{Connection, SqliteConnection};

use crate::{Args, BARE, Row, RunInfo, bare::TARGET_RATIO};

/// The machine and build the figures come from.
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub ram_gib: f64,
    pub rustc: String,
    pub wrk: String,
    pub sqlite: String,
    pub commit: String,
    /// Tracked files differed from the commit when the run started.
    pub dirty: bool,
    /// 1-minute load average when the run started (other work shares the machine).
    pub load_start: String,
}

impl Machine {
    pub async fn read(wrk: String) -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let ram_kib: u64 = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0);
        let sqlite = match SqliteConnection::connect("sqlite::memory:").await {
            Ok(mut conn) => sqlx::query_scalar::<_, String>("SELECT sqlite_version()")
                .fetch_one(&mut conn)
                .await
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            ram_gib: ram_kib as f64 / 1024.0 / 1024.0,
            rustc: command(&["rustc", "--version"]),
            wrk,
            sqlite,
            commit: command(&["git", "rev-parse", "--short=10", "HEAD"]),
            dirty: !command(&["git", "status", "--porcelain", "--untracked-files=no"]).is_empty(),
            load_start: load_average(),
        }
    }

    fn commit_label(&self) -> String {
        if self.dirty {
            format!("{} (plus uncommitted changes in the tree)", self.commit)
        } else {
            self.commit.clone()
        }
    }
}

/// The 1-minute load average.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn command(argv: &[&str]) -> String {
    std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn now() -> String {
    command(&["date", "-u", "+%Y-%m-%d %H:%M UTC"])
}

/// Each row's req/s over /healthz's at the same concurrency on the same backend.
pub fn ratios(rows: &mut [Row]) {
    let ceilings: Vec<(&'static str, usize, f64)> = rows
        .iter()
        .filter(|r| r.endpoint == "healthz")
        .map(|r| (r.backend, r.concurrency, r.measured.rps()))
        .collect();
    let of = |backend: &str, concurrency: usize, rps: f64| {
        ceilings
            .iter()
            .find(|(b, c, ceiling)| *b == backend && *c == concurrency && *ceiling > 0.0)
            .map(|(_, _, ceiling)| rps / ceiling)
    };
    for row in rows.iter_mut() {
        row.ratio = of(row.backend, row.concurrency, row.measured.rps());
        row.of_bare = of(BARE, row.concurrency, row.measured.rps());
    }
}

/// Issue 7's throughput target restated as a ratio of bare axum measured in this run
/// (`bare.rs`): each backend's best newEvent level against it.
fn target_lines(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut backends: Vec<&str> = rows.iter().map(|r| r.backend).collect();
    backends.dedup();
    for backend in backends {
        let best = rows
            .iter()
            .filter(|r| r.backend == backend && r.endpoint == "newEvent")
            .filter_map(|r| r.of_bare.map(|of_bare| (r, of_bare)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((row, of_bare)) = best {
            let _ = writeln!(
                out,
                "- {backend}: newEvent {:.0} req/s at {} connections = {of_bare:.3} of bare axum ({}; the target's ratio is {TARGET_RATIO:.3}, {:.0} req/s in this run).",
                row.measured.rps(),
                row.concurrency,
                if of_bare >= TARGET_RATIO {
                    "meets it"
                } else {
                    "short of it"
                },
                row.measured.rps() / of_bare * TARGET_RATIO,
            );
        }
    }
    if out.is_empty() {
        return out;
    }
    format!(
        "Throughput target (issue 7: 30,000 newEvent/s where bare axum answers ~160,000/s, a ratio of {TARGET_RATIO:.3}):\n\n{out}"
    )
}

pub fn progress_line(row: &Row) -> String {
    let m = &row.measured;
    let errors = if m.non_2xx + m.socket_errors > 0 {
        format!(
            "  <-- {} non-2xx, {} socket errors",
            m.non_2xx, m.socket_errors
        )
    } else {
        String::new()
    };
    let writer = row.writer.map_or(String::new(), |w| {
        format!(
            ", writer busy {:.0}% ({:.0} writes per batch)",
            w.busy * 100.0,
            w.writes_per_batch
        )
    });
    format!(
        "{} {} c={}: {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, peak RSS {}, private RSS {}{writer}{errors}",
        row.backend,
        row.endpoint,
        row.concurrency,
        m.requests,
        m.rps(),
        m.p50_ms,
        m.p99_ms,
        m.max_ms,
        rss(row.peak_rss_kib),
        rss(row.private_rss_kib)
    )
}

fn rss(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| backend | endpoint | concurrency | requests | non-2xx | socket errors | req/s | p50 ms | p99 ms | max ms | vs /healthz | vs bare axum | server peak RSS | private RSS at end | writer busy | writes per batch |"
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in rows {
        let m = &row.measured;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} |",
            row.backend,
            if row.endpoint == "healthz" {
                "/healthz"
            } else {
                &row.endpoint
            },
            row.concurrency,
            m.requests,
            m.non_2xx,
            m.socket_errors,
            m.rps(),
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            row.ratio.map_or("-".into(), |r| format!("{r:.3}")),
            row.of_bare.map_or("-".into(), |r| format!("{r:.3}")),
            rss(row.peak_rss_kib),
            rss(row.private_rss_kib),
            row.writer
                .map_or("-".into(), |w| format!("{:.0}%", w.busy * 100.0)),
            row.writer
                .map_or("-".into(), |w| format!("{:.0}", w.writes_per_batch)),
        );
    }
    out
}

fn section(rows: &[Row], info: &RunInfo, machine: &Machine, args: &Args) -> String {
    let mut out = String::new();
    let contacts = info
        .seeds
        .first()
        .map_or(args.contacts, |(_, s)| s.contacts);
    let _ = writeln!(
        out,
        "## {}: wrk against {} preloaded contacts, commit {}\n",
        now(),
        thousands(contacts),
        machine.commit
    );
    let _ = writeln!(
        out,
        "Command: `{}` (the whole run took {:.1} min).\n",
        info.command,
        info.seconds / 60.0
    );
    let _ = writeln!(
        out,
        "Machine: {} cores ({}), {:.0} GiB RAM; {}; {}; SQLite {}; release build of commit {}. Load average (1 min) {} at the start of the run, {} at the end: other work on the machine competes with the server and wrk.\n",
        machine.cores,
        machine.cpu,
        machine.ram_gib,
        machine.rustc,
        machine.wrk,
        machine.sqlite,
        machine.commit_label(),
        machine.load_start,
        load_average()
    );
    for (backend, seed) in &info.seeds {
        let _ = writeln!(
            out,
            "Preload ({backend}): {} contacts through `Store::upsert_contact`, {} concurrent writers: {:.1} s ({:.0} contacts/s){}.\n",
            thousands(seed.contacts),
            args.preload_concurrency,
            seed.preload_seconds,
            seed.contacts as f64 / seed.preload_seconds.max(1e-9),
            if seed.built_now {
                String::new()
            } else {
                format!("; reused from the cache, built {}", seed.built_at)
            }
        );
    }
    let _ = writeln!(
        out,
        "Each endpoint: a fresh copy of the preloaded database, a new `roster serve` with its defaults (SQLite synchronous=FULL), then each concurrency level for {} s with `wrk -t{} -c<concurrency> --latency` on loopback (closed loop; wrk shares the {} cores with the server). getCustomers: limit {}, random offsets over the whole table. Peak RSS: the server's VmHWM {}; on SQLite it includes the database pages the writer reads through its memory map (the kernel's page cache, shared), so the private RSS (RssAnon) at the end of the level is the server's own memory. Bare axum: the reference server of `bench/src/bare.rs` (the same `/healthz` answer on axum's defaults, without Roster's middleware, state or store), driven the same way; \"vs bare axum\" divides by its figure at the same concurrency. Writer busy: the share of the level's wall time the group-commit writer spent writing batches (from the server's `/metrics`), and the writes each batch held; on SQLite, near 100% means its one writer is the bound (PostgreSQL runs four writers per process, so up to 400%).\n",
        args.duration,
        args.wrk_threads,
        machine.cores,
        100,
        if info.rss_per_level {
            "during that level (reset before each)"
        } else {
            "since the server started (it could not be reset per level)"
        }
    );
    out.push_str(&table(rows));
    let target = target_lines(rows);
    if !target.is_empty() {
        let _ = write!(out, "\n{target}");
    }
    let failures: u64 = rows
        .iter()
        .map(|r| r.measured.non_2xx + r.measured.socket_errors)
        .sum();
    if failures > 0 {
        let _ = writeln!(
            out,
            "\n**WARNING: {failures} requests failed (non-2xx or socket errors); this run is not clean.**"
        );
    }
    out
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints the table, writes the raw figures and (unless `--no-record`) the RESULTS.md
/// section; returns the number of failed requests.
pub fn finish(rows: &[Row], info: &RunInfo, machine: &Machine, args: &Args) -> u64 {
    let section = section(rows, info, machine, args);
    println!("\n{section}");
    std::fs::create_dir_all(&args.raw_dir).expect("create results dir");
    std::fs::write(args.raw_dir.join("latest.md"), &section).expect("write latest.md");
    let raw = json!({
        "date": now(),
        "command": info.command,
        "seconds": info.seconds,
        "commit": machine.commit,
        "dirty": machine.dirty,
        "machine": {"cores": machine.cores, "cpu": machine.cpu, "ram_gib": machine.ram_gib,
                    "rustc": machine.rustc, "wrk": machine.wrk, "sqlite": machine.sqlite,
                    "load_average_start": machine.load_start, "load_average_end": load_average()},
        "duration_seconds": args.duration,
        "wrk_threads": args.wrk_threads,
        "peak_rss_per_level": info.rss_per_level,
        "preload": info.seeds.iter().map(|(backend, s)| json!({
            "backend": backend, "contacts": s.contacts, "seconds": s.preload_seconds,
            "built_at": s.built_at, "built_this_run": s.built_now,
            "concurrency": args.preload_concurrency})).collect::<Vec<_>>(),
        "rows": rows.iter().map(|r| json!({
            "backend": r.backend, "endpoint": r.endpoint, "concurrency": r.concurrency,
            "requests": r.measured.requests, "seconds": r.measured.seconds,
            "non_2xx": r.measured.non_2xx, "socket_errors": r.measured.socket_errors,
            "requests_per_second": r.measured.rps(), "p50_ms": r.measured.p50_ms,
            "p90_ms": r.measured.p90_ms, "p99_ms": r.measured.p99_ms, "max_ms": r.measured.max_ms,
            "ratio_to_healthz": r.ratio, "ratio_to_bare_axum": r.of_bare, "peak_rss_kib": r.peak_rss_kib, "private_rss_kib": r.private_rss_kib,
            "writer_busy_fraction": r.writer.map(|w| w.busy),
            "writes_per_batch": r.writer.map(|w| w.writes_per_batch)})).collect::<Vec<_>>(),
    });
    std::fs::write(
        args.raw_dir.join("latest.json"),
        serde_json::to_vec_pretty(&raw).unwrap(),
    )
    .expect("write latest.json");
    if args.no_record {
        eprintln!("--no-record: {} left as it was", args.results.display());
    } else {
        record(&args.results, &section);
        eprintln!("added a section to {}", args.results.display());
    }
    eprintln!(
        "raw figures: {}",
        args.raw_dir.join("latest.json").display()
    );
    rows.iter()
        .map(|r| r.measured.non_2xx + r.measured.socket_errors)
        .sum()
}

/// Inserts `section` above the newest recorded section, below the file's preamble.
fn record(path: &Path, section: &str) {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmark results\n\n".into());
    let at = old.find("\n## ").map_or(old.len(), |i| i + 1);
    let new = format!("{}{section}\n{}", &old[..at], &old[at..]);
    std::fs::write(path, new).expect("write RESULTS.md");
}
