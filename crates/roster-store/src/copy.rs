//! `roster copy`: moves an installation between databases (SQLite to PostgreSQL when a
//! studio outgrows one machine, or back). Rows are copied table by table in key order and
//! upserted, so a re-run after an interruption finishes the job without duplicates; at the
//! end the row counts of every table are compared.

use crate::{
    Backend, PgStore, SqliteStore, StoreError, StoreOptions, StoreResult,
    backend::Pools,
    conn::{Arg, Conn, Kind},
    postgres::PgPools,
    sqlite::SqlitePools,
};

/// A table as `roster copy` sees it. Every table of the schema must be listed here, in an
/// order where referenced tables come first (a test checks the list against the schema).
pub struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [(&'static str, Kind)],
}

use Kind::{Bool, Int, OptInt, Text};

#[rustfmt::skip]
pub const TABLES: &[Table] = &[
    Table {
        name: "apps",
        key: &["pk"],
        columns: &[
            ("pk", Int),
            ("app_id", Text),
            ("name", Text),
            ("api_key", Text),
            ("secret_hash", Text),
            ("created_date", Text),
        ],
    },
    Table {
        name: "contacts",
        key: &["pk"],
        columns: &[
            ("pk", Int),
            ("app_id", Text),
            ("id", Text),
            ("user_id", Text),
            ("first_name", Text),
            ("last_name", Text),
            ("email", Text),
            ("email_lc", Text),
            ("phone", Text),
            ("address", Text),
            ("city", Text),
            ("state", Text),
            ("zip", Text),
            ("source", Text),
            ("dob", Text),
            ("gender", Text),
            ("type", Text),
            ("status", Text),
            ("location", Text),
            ("custom", Text),
            ("tags", Text),
            ("sms_optin", Bool),
            ("sms_optin_date", Text),
            ("sms_optout", Bool),
            ("sms_optout_date", Text),
            ("email_optout", Bool),
            ("email_optout_date", Text),
            ("created_date", Text),
            ("updated_date", Text),
            ("sms_pending_date", Text),
        ],
    },
    Table {
        name: "contact_aliases",
        key: &["retired_id"],
        columns: &[("retired_id", Text), ("app_id", Text), ("survivor_pk", Int)],
    },
    Table {
        name: "custom_attributes",
        key: &["app_id", "name"],
        columns: &[
            ("app_id", Text),
            ("name", Text),
            ("type", Text),
            ("first_seen", Text),
        ],
    },
    Table {
        name: "events",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("public_id", Text), ("id", Text), ("contact_pk", Int),
            ("event_type", Text), ("event_name", Text), ("event_date", Text), ("event_time", Text),
            ("event_clock", Text), ("is_visit", Bool), ("is_purchase", Bool), ("location", Text),
            ("event_data", Text), ("created_date", Text), ("updated_date", Text),
        ],
    },
    Table {
        name: "event_fields",
        key: &["app_id", "event_type", "field"],
        columns: &[("app_id", Text), ("event_type", Text), ("field", Text)],
    },
    Table {
        name: "memberships",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("contact_pk", Int), ("id", Text), ("name", Text),
            ("status", Text), ("start_date", Text), ("end_date", Text), ("price", Text),
            ("location_id", Text), ("created_date", Text), ("updated_date", Text),
        ],
    },
    Table {
        name: "locations",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("public_id", Text), ("id", Text), ("name", Text),
            ("address", Text), ("city", Text), ("state", Text), ("zip", Text), ("country", Text),
            ("phone", Text), ("email", Text), ("timezone", Text), ("created_date", Text),
            ("updated_date", Text),
        ],
    },
    Table {
        name: "classes",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("public_id", Text), ("id", Text), ("class_name", Text),
            ("description", Text), ("location_id", Text), ("staff", Text), ("start_date", Text),
            ("start_time", Text), ("start_clock", Text), ("end_time", Text), ("end_clock", Text),
            ("capacity", OptInt), ("created_date", Text), ("updated_date", Text),
        ],
    },
    Table {
        name: "app_settings",
        key: &["app_id"],
        columns: &[("app_id", Text), ("messaging", Text), ("updated_date", Text)],
    },
    Table {
        name: "campaigns",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("public_id", Text), ("id", Text), ("name", Text),
            ("channel", Text), ("subject", Text), ("body", Text), ("from_addr", Text),
            ("from_name", Text), ("audience", Text), ("status", Text), ("scheduled_date", Text),
            ("started_date", Text), ("sent_date", Text), ("cursor_pk", Int),
            ("last_contact_pk", OptInt),
            ("created_date", Text), ("updated_date", Text),
        ],
    },
    Table {
        name: "campaign_skips",
        key: &["campaign_pk", "contact_pk"],
        columns: &[("campaign_pk", Int), ("contact_pk", Int), ("reason", Text)],
    },
    Table {
        name: "send_slots",
        key: &["app_id", "channel"],
        columns: &[("app_id", Text), ("channel", Text), ("next_slot", Text)],
    },
    Table {
        name: "messages",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("id", Text), ("app_id", Text), ("channel", Text), ("direction", Text),
            ("purpose", Text), ("contact_pk", OptInt), ("to_addr", Text), ("from_addr", Text), ("from_name", Text),
            ("reply_to", Text), ("subject", Text), ("text_body", Text), ("html_body", Text),
            ("status", Text), ("attempts", Int), ("next_attempt_at", Text),
            ("lease_token", Text), ("provider_id", Text), ("last_error", Text),
            ("created_date", Text), ("updated_date", Text), ("sent_date", Text),
            ("campaign_pk", OptInt),
        ],
    },
    Table {
        name: "consent_events",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("contact_pk", Int), ("change", Text),
            ("source", Text), ("created_date", Text),
        ],
    },
    Table {
        name: "workrooms",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("public_id", Text), ("id", Text), ("name", Text),
            ("created_date", Text), ("updated_date", Text),
        ],
    },
    Table {
        name: "workroom_locations",
        key: &["workroom_pk", "location_id"],
        columns: &[("workroom_pk", Int), ("location_id", Text)],
    },
    Table {
        name: "forms",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("public_id", Text), ("id", Text), ("name", Text),
            ("fields", Text), ("consent_field", Text), ("created_date", Text),
            ("updated_date", Text),
        ],
    },
    Table {
        name: "form_submissions",
        key: &["pk"],
        columns: &[
            ("pk", Int), ("app_id", Text), ("public_id", Text), ("form_pk", Int),
            ("contact_pk", OptInt), ("data", Text), ("submitted_date", Text),
        ],
    },
];

/// Tables whose `pk` PostgreSQL generates (an identity column to move past copied ids).
const GENERATED_PKS: &[&str] = &[
    "contacts",
    "events",
    "memberships",
    "locations",
    "classes",
    "messages",
    "consent_events",
    "workrooms",
    "forms",
    "form_submissions",
    "campaigns",
];

/// Rows per batch: one destination transaction each.
const BATCH: usize = 500;

/// What the caller shows while copying (the CLI draws progress bars).
pub trait CopyProgress: Send + Sync {
    fn start_table(&self, table: &str, rows: u64);
    fn copied(&self, rows: u64);
    fn finish_table(&self);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: u64,
    pub destination: u64,
}

enum Opened {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

async fn open(url: &str, options: &StoreOptions) -> StoreResult<Opened> {
    Ok(match Backend::of_url(url)? {
        Backend::Sqlite => Opened::Sqlite(SqliteStore::open(url, &options.sqlite).await?),
        Backend::Postgres => Opened::Postgres(PgStore::open(url, &options.postgres).await?),
    })
}

/// Copies every table from `from` to `to` (both created and migrated as needed) and returns
/// the row counts of both sides; a table whose counts differ is an error.
pub async fn copy(
    from: &str,
    to: &str,
    options: &StoreOptions,
    progress: &dyn CopyProgress,
) -> StoreResult<Vec<TableCount>> {
    if from == to {
        return Err(StoreError::NotFound(
            "--from and --to name the same database".into(),
        ));
    }
    let (source, destination) = (open(from, options).await?, open(to, options).await?);
    match (&source, &destination) {
        (Opened::Sqlite(s), Opened::Sqlite(d)) => {
            copy_between(s.pools(), d.pools(), progress).await
        }
        (Opened::Sqlite(s), Opened::Postgres(d)) => {
            copy_between(s.pools(), d.pools(), progress).await
        }
        (Opened::Postgres(s), Opened::Sqlite(d)) => {
            copy_between(s.pools(), d.pools(), progress).await
        }
        (Opened::Postgres(s), Opened::Postgres(d)) => {
            copy_between(s.pools(), d.pools(), progress).await
        }
    }
}

async fn copy_between<S: Pools, D: Pools + AfterCopy>(
    source: &S,
    destination: &D,
    progress: &dyn CopyProgress,
) -> StoreResult<Vec<TableCount>> {
    for table in TABLES {
        progress.start_table(table.name, count(source, table).await?);
        copy_table(source, destination, table, progress).await?;
        progress.finish_table();
    }
    destination.after_copy().await?;
    let mut counts = Vec::new();
    for table in TABLES {
        let counted = TableCount {
            table: table.name,
            source: count(source, table).await?,
            destination: count(destination, table).await?,
        };
        if counted.source != counted.destination {
            return Err(StoreError::Corrupt(format!(
                "{}: {} rows in the source but {} in the destination (did the destination hold other data?)",
                counted.table, counted.source, counted.destination
            )));
        }
        counts.push(counted);
    }
    Ok(counts)
}

async fn count<P: Pools>(pools: &P, table: &Table) -> StoreResult<u64> {
    let sql = format!("SELECT COUNT(*) FROM {}", table.name);
    let rows = pools.read().await?.fetch_cells(sql, vec![], &[Int]).await?;
    match rows.first().and_then(|row| row.first()) {
        Some(&Arg::Int(n)) => Ok(u64::try_from(n).unwrap_or(0)),
        _ => Err(StoreError::Corrupt(format!("COUNT(*) of {}", table.name))),
    }
}

async fn copy_table<S: Pools, D: Pools>(
    source: &S,
    destination: &D,
    table: &Table,
    progress: &dyn CopyProgress,
) -> StoreResult<()> {
    let kinds: Vec<Kind> = table.columns.iter().map(|(_, kind)| *kind).collect();
    let key_positions: Vec<usize> = table
        .key
        .iter()
        .map(|k| {
            table
                .columns
                .iter()
                .position(|(c, _)| c == k)
                .expect("key is a column")
        })
        .collect();
    let mut after: Option<Vec<Arg>> = None;
    loop {
        let (sql, args) = select_batch(table, after.as_deref());
        let rows = source.read().await?.fetch_cells(sql, args, &kinds).await?;
        if rows.is_empty() {
            return Ok(());
        }
        after = rows
            .last()
            .map(|row| key_positions.iter().map(|&i| row[i].clone()).collect());
        let copied = rows.len() as u64;
        let mut tx = destination.begin_write().await?;
        let (sql, args) = upsert_batch(table, rows);
        tx.execute(sql, args).await?;
        destination.commit(tx).await?;
        progress.copied(copied);
    }
}

/// The next batch in key order (keyset pagination: no OFFSET, so each batch costs the same).
fn select_batch(table: &Table, after: Option<&[Arg]>) -> (String, Vec<Arg>) {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let key = table.key.join(", ");
    let mut sql = format!("SELECT {} FROM {}", columns.join(", "), table.name);
    let mut args = Vec::new();
    if let Some(after) = after {
        let placeholders: Vec<String> = (1..=after.len()).map(|i| format!("${i}")).collect();
        sql.push_str(&format!(" WHERE ({key}) > ({})", placeholders.join(", ")));
        args.extend(after.iter().cloned());
    }
    sql.push_str(&format!(" ORDER BY {key} LIMIT {BATCH}"));
    (sql, args)
}

/// One multi-row upsert: re-running a copy overwrites rows with the source's values.
fn upsert_batch(table: &Table, rows: Vec<Vec<Arg>>) -> (String, Vec<Arg>) {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let width = columns.len();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !table.key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    // A table made only of its key has nothing to update.
    let on_conflict = if updates.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) {on_conflict}",
        table.name,
        columns.join(", "),
        tuples.join(", "),
        table.key.join(", "),
    );
    (sql, rows.into_iter().flatten().collect())
}

/// Work a destination needs after rows arrived with their ids.
#[async_trait::async_trait]
pub trait AfterCopy {
    async fn after_copy(&self) -> StoreResult<()>;
}

#[async_trait::async_trait]
impl AfterCopy for SqlitePools {
    async fn after_copy(&self) -> StoreResult<()> {
        Ok(()) // AUTOINCREMENT follows the largest id inserted.
    }
}

#[async_trait::async_trait]
impl AfterCopy for PgPools {
    /// Identity columns do not see explicitly inserted ids: move them past the largest.
    async fn after_copy(&self) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for table in GENERATED_PKS {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'pk'), COALESCE(MAX(pk), 0) + 1, false) FROM {table}"
            );
            tx.execute(sql, vec![]).await?;
        }
        self.commit(tx).await
    }
}
