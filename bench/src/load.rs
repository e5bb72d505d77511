//! A bounded closed-loop load generator: `concurrency` workers send `requests` requests in
//! all (or stop at the time cap), and every latency is kept for exact percentiles.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::nodes::Keys;

pub struct Run {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Run {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }
}

/// Sends `requests` POSTs to `endpoint`, spread round-robin over `bases`, with bodies from
/// `body(i)`.
pub async fn drive(
    bases: &[String],
    keys: &Keys,
    endpoint: &str,
    requests: usize,
    concurrency: usize,
    time_cap: Duration,
    body: Arc<dyn Fn(usize) -> Value + Send + Sync>,
) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (client, next, body, keys) = (client.clone(), next.clone(), body.clone(), keys.clone());
        let urls: Vec<String> = bases
            .iter()
            .map(|b| format!("{b}/v2/ExternalApi/{endpoint}"))
            .collect();
        tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || started.elapsed() > time_cap {
                    return (latencies, errors);
                }
                let sent = Instant::now();
                let response = client
                    .post(&urls[i % urls.len()])
                    .header("X-API-KEY", &keys.api_key)
                    .header("X-SECRET-KEY", &keys.secret_key)
                    .json(&body(i))
                    .send()
                    .await;
                let ok = match response {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                errors += usize::from(!ok);
            }
        })
    });
    let mut run = Run {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for worker in futures::future::join_all(workers).await {
        let (latencies, errors) = worker.expect("worker");
        run.errors += errors;
        run.latencies.extend(latencies);
    }
    run.elapsed = started.elapsed();
    run.requests = run.latencies.len();
    run.latencies.sort();
    run
}
