//! Every route the runtime serves over HTTP, and the one JSON error body they answer with.
//!
//! - [`api`]: the HTTP API the generated Elm client calls (triggers, executions, status streams);
//! - [`service`]: the webhooks service: event catalog, publishing, endpoints and deliveries;
//! - [`dashboard`]: the operator's page, served by the service router;
//! - [`ApiError`]: `{"error": message}` (plus `"path"` for a bad field), with its status code;
//! - [`serve`]: serving any of the runtime's routers with limits on slow and idle clients, and
//!   [`request_timeout`], which every router the runtime builds carries;
//! - `watch`: the one poller behind every status stream, and the caps on open streams.

pub mod api;
pub mod dashboard;
mod error;
pub mod metrics;
mod serve;
pub mod service;
mod watch;

pub use error::ApiError;
pub(crate) use error::body;
pub use serve::{ServeLimits, request_timeout, serve};

/// Whether the request's `Content-Type` is exactly `expected` (any case), parameters such as
/// `; charset=utf-8` allowed: `application/jsonfoo` is not JSON.
pub(crate) fn has_media_type(headers: &axum::http::HeaderMap, expected: &str) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}
