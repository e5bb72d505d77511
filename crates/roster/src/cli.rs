use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

/// Roster: a self-hostable customer-engagement server speaking the Gleantap External API v2.
///
/// Configuration comes from built-in defaults, then a TOML file (--config), then ROSTER_*
/// environment variables, then flags; later sources win.
#[derive(Debug, Parser)]
#[command(name = "roster", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL, e.g. sqlite://roster.db (created if missing).
    #[arg(
        long = "database",
        env = "ROSTER_DATABASE_URL",
        global = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "ROSTER_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, env = "ROSTER_LOG_FORMAT", global = true, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// SQLite durability: full (a commit survives a power cut) or normal (faster; may
    /// lose the last commits on power loss, never on a crash).
    #[arg(
        long,
        env = "ROSTER_SQLITE_SYNCHRONOUS",
        global = true,
        value_name = "MODE"
    )]
    pub sqlite_synchronous: Option<String>,
    /// PostgreSQL: connections this process keeps open at most.
    #[arg(
        long,
        env = "ROSTER_PG_MAX_CONNECTIONS",
        global = true,
        value_name = "N"
    )]
    pub pg_max_connections: Option<u32>,
    /// PostgreSQL: seconds a request waits for a free connection (then 503).
    #[arg(
        long,
        env = "ROSTER_PG_ACQUIRE_TIMEOUT_SECONDS",
        global = true,
        value_name = "SECONDS"
    )]
    pub pg_acquire_timeout_seconds: Option<u64>,
    /// PostgreSQL: statements running longer than this are cancelled.
    #[arg(
        long,
        env = "ROSTER_PG_STATEMENT_TIMEOUT_SECONDS",
        global = true,
        value_name = "SECONDS"
    )]
    pub pg_statement_timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (creates the database and a first app when there is none).
    Serve(ServeArgs),
    /// Manage apps (tenants) and their keys.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config(ServeArgs),
    /// Copy an installation's data to another database (e.g. SQLite to PostgreSQL),
    /// verifying row counts per table. Safe to re-run: rows are upserted.
    Copy {
        /// Source database URL.
        #[arg(long, value_name = "URL")]
        from: String,
        /// Destination database URL (created and migrated if needed).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// Settings of the HTTP server.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "ROSTER_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Region (ISO 3166 code) for phone numbers written without a country code.
    #[arg(long, env = "ROSTER_DEFAULT_REGION", value_name = "REGION")]
    pub default_region: Option<String>,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "ROSTER_SHUTDOWN_GRACE_SECONDS", value_name = "SECONDS")]
    pub shutdown_grace_seconds: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an app and print its app_id, API key and secret key.
    Create {
        /// The business's name.
        #[arg(long)]
        name: String,
        /// Print exactly one JSON object {app_id, api_key, secret_key}.
        #[arg(long)]
        json: bool,
    },
    /// List apps (the secret keys are never shown: they are stored hashed).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Replace an app's secret key and print the new one; the old one stops working.
    RotateSecret {
        app_id: String,
        /// Print exactly one JSON object {app_id, api_key, secret_key}.
        #[arg(long)]
        json: bool,
    },
}
