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
    /// SQLite: MiB of the database file the writer reads through a memory map (0: none).
    #[arg(
        long,
        env = "ROSTER_SQLITE_MMAP_MIB",
        global = true,
        value_name = "MIB"
    )]
    pub sqlite_mmap_mib: Option<u64>,
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
    /// Look at the outbox and inbound messages.
    #[command(subcommand)]
    Messages(MessagesCommand),
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
    /// Hosted form submissions accepted per client address and minute (0: no limit).
    #[arg(long, env = "ROSTER_FORM_SUBMISSIONS_PER_MINUTE", value_name = "N")]
    pub form_submissions_per_minute: Option<u32>,
    /// Requests per second each app may make on average (0: no limit).
    #[arg(long, env = "ROSTER_RATE_LIMIT_PER_SECOND", value_name = "N")]
    pub rate_limit_per_second: Option<u32>,
    /// Requests an app may make back to back after a quiet spell.
    #[arg(long, env = "ROSTER_RATE_LIMIT_BURST", value_name = "N")]
    pub rate_limit_burst: Option<u32>,
    /// Seconds a request may take before it is abandoned with a 503 (0: no limit).
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT_SECONDS", value_name = "SECONDS")]
    pub request_timeout_seconds: Option<u64>,
    /// API requests handled at once; more are answered 503 at once (0: no limit).
    #[arg(long, env = "ROSTER_MAX_CONCURRENT_REQUESTS", value_name = "N")]
    pub max_concurrent_requests: Option<usize>,
    /// JSON bodies: objects and arrays nested at most this deep (400 beyond).
    #[arg(long, env = "ROSTER_JSON_MAX_DEPTH", value_name = "N")]
    pub json_max_depth: Option<usize>,
    /// JSON bodies: bytes of any string or field name, message bodies aside (413 beyond).
    #[arg(long, env = "ROSTER_JSON_MAX_STRING_BYTES", value_name = "BYTES")]
    pub json_max_string_bytes: Option<usize>,
    /// JSON bodies: items of any array (413 beyond).
    #[arg(long, env = "ROSTER_JSON_MAX_ARRAY_ITEMS", value_name = "N")]
    pub json_max_array_items: Option<usize>,
    /// JSON bodies: fields of any object (413 beyond).
    #[arg(long, env = "ROSTER_JSON_MAX_OBJECT_FIELDS", value_name = "N")]
    pub json_max_object_fields: Option<usize>,
    #[command(flatten)]
    pub messaging: MessagingArgs,
}

/// Messaging: server-wide provider defaults (apps override them with `roster apps
/// configure`) and the delivery workers.
#[derive(Debug, Args, Default, Clone)]
pub struct MessagingArgs {
    /// SMS provider: twilio, or log (writes messages to the log).
    #[arg(long, env = "ROSTER_SMS_PROVIDER", value_name = "PROVIDER")]
    pub sms_provider: Option<String>,
    /// Base URL of the Twilio-compatible API.
    #[arg(long, env = "ROSTER_TWILIO_BASE_URL", value_name = "URL")]
    pub twilio_base_url: Option<String>,
    #[arg(long, env = "ROSTER_TWILIO_ACCOUNT_SID", value_name = "SID")]
    pub twilio_account_sid: Option<String>,
    #[arg(
        long,
        env = "ROSTER_TWILIO_AUTH_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub twilio_auth_token: Option<String>,
    /// Sender numbers (E.164 or a Messaging Service SID), comma-separated; the first is
    /// the default.
    #[arg(long, env = "ROSTER_SMS_FROM", value_name = "NUMBERS")]
    pub sms_from: Option<String>,
    /// Email provider: smtp, or log.
    #[arg(long, env = "ROSTER_EMAIL_PROVIDER", value_name = "PROVIDER")]
    pub email_provider: Option<String>,
    #[arg(long, env = "ROSTER_SMTP_HOST", value_name = "HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "ROSTER_SMTP_PORT", value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// none, starttls or tls.
    #[arg(long, env = "ROSTER_SMTP_TLS", value_name = "MODE")]
    pub smtp_tls: Option<String>,
    #[arg(long, env = "ROSTER_SMTP_USERNAME", value_name = "USER")]
    pub smtp_username: Option<String>,
    #[arg(
        long,
        env = "ROSTER_SMTP_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub smtp_password: Option<String>,
    #[arg(long, env = "ROSTER_EMAIL_FROM", value_name = "ADDRESS")]
    pub email_from: Option<String>,
    #[arg(long, env = "ROSTER_EMAIL_FROM_NAME", value_name = "NAME")]
    pub email_from_name: Option<String>,
    /// The URL providers call back (status callbacks, signature checks).
    #[arg(long, env = "ROSTER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Concurrent sends of this node's delivery workers; 0 disables them here.
    #[arg(long, env = "ROSTER_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Waits between attempts of a transient failure, e.g. 5s,30s,2m,10m,1h,4h.
    #[arg(long, env = "ROSTER_RETRY_SCHEDULE", value_name = "WAITS")]
    pub retry_schedule: Option<String>,
    /// How long a send request waits for the first attempt (0: queue only).
    #[arg(long, env = "ROSTER_INLINE_SEND_TIMEOUT_MS", value_name = "MS")]
    pub inline_send_timeout_ms: Option<u64>,
    /// A provider call taking longer counts as a transient failure.
    #[arg(long, env = "ROSTER_PROVIDER_TIMEOUT_SECONDS", value_name = "SECONDS")]
    pub provider_timeout_seconds: Option<u64>,
    /// How long a worker's claim on a message lasts (then another may retry it).
    #[arg(long, env = "ROSTER_DELIVERY_LEASE_SECONDS", value_name = "SECONDS")]
    pub delivery_lease_seconds: Option<u64>,
    /// How often idle workers look for due messages.
    #[arg(long, env = "ROSTER_DELIVERY_POLL_MS", value_name = "MS")]
    pub delivery_poll_ms: Option<u64>,
    /// Default IANA time zone of apps (for campaign quiet hours).
    #[arg(long, env = "ROSTER_TIMEZONE", value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Campaign SMS quiet hours, HH:MM-HH:MM or none (default 19:30-09:00).
    #[arg(long, env = "ROSTER_QUIET_HOURS_SMS", value_name = "WINDOW")]
    pub quiet_hours_sms: Option<String>,
    /// Campaign email quiet hours (default 00:00-04:00).
    #[arg(long, env = "ROSTER_QUIET_HOURS_EMAIL", value_name = "WINDOW")]
    pub quiet_hours_email: Option<String>,
    /// Campaign SMS per second per app (0: no limit).
    #[arg(long, env = "ROSTER_SMS_PER_SECOND", value_name = "N")]
    pub sms_per_second: Option<u32>,
    /// Campaign emails per second per app (0: no limit).
    #[arg(long, env = "ROSTER_EMAIL_PER_SECOND", value_name = "N")]
    pub email_per_second: Option<u32>,
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
    /// Set an app's own messaging settings (over the server's); prints the app's
    /// settings after the change, secrets redacted.
    Configure {
        app_id: String,
        #[command(flatten)]
        settings: Box<AppMessagingArgs>,
    },
}

/// An app's messaging overrides; options not given keep their current value.
#[derive(Debug, Args, Clone)]
pub struct AppMessagingArgs {
    /// twilio or log.
    #[arg(long, value_name = "PROVIDER")]
    pub sms_provider: Option<String>,
    #[arg(long, value_name = "URL")]
    pub twilio_base_url: Option<String>,
    #[arg(long, value_name = "SID")]
    pub twilio_account_sid: Option<String>,
    /// Also from the environment, to keep it out of the shell history and `ps`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ROSTER_APP_TWILIO_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub twilio_auth_token: Option<String>,
    /// The app's sender numbers, comma-separated; the first is the default.
    #[arg(long, value_name = "NUMBERS")]
    pub sms_from: Option<String>,
    /// smtp or log.
    #[arg(long, value_name = "PROVIDER")]
    pub email_provider: Option<String>,
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// none, starttls or tls.
    #[arg(long, value_name = "MODE")]
    pub smtp_tls: Option<String>,
    #[arg(long, value_name = "USER")]
    pub smtp_username: Option<String>,
    /// Also from the environment, to keep it out of the shell history and `ps`.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "ROSTER_APP_SMTP_PASSWORD",
        hide_env_values = true
    )]
    pub smtp_password: Option<String>,
    #[arg(long, value_name = "ADDRESS")]
    pub email_from: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub email_from_name: Option<String>,
    /// The double opt-in request `optin` sends.
    #[arg(long, value_name = "TEXT")]
    pub optin_text: Option<String>,
    /// The answer to HELP and INFO.
    #[arg(long, value_name = "TEXT")]
    pub help_text: Option<String>,
    /// The confirmation a STOP gets.
    #[arg(long, value_name = "TEXT")]
    pub optout_text: Option<String>,
    /// The confirmation of START and YES.
    #[arg(long, value_name = "TEXT")]
    pub optin_confirmation_text: Option<String>,
    /// Minimum age (by dob) for `optin`.
    #[arg(long, value_name = "YEARS")]
    pub min_age: Option<u32>,
    /// The app's IANA time zone (campaign quiet hours).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Campaign SMS quiet hours, HH:MM-HH:MM or none.
    #[arg(long, value_name = "WINDOW")]
    pub quiet_hours_sms: Option<String>,
    /// Campaign email quiet hours, HH:MM-HH:MM or none.
    #[arg(long, value_name = "WINDOW")]
    pub quiet_hours_email: Option<String>,
    /// Campaign SMS per second (0: no limit).
    #[arg(long, value_name = "N")]
    pub sms_per_second: Option<u32>,
    /// Campaign emails per second (0: no limit).
    #[arg(long, value_name = "N")]
    pub email_per_second: Option<u32>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// List an app's messages, oldest first.
    List {
        #[arg(long = "app", value_name = "APP_ID")]
        app_id: String,
        /// queued, sending, sent, delivered, failed or received.
        #[arg(long)]
        status: Option<String>,
        /// sms or email.
        #[arg(long)]
        channel: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}
