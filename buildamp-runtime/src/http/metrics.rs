//! `GET /metrics`: Prometheus's text format, this process's attempt counters and latency
//! histograms ([`crate::telemetry`]) and the queue's gauges read from the runtime's store.
//!
//! Mount it where your scraper reaches it and nobody else does (an internal port, or behind
//! your own middleware): it names webhooks and endpoint ids, never payloads or secrets.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::runtime::Runtime;
use crate::store::Store;

struct Metrics<S: Store> {
    runtime: Runtime<S>,
    handle: PrometheusHandle,
}

/// `GET /metrics` over `runtime`, rendering `handle` (from [`crate::telemetry::install`]).
pub fn router<S: Store>(runtime: Runtime<S>, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape::<S>))
        .with_state(std::sync::Arc::new(Metrics { runtime, handle }))
}

async fn scrape<S: Store>(State(m): State<std::sync::Arc<Metrics<S>>>) -> Response {
    let now = m.runtime.now();
    match crate::telemetry::render(&m.handle, m.runtime.store(), now).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(error) => super::ApiError::internal(&error).into_response(),
    }
}
