//! A real `roster serve` process for the benchmark, and its memory figures.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::{Child, Command},
};

/// The credentials of the preloaded app (none, for the bare axum reference).
#[derive(Clone, Debug, Default)]
pub struct Keys {
    pub app_id: String,
    pub api_key: String,
    pub secret_key: String,
}

pub struct Node {
    pub base: String,
    pub pid: u32,
    child: Child,
}

/// The `roster` binary built next to this one (`cargo build --release` builds both), or
/// the one `ROSTER_BENCH_SERVER` names (to measure an older build the same way).
pub fn roster_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ROSTER_BENCH_SERVER") {
        return PathBuf::from(path);
    }
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("roster")
}

/// Starts `roster serve` on `database_url` with its defaults (SQLite: synchronous=FULL), but
/// no rate limit.
pub async fn start(database_url: &str, dir: &std::path::Path) -> Node {
    let mut command = Command::new(roster_binary());
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            database_url,
        ])
        .env("ROSTER_LOG", "warn")
        // The per-app rate limit (README, "Protection") would measure itself, not Roster.
        // Everything else stays at its default.
        .env("ROSTER_RATE_LIMIT_PER_SECOND", "0")
        .current_dir(dir);
    spawn(command, "Roster listening on ").await
}

/// Starts this program's bare axum server (`crate::bare`).
pub async fn start_bare() -> Node {
    let me = std::env::current_exe().expect("own path");
    let mut command = Command::new(me);
    command.arg("--serve-bare-axum");
    spawn(command, crate::bare::LISTENING).await
}

/// Runs `command` until it prints `listening` followed by its address.
async fn spawn(mut command: Command, listening: &str) -> Node {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server (build it with cargo build --release)");
    let pid = child.id().expect("server pid");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = String::new();
    let base = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            printed.push_str(&line);
            printed.push('\n');
            if let Some(addr) = line.strip_prefix(listening) {
                return addr.to_string();
            }
        }
        panic!("the server exited before listening: {printed}");
    })
    .await
    .expect("the server starts");
    // Keep draining stdout so that the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Node { base, pid, child }
}

impl Node {
    /// Peak resident memory since start or since the last [`Node::reset_peak`], in KiB.
    /// It counts the database pages SQLite read through its memory map (the kernel's page
    /// cache, shared and reclaimable), so it grows with the pages a level touched.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    /// The process's own resident memory now (`RssAnon`: heap and stacks, no file pages).
    pub fn private_rss_kib(&self) -> Option<u64> {
        self.status_kib("RssAnon:")
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Resets the peak (writing 5 to clear_refs); false if the kernel refused.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The group-commit writer's running totals from the server's `/metrics` (`None` for
    /// the bare axum reference, or before the writer has committed anything).
    pub async fn writer_totals(&self) -> Option<WriterTotals> {
        let address = self.base.strip_prefix("http://").unwrap_or(&self.base);
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
            .await
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        WriterTotals::parse(&text)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Sums of the group-commit writer's histograms: time spent writing batches, batches, and
/// the writes they held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterTotals {
    pub busy_seconds: f64,
    pub batches: f64,
    pub writes: f64,
}

/// What the writer did during one level: the share of the time it was writing, and the
/// writes per batch. A writer busy nearly all the time is the bound (bench/RESULTS.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterLoad {
    pub busy: f64,
    pub writes_per_batch: f64,
}

impl WriterTotals {
    fn parse(metrics: &str) -> Option<Self> {
        let value = |name: &str| {
            metrics.lines().find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
                rest.trim().parse::<f64>().ok()
            })
        };
        Some(Self {
            busy_seconds: value("roster_group_commit_seconds_sum")?,
            batches: value("roster_group_commit_seconds_count")?,
            writes: value("roster_group_commit_batch_size_sum")?,
        })
    }

    /// The load between `before` (`None`: the writer had not committed yet) and these
    /// totals, over `seconds` of wall time.
    pub fn since(&self, before: Option<WriterTotals>, seconds: f64) -> Option<WriterLoad> {
        let before = before.unwrap_or(WriterTotals {
            busy_seconds: 0.0,
            batches: 0.0,
            writes: 0.0,
        });
        let batches = self.batches - before.batches;
        (batches > 0.0 && seconds > 0.0).then(|| WriterLoad {
            busy: (self.busy_seconds - before.busy_seconds) / seconds,
            writes_per_batch: (self.writes - before.writes) / batches,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_figures_are_read_from_metrics_and_differenced() {
        let before = WriterTotals::parse(
            "roster_group_commit_seconds_sum 1.5\nroster_group_commit_seconds_count 10\n\
             roster_group_commit_batch_size_sum 1000\nroster_group_commit_batch_size_count 10\n",
        )
        .unwrap();
        let after = WriterTotals::parse(
            "# TYPE x summary\nroster_group_commit_batch_size_sum 3000\n\
             roster_group_commit_seconds_sum 9.5\nroster_group_commit_seconds_count 30\n",
        )
        .unwrap();
        let load = after.since(Some(before), 10.0).unwrap();
        assert!((load.busy - 0.8).abs() < 1e-9);
        assert!((load.writes_per_batch - 100.0).abs() < 1e-9);
        assert_eq!(WriterTotals::parse("http_requests_total 5\n"), None);
        assert_eq!(after.since(Some(after), 10.0), None);
    }
}
