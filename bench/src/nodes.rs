//! Real `roster serve` processes for the benchmark, and the databases they run on.

use std::{path::PathBuf, process::Stdio, time::Duration};

use sqlx::{Connection, PgConnection};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The credentials `roster serve` prints on first start.
#[derive(Clone, Debug)]
pub struct Keys {
    pub app_id: String,
    pub api_key: String,
    pub secret_key: String,
}

pub struct Node {
    pub base: String,
    pub printed: String,
    _child: Child,
}

/// The `roster` binary built next to this one (`cargo build --release` builds both).
pub fn roster_binary() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("roster")
}

pub async fn start(database_url: &str, dir: &std::path::Path) -> Node {
    let mut child = Command::new(roster_binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            database_url,
        ])
        .env("ROSTER_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start roster serve (build it with cargo build --release)");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = String::new();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            printed.push_str(&line);
            printed.push('\n');
            if let Some(addr) = line.strip_prefix("Roster listening on ") {
                return addr.to_string();
            }
        }
        panic!("roster serve exited before listening: {printed}");
    })
    .await
    .expect("roster serve starts");
    Node {
        base,
        printed,
        _child: child,
    }
}

impl Node {
    pub fn keys(&self) -> Keys {
        let value = |key: &str| {
            self.printed
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("{key} not printed"))
        };
        Keys {
            app_id: value("app_id"),
            api_key: value("api_key"),
            secret_key: value("secret_key"),
        }
    }
}

/// A PostgreSQL database created for one scenario and dropped after it.
pub struct PgDatabase {
    server: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(server: &str, name: &str) -> Result<PgDatabase, sqlx::Error> {
        let mut admin = PgConnection::connect(server).await?;
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&mut admin)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let root = server.rsplit_once('/').map_or(server, |(root, _)| root);
        Ok(PgDatabase {
            server: server.to_string(),
            name: name.to_string(),
            url: format!("{root}/{name}"),
        })
    }

    pub async fn drop_now(self) {
        if let Ok(mut admin) = PgConnection::connect(&self.server).await {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut admin)
                .await;
        }
    }
}
