//! The preloaded database: `--contacts` contacts written through Roster's own store
//! (`Store::upsert_contact`, concurrently), built once and cached under `--cache`, keyed by
//! the contact count, the migrations and the shape of the generated contacts. Every
//! measured server gets a fresh copy (SQLite: a file copy; PostgreSQL: `CREATE DATABASE ...
//! TEMPLATE`).

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use roster_domain::{AppId, NewAppKeys, PhoneRegion};
use roster_server::wire::contacts::NewContactBody;
use roster_store::{
    PgOptions, PgStore, SqliteOptions, SqliteStore, Store, StoreError, Synchronous,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::nodes::Keys;

/// Bump when the generated contacts change, so that old caches are not reused.
const SHAPE: &str = "contacts-v1";

/// Preloaded contacts get user ids `u0..u{n-1}`; wrk's newEvent picks among them.
pub fn contact_body(app: &str, k: usize) -> Value {
    json!({"app_id": app, "first_name": format!("First{k}"), "last_name": "Bench",
           "email": format!("u{k}@bench.example"), "user_id": format!("u{k}"),
           "phone": phone(415, k), "tags": "bench", "plan": "gold"})
}

/// A valid US number, distinct for every `n` below 8,000,000 within one area code.
pub fn phone(area: u32, n: usize) -> String {
    format!("+1{area}{}", 2_000_000 + n)
}

/// A cached preloaded database, ready to be copied.
pub struct Seed {
    pub keys: Keys,
    pub contacts: usize,
    /// How long building it took (when it was built, possibly by an earlier run).
    pub preload_seconds: f64,
    pub built_at: String,
    /// Whether this run built it (false: reused from the cache).
    pub built_now: bool,
    /// SQLite: the cached file; PostgreSQL: the template database's name.
    pub source: String,
}

/// The cache key: the contact count, the backend's migrations and the contact shape.
fn cache_key(contacts: usize, backend: &str) -> String {
    let dir = Path::new("crates/roster-store/migrations").join(backend);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e} (run from the repository root)", dir.display()))
        .map(|e| e.expect("migration entry").path())
        .collect();
    files.sort();
    let mut hash = Sha256::new();
    hash.update(SHAPE);
    for file in files {
        hash.update(file.file_name().unwrap().to_string_lossy().as_bytes());
        hash.update(std::fs::read(&file).expect("read migration"));
    }
    format!("{contacts}-{}", &hex::encode(hash.finalize())[..12])
}

fn read_meta(path: &Path, source: String) -> Option<Seed> {
    let meta: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let s = |k: &str| meta[k].as_str().map(str::to_string);
    Some(Seed {
        keys: Keys {
            app_id: s("app_id")?,
            api_key: s("api_key")?,
            secret_key: s("secret_key")?,
        },
        contacts: usize::try_from(meta["contacts"].as_u64()?).ok()?,
        preload_seconds: meta["preload_seconds"].as_f64()?,
        built_at: s("built_at")?,
        built_now: false,
        source,
    })
}

fn write_meta(path: &Path, seed: &Seed) {
    let meta = json!({"app_id": seed.keys.app_id, "api_key": seed.keys.api_key,
        "secret_key": seed.keys.secret_key, "contacts": seed.contacts,
        "preload_seconds": seed.preload_seconds, "built_at": seed.built_at});
    std::fs::write(path, serde_json::to_vec_pretty(&meta).unwrap()).expect("write cache meta");
}

/// The cached SQLite database with `contacts` contacts, built if missing.
pub async fn sqlite(cache: &Path, contacts: usize, concurrency: usize) -> Seed {
    std::fs::create_dir_all(cache).expect("create cache dir");
    let key = cache_key(contacts, "sqlite");
    let db = cache.join(format!("sqlite-{key}.db"));
    let meta = cache.join(format!("sqlite-{key}.json"));
    let source = db.display().to_string();
    if db.exists()
        && let Some(seed) = read_meta(&meta, source.clone())
    {
        eprintln!(
            "preload: reusing {source} ({contacts} contacts, built in {:.0} s on {})",
            seed.preload_seconds, seed.built_at
        );
        return seed;
    }
    let building = cache.join(format!("sqlite-{key}.building.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
    }
    let url = format!("sqlite://{}", building.display());
    // synchronous=NORMAL while loading: nothing here needs to survive a power cut, and the
    // final checkpoint writes everything to the file before it is cached.
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&url, &options)
        .await
        .expect("open SQLite store");
    let (keys, seconds) = load(Arc::new(store), contacts, concurrency).await;
    // Fold the WAL into the database file, so that copying the one file is enough.
    let mut conn = SqliteConnection::connect(&url).await.expect("connect");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    conn.close().await.expect("close");
    std::fs::rename(&building, &db).expect("move preloaded database into the cache");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
    }
    let seed = Seed {
        keys,
        contacts,
        preload_seconds: seconds,
        built_at: crate::report::now(),
        built_now: true,
        source,
    };
    write_meta(&meta, &seed);
    seed
}

/// A fresh copy of the cached SQLite database in `dir`; returns its URL.
pub fn sqlite_copy(seed: &Seed, dir: &Path, name: &str) -> String {
    let target = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
    }
    std::fs::copy(&seed.source, &target).expect("copy the preloaded database");
    format!("sqlite://{}", target.display())
}

/// The cached PostgreSQL template database with `contacts` contacts on `server`.
pub async fn postgres(cache: &Path, server: &str, contacts: usize, concurrency: usize) -> Seed {
    std::fs::create_dir_all(cache).expect("create cache dir");
    let key = cache_key(contacts, "postgres");
    let name = format!("roster_bench_cache_{}", key.replace('-', "_"));
    let meta = cache.join(format!("postgres-{key}.json"));
    let mut admin = PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL at {server}: {e}"));
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("query pg_database");
    if exists && let Some(seed) = read_meta(&meta, name.clone()) {
        eprintln!(
            "preload: reusing PostgreSQL database {name} ({contacts} contacts, built in {:.0} s on {})",
            seed.preload_seconds, seed.built_at
        );
        return seed;
    }
    execute(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    execute(&mut admin, &format!("CREATE DATABASE {name}")).await;
    // Like SQLite's NORMAL above: the load need not wait for each commit's flush.
    execute(
        &mut admin,
        &format!("ALTER DATABASE {name} SET synchronous_commit = off"),
    )
    .await;
    let url = database_url(server, &name);
    let options = PgOptions {
        max_connections: 32,
        ..PgOptions::default()
    };
    let store = PgStore::open(&url, &options)
        .await
        .expect("open PostgreSQL store");
    let (keys, seconds) = load(Arc::new(store), contacts, concurrency).await;
    execute(
        &mut admin,
        &format!("ALTER DATABASE {name} RESET synchronous_commit"),
    )
    .await;
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    // Statistics, as autovacuum would eventually gather them (it may be off here).
    execute(&mut conn, "VACUUM ANALYZE").await;
    conn.close().await.expect("close");
    let seed = Seed {
        keys,
        contacts,
        preload_seconds: seconds,
        built_at: crate::report::now(),
        built_now: true,
        source: name,
    };
    write_meta(&meta, &seed);
    seed
}

/// A fresh database `name` created from the cached template; returns its URL.
pub async fn postgres_copy(seed: &Seed, server: &str, name: &str) -> String {
    let mut admin = PgConnection::connect(server).await.expect("connect");
    execute(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    // The loading pool may still hold connections to the template.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&seed.source)
    .execute(&mut admin)
    .await
    .expect("terminate template sessions");
    execute(
        &mut admin,
        &format!("CREATE DATABASE {name} TEMPLATE {}", seed.source),
    )
    .await;
    database_url(server, name)
}

pub async fn postgres_drop(server: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::connect(server).await {
        execute(
            &mut admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
    }
}

fn database_url(server: &str, name: &str) -> String {
    let root = server.rsplit_once('/').map_or(server, |(root, _)| root);
    format!("{root}/{name}")
}

async fn execute(conn: &mut PgConnection, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Creates the app and `contacts` contacts with `concurrency` concurrent writers; returns
/// the app's keys and the seconds it took.
async fn load<S: Store>(store: Arc<S>, contacts: usize, concurrency: usize) -> (Keys, f64) {
    let new_keys = NewAppKeys::generate();
    let app = store
        .create_first_app("Bench studio", &new_keys.api_key, &new_keys.secret_hash())
        .await
        .expect("create the app")
        .expect("a fresh database has no app");
    let keys = Keys {
        app_id: app.to_string(),
        api_key: new_keys.api_key.as_str().to_string(),
        secret_key: new_keys.secret_key.clone(),
    };
    eprintln!(
        "preload: {contacts} contacts through Store::upsert_contact, {concurrency} concurrent writers"
    );
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let progress = tokio::spawn({
        let done = done.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(15)).await;
                let n = done.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "preload: {n}/{contacts} after {secs:.0} s ({:.0}/s)",
                    n as f64 / secs
                );
            }
        }
    });
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (store, next, done, app) = (store.clone(), next.clone(), done.clone(), app.clone());
            tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= contacts {
                        return;
                    }
                    upsert(&*store, &app, k).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("preload worker");
    }
    progress.abort();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "preload: {contacts} contacts in {seconds:.1} s ({:.0}/s)",
        contacts as f64 / seconds
    );
    (keys, seconds)
}

async fn upsert<S: Store>(store: &S, app: &AppId, k: usize) {
    let body: NewContactBody =
        serde_json::from_value(contact_body(&app.to_string(), k)).expect("contact body");
    let contact = body
        .parse(PhoneRegion::default())
        .unwrap_or_else(|e| panic!("generated contact {k} is invalid: {e:?}"));
    for attempt in 1.. {
        match store.upsert_contact(app, &contact).await {
            Ok(_) => return,
            Err(StoreError::Busy(why)) if attempt < 20 => {
                eprintln!("preload: contact {k} busy ({why}), retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("preload contact {k}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::{Phone, PhoneRegion};

    use super::phone;

    /// Every exchange the generators reach (200-999) gives a number the API accepts, in
    /// the area codes the preload (415) and wrk's newContact script use.
    #[test]
    fn generated_phone_numbers_are_valid() {
        for area in [415, 212, 646, 718, 917, 312, 617, 213, 305] {
            for exchange in 0..800 {
                let n = exchange * 10_000 + 4321;
                let raw = phone(area, n);
                assert!(
                    Phone::parse("phone", &raw, PhoneRegion::default()).is_ok(),
                    "{raw} rejected"
                );
            }
        }
    }
}
