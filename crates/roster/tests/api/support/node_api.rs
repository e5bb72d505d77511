//! A client for `roster serve` processes started by the tests: the keys the first node
//! printed, sent to whichever node's base URL a call names.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{Served, printed_value};

#[derive(Clone)]
pub struct NodeApi {
    pub client: reqwest::Client,
    pub app_id: String,
    pub api_key: String,
    pub secret_key: String,
}

impl NodeApi {
    /// With the keys `first` printed when it created the app.
    pub fn of(first: &Served) -> NodeApi {
        NodeApi {
            client: crate::support::http(),
            app_id: printed_value(&first.printed, "app_id"),
            api_key: printed_value(&first.printed, "api_key"),
            secret_key: printed_value(&first.printed, "secret_key"),
        }
    }

    /// A fresh connection pool: a killed node's connections died with it.
    pub fn renewed(&self) -> NodeApi {
        NodeApi {
            client: crate::support::http(),
            ..self.clone()
        }
    }

    /// POSTs `body` (with the app's `app_id`) to a v2 endpoint of the node at `base`;
    /// `Err` when no answer came (connection refused or reset, 30 s without an answer).
    pub async fn try_post(
        &self,
        base: &str,
        endpoint: &str,
        mut body: Value,
    ) -> Result<(StatusCode, Value), String> {
        body["app_id"] = json!(self.app_id);
        let response = self
            .client
            .post(format!("{base}/v2/ExternalApi/{endpoint}"))
            .header("X-API-KEY", &self.api_key)
            .header("X-SECRET-KEY", &self.secret_key)
            .timeout(Duration::from_secs(30))
            .json(&body)
            .send()
            .await
            .map_err(|err| err.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|err| err.to_string())?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// As [`NodeApi::try_post`], for a node that must answer.
    pub async fn post(&self, base: &str, endpoint: &str, body: Value) -> (StatusCode, Value) {
        self.try_post(base, endpoint, body)
            .await
            .unwrap_or_else(|err| panic!("{endpoint} through {base}: {err}"))
    }

    /// A request that must succeed.
    pub async fn ok(&self, base: &str, endpoint: &str, body: Value) -> Value {
        let (status, reply) = self.post(base, endpoint, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{endpoint} {body}: {reply}");
        reply
    }

    /// Every member of a list, page by page.
    pub async fn all(&self, base: &str, endpoint: &str, body: Value) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let mut page_body = body.clone();
            page_body["limit"] = json!(1000);
            page_body["offset"] = json!(all.len());
            let reply = self.ok(base, endpoint, page_body).await;
            let page = reply["members"].as_array().expect("members").clone();
            let last = page.len() < 1000;
            all.extend(page);
            if last {
                return all;
            }
        }
    }

    /// Every outbound message of the app, through `base`.
    pub async fn messages(&self, base: &str) -> Vec<Value> {
        self.all(base, "getMessages", json!({})).await
    }
}
