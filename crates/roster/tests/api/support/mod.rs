//! The test harness: `TestApp::spawn()` starts Roster on port 0 against a fresh database
//! with one app, and offers a small client for the contract's endpoints.

pub mod browser;
mod db;
pub mod messaging;
pub mod node_api;
pub mod smtp;
pub mod twilio;

pub use db::{TestDb, require_postgres, require_service};

use std::{net::SocketAddr, sync::Arc};

use reqwest::StatusCode;
use roster_domain::NewAppKeys;
use roster_server::{Application, ProtectionSettings, ServerSettings};
use roster_store::{Store, StoreOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// One app's credentials.
#[derive(Clone, Debug)]
pub struct Keys {
    pub app_id: String,
    pub api_key: String,
    pub secret_key: String,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub keys: Keys,
    pub store: Arc<dyn Store>,
    pub db: TestDb,
    shutdown: CancellationToken,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(ServerSettings::default()).await
    }

    pub async fn spawn_with(settings: ServerSettings) -> TestApp {
        Self::start(TestDb::create().await, settings, None).await
    }

    /// Serves `db`; with `keys`, as an app that already exists there (after a copy).
    pub async fn start(db: TestDb, mut settings: ServerSettings, keys: Option<Keys>) -> TestApp {
        let store = roster_store::open(&db.url, &StoreOptions::default())
            .await
            .expect("open store");
        settings.listen = "127.0.0.1:0".parse().unwrap();
        // The suite sends thousands of requests as fast as it can (10,000 contacts in one
        // test): the production rate limit, concurrency bound and timeout would only make
        // it flaky. Tests of those limits (protection.rs) set their own values.
        if settings.protection == ProtectionSettings::default() {
            settings.protection = ProtectionSettings::off();
        }
        let app = Application::build(settings, store.clone())
            .await
            .expect("bind");
        let addr = app.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until(shutdown.clone()));
        let mut test_app = TestApp {
            addr,
            client: http(),
            keys: keys.clone().unwrap_or(Keys {
                app_id: String::new(),
                api_key: String::new(),
                secret_key: String::new(),
            }),
            store,
            db,
            shutdown,
        };
        if keys.is_none() {
            test_app.keys = test_app.create_app("Studio A").await;
        }
        test_app
    }

    /// Another tenant on the same server.
    pub async fn create_app(&self, name: &str) -> Keys {
        let keys = NewAppKeys::generate();
        let app_id = self
            .store
            .create_app(name, &keys.api_key, &keys.secret_hash())
            .await
            .expect("create app");
        Keys {
            app_id: app_id.to_string(),
            api_key: keys.api_key.as_str().to_string(),
            secret_key: keys.secret_key,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs `body` to a v2 endpoint with `keys`, adding their `app_id` when the body has none.
    pub async fn post_as(
        &self,
        keys: &Keys,
        endpoint: &str,
        mut body: Value,
    ) -> (StatusCode, Value) {
        if let Value::Object(map) = &mut body {
            map.entry("app_id").or_insert_with(|| json!(keys.app_id));
        }
        let response = self
            .client
            .post(self.url(&format!("/v2/ExternalApi/{endpoint}")))
            .header("X-API-KEY", &keys.api_key)
            .header("X-SECRET-KEY", &keys.secret_key)
            .json(&body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    pub async fn post(&self, endpoint: &str, body: Value) -> (StatusCode, Value) {
        self.post_as(&self.keys, endpoint, body).await
    }

    /// newContact that must succeed; returns the contact id.
    pub async fn new_contact(&self, body: Value) -> String {
        let (status, reply) = self.post("newContact", body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["status"], "success");
        reply["_id"].as_str().expect("_id").to_string()
    }

    /// getCustomers that must succeed; returns the members.
    pub async fn customers(&self, body: Value) -> Vec<Value> {
        self.members("getCustomers", body).await
    }

    pub async fn members(&self, endpoint: &str, body: Value) -> Vec<Value> {
        let (status, reply) = self.post(endpoint, body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply["members"].as_array().expect("members").clone()
    }
}

impl TestApp {
    /// Starts a graceful shutdown, as SIGTERM does in `roster serve`.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A contact body with the required fields.
pub fn contact(first: &str, extra: Value) -> Value {
    let mut body = json!({"first_name": first, "last_name": "Lopez"});
    if let (Value::Object(base), Value::Object(extra)) = (&mut body, extra) {
        base.extend(extra);
    }
    body
}

/// An HTTP client for tests. reqwest is built with rustls but no default crypto provider
/// (see roster-delivery), so the ring provider is installed first.
pub fn http() -> reqwest::Client {
    roster_delivery::install_crypto_provider();
    reqwest::Client::new()
}
