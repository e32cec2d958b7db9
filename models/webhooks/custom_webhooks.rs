//! Calls to services of your own.

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// An operation on an internal service whose URL comes from the environment at run time.
///
/// Server-only: its `data` is free-form, so only Rust code may trigger it, never the frontend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = env!("CUSTOM_SERVICE_URL"),
    method = "POST",
    headers = { "X-API-Version" = "2024-01-01" },
    timeout = "60s",
    backoff = ["4s", "8s", "10s"],
    max_attempts = 4,
    retry_on = [409],
    max_concurrency = 10,
    rate_limit = "100/min",
    server_only = true
)]
pub struct CustomAPICall {
    /// The operation's name.
    pub operation: String,
    /// Its arguments.
    pub data: serde_json::Value,
}
