//! Request metrics (Prometheus), request spans and the panic guard.

use std::{any::Any, sync::OnceLock, time::Instant};

use axum::{
    body::Body,
    extract::{MatchedPath, Request},
    http::Response,
    middleware::Next,
    response::IntoResponse,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::error::ApiError;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder, installed on first use.
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("latency buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Only fails when another recorder is installed; our metrics then go there.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn init_metrics() {
    prometheus();
}

/// How often the recorder folds its latency samples into histograms when nothing scrapes
/// `/metrics`.
/// Each run drains what queued since the last, so a short interval keeps it brief.
const METRICS_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Folds recorded latency samples into their histograms every second until `stop`.
/// The recorder keeps every sample until upkeep runs, and it runs on its own only when
/// `/metrics` is scraped: a server nobody scraped grew by about 19 bytes per request.
pub async fn keep_metrics_bounded(stop: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(METRICS_UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => prometheus().run_upkeep(),
            () = stop.cancelled() => return,
        }
    }
}

pub fn render_metrics() -> String {
    let handle = prometheus();
    handle.run_upkeep();
    handle.render()
}

/// Counts requests by method, route and status and records their latency.
pub async fn track_request(req: Request, next: Next) -> Response<Body> {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// One span per request with its method, path and request id.
pub fn trace_layer()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, impl Fn(&Request) -> tracing::Span + Clone>
{
    TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// A panic is a bug: log it and answer the contract's opaque 500, never a dropped socket.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(format!("panic: {detail}")).into_response()
}
