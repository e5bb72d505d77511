//! The database a test runs on: a fresh SQLite file by default, or a fresh PostgreSQL
//! database (created here, dropped when the test ends) when `TEST_DATABASE_URL` is set.

use std::io::Write;

use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

pub struct TestDb {
    pub url: String,
    pub dir: TempDir,
    postgres: Option<(String, String)>,
}

/// The PostgreSQL server of this run, if the run is against PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// For tests that only make sense on PostgreSQL (several processes on one database): the
/// server's URL, or `None` after saying loudly that the test is skipped.
pub fn require_postgres(test: &str) -> Option<String> {
    let url = postgres_url();
    if url.is_none() {
        // Written past the test harness's output capture, so the skip is always seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: it needs PostgreSQL and runs in the PostgreSQL pass (set TEST_DATABASE_URL)"
        );
    }
    url
}

impl TestDb {
    /// A fresh SQLite file, whatever the pass.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        TestDb {
            url: format!("sqlite://{}", dir.path().join("roster.db").display()),
            dir,
            postgres: None,
        }
    }

    /// A fresh database of this pass's backend.
    pub async fn create() -> TestDb {
        match postgres_url() {
            None => Self::sqlite(),
            Some(server) => {
                let name = format!("roster_test_{}", hex_suffix());
                let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|err| {
                    panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {err}")
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                TestDb {
                    url: with_database(&server, &name),
                    dir: tempfile::tempdir().expect("temp dir"),
                    postgres: Some((server, name)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async code: a short-lived runtime of its own does the cleanup.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database: {dropped:?}");
        }
    }
}

/// `postgres://host:port/db?x=y` with `db` replaced.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{name}?{query}"),
        None => format!("{root}/{name}"),
    }
}

fn hex_suffix() -> String {
    let id = roster_domain::ContactId::generate(time::OffsetDateTime::now_utc());
    id.as_str()[8..].to_string()
}

/// For tests that need a service the machine may lack (named by an environment variable,
/// e.g. `TEST_TWILIO_PRISM_URL`): its value, or `None` after saying loudly that the test
/// is skipped. With `ROSTER_REQUIRE_SERVICES=1` (CI) a missing service fails the test.
pub fn require_service(variable: &str, test: &str) -> Option<String> {
    let value = std::env::var(variable).ok().filter(|v| !v.is_empty());
    if value.is_none() {
        if std::env::var("ROSTER_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("{test} needs {variable} and ROSTER_REQUIRE_SERVICES=1 is set");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: it needs {variable} (`.ci/run` starts the service and sets it)"
        );
    }
    value
}
