//! The `roster` binary: glue between the command line, the configuration and the crates
//! that do the work.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod config;

/// Memory is allocated by request threads and freed by the group-commit writer (and the
/// reverse); glibc's malloc paid for that in arena locks and chunk consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
