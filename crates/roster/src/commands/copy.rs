//! `roster copy --from URL --to URL`: moving an installation to another database.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use roster_store::copy::{CopyProgress, copy};

use super::CommandResult;
use crate::config::{Config, redact_password};

pub async fn run(config: &Config, from: &str, to: &str) -> CommandResult {
    let bars = Bars::default();
    let counts = copy(from, to, &config.store_options(), &bars).await?;
    println!(
        "copied {} -> {}",
        redact_password(from),
        redact_password(to)
    );
    for count in &counts {
        println!(
            "{:<20} source {:>10}  destination {:>10}",
            count.table, count.source, count.destination
        );
    }
    println!("verified: every table has the same number of rows on both sides");
    Ok(())
}

/// One progress bar per table on stderr (hidden when stderr is not a terminal).
#[derive(Default)]
struct Bars {
    all: MultiProgress,
    current: std::sync::Mutex<Option<ProgressBar>>,
}

impl CopyProgress for Bars {
    fn start_table(&self, table: &str, rows: u64) {
        let style =
            ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos}/{len} rows ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        let bar = self.all.add(
            ProgressBar::new(rows)
                .with_style(style)
                .with_prefix(table.to_string()),
        );
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn copied(&self, rows: u64) {
        if let Some(bar) = &*self.current.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.inc(rows);
        }
    }

    fn finish_table(&self) {
        if let Some(bar) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            bar.finish();
        }
    }
}
