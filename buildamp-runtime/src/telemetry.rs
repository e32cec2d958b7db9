//! Metrics in Prometheus's text format, through the `metrics` facade.
//!
//! Every attempt the executor makes is counted and timed through `metrics`, so whatever recorder
//! the app installs receives them:
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `buildamp_deliveries_total` | counter | `webhook` (the webhook, or the event type of an endpoint's delivery), `endpoint` (its id; `transactions` for transactions' callbacks; empty for a `#[target]`), `outcome` (`sent`, `retry`, `dead_letter`) |
//! | `buildamp_delivery_duration_seconds` | histogram | `webhook`, `endpoint` |
//!
//! What the database holds is read when the metrics are scraped ([`render`]), so every executor
//! process reports the same queue:
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `buildamp_queue_depth` | gauge | `status` (`pending`, `sending`, `failed`, `dead_letter`), `webhook` |
//! | `buildamp_oldest_due_seconds` | gauge | how long the longest-waiting claimable execution has been due (0 when none) |
//! | `buildamp_outcome_backlog` | gauge | outcome events no handler has taken |
//! | `buildamp_inbound_backlog` | gauge | providers' events not handed to the handlers |
//! | `buildamp_circuit_failures` | gauge | `key` (`endpoint:<id>`, `host:<name>`), `state` (`open`, `half_open`): circuits that are not closed |
//!
//! [`install`] installs the Prometheus recorder (once per process) and returns its handle;
//! [`crate::http::metrics::router`] serves `GET /metrics` with it.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use uuid::Uuid;

use crate::queue::Status;
use crate::service::event::BUILT_IN_EVENTS;
use crate::store::{StatsStore, StoreError};

/// Attempts, by webhook, endpoint and outcome.
pub const DELIVERIES: &str = "buildamp_deliveries_total";
/// How long attempts took, by webhook and endpoint.
pub const DURATION: &str = "buildamp_delivery_duration_seconds";

/// The histogram's buckets, in seconds (a provider answers in tens of milliseconds; the timeout
/// is 30 s by default).
const BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Counts and times one attempt that ended in `outcome` (deferred moves are not attempts).
pub(crate) fn attempt(webhook: &str, endpoint: Option<Uuid>, outcome: Status, took: Duration) {
    let outcome = match outcome {
        Status::Sent => "sent",
        Status::DeadLetter => "dead_letter",
        _ => "retry",
    };
    let endpoint = match endpoint {
        // Each transaction has an endpoint of its own: one series for all of them.
        Some(_) if BUILT_IN_EVENTS.contains(&webhook) => "transactions".to_owned(),
        Some(id) => id.to_string(),
        None => String::new(),
    };
    let labels = [
        ("webhook", webhook.to_owned()),
        ("endpoint", endpoint.clone()),
    ];
    metrics::counter!(
        DELIVERIES,
        &[
            ("webhook", webhook.to_owned()),
            ("endpoint", endpoint),
            ("outcome", outcome.to_owned()),
        ]
    )
    .increment(1);
    metrics::histogram!(DURATION, &labels).record(took.as_secs_f64());
}

/// Why [`install`] could not install the recorder.
#[derive(Debug, thiserror::Error)]
#[error(
    "another metrics recorder is installed in this process: keep it, and render BuildAmp's queue gauges with `telemetry::render_queue` ({0})"
)]
pub struct InstallError(String);

/// Installs the Prometheus recorder for this process (once: later calls return the same handle).
///
/// # Errors
/// The app installed another recorder first.
pub fn install() -> Result<PrometheusHandle, InstallError> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), &BUCKETS)
        .map_err(|e| InstallError(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| InstallError(e.to_string()))?;
    metrics::describe_counter!(
        DELIVERIES,
        "Delivery attempts, by webhook, endpoint and outcome."
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "How long delivery attempts took, by webhook and endpoint."
    );
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// `value` as a label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The queue's gauges, read from `store` at `now`, in Prometheus's text format.
///
/// # Errors
/// The store failed.
pub async fn render_queue(
    store: &impl StatsStore,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let stats = store.queue_stats().await?;
    let mut out = String::new();
    // Each family as one group: its HELP and TYPE, then its samples.
    let family = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    family(
        &mut out,
        "buildamp_queue_depth",
        "Executions not delivered, by status and webhook.",
    );
    for (status, webhook, n) in &stats.by_status {
        let _ = writeln!(
            out,
            "buildamp_queue_depth{{status=\"{}\",webhook=\"{}\"}} {n}",
            status.as_str(),
            label(webhook)
        );
    }
    family(
        &mut out,
        "buildamp_oldest_due_seconds",
        "How long the longest-waiting claimable execution has been due.",
    );
    let age = stats.oldest_due.map_or(0.0, |due| {
        (now - due).num_milliseconds().max(0) as f64 / 1000.0
    });
    let _ = writeln!(out, "buildamp_oldest_due_seconds {age}");
    family(
        &mut out,
        "buildamp_outcome_backlog",
        "Outcome events no handler has taken.",
    );
    let _ = writeln!(out, "buildamp_outcome_backlog {}", stats.outcome_backlog);
    family(
        &mut out,
        "buildamp_inbound_backlog",
        "Providers' events not handed to the handlers.",
    );
    let _ = writeln!(out, "buildamp_inbound_backlog {}", stats.inbound_backlog);
    family(
        &mut out,
        "buildamp_circuit_failures",
        "Consecutive failures of circuits that are not closed, by key and state.",
    );
    for (key, state, failures) in &stats.circuits {
        let _ = writeln!(
            out,
            "buildamp_circuit_failures{{key=\"{}\",state=\"{}\"}} {failures}",
            label(key),
            label(state)
        );
    }
    Ok(out)
}

/// Everything: this process's counters and histograms from `handle`, then the queue's gauges.
///
/// # Errors
/// The store failed.
pub async fn render(
    handle: &PrometheusHandle,
    store: &impl StatsStore,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let mut text = handle.render();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&render_queue(store, now).await?);
    Ok(text)
}

/// A short, masked preview of a payload, for log lines and the dashboard: e-mail addresses keep
/// their first character and domain (`j***@example.com`), phone numbers (and any run of 7 or more
/// digits in a string) their last two digits (`+*********67`), values under keys that name a
/// secret (`password`, `token`, `secret`, `api_key`, `authorization`, ...) become `***`; the
/// JSON is cut at `max_chars` characters.
pub fn preview(payload: &serde_json::Value, max_chars: usize) -> String {
    let text = masked(payload).to_string();
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

fn masked(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(mask_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let v = if secret_key(k) && !v.is_null() {
                        Value::String("***".to_owned())
                    } else {
                        masked(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Whether `text` is a date (`2026-12-06`), which is not a phone number.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `text` with its e-mail addresses and phone numbers masked.
pub fn mask_text(text: &str) -> String {
    static EMAIL: OnceLock<regex::Regex> = OnceLock::new();
    static PHONE: OnceLock<regex::Regex> = OnceLock::new();
    let email = EMAIL.get_or_init(|| {
        regex::Regex::new(r"(?i)([a-z0-9_%+-])[a-z0-9._%+-]*@([a-z0-9-]+(?:\.[a-z0-9-]+)+)")
            .expect("a valid pattern")
    });
    let phone = PHONE
        // Whole runs only (not the digits inside an id or a timestamp like `2026-12-06T21:34`).
        .get_or_init(|| {
            regex::Regex::new(r"(?:\+|\b)\d(?:[\s().-]*\d){6,}\b").expect("a valid pattern")
        });
    let text = email.replace_all(text, "$1***@$2");
    phone
        .replace_all(&text, |c: &regex::Captures<'_>| {
            let found = &c[0];
            if is_date(found) {
                return found.to_owned();
            }
            let digits = found.chars().filter(char::is_ascii_digit).count();
            let mut seen = 0;
            found
                .chars()
                .filter(|ch| ch.is_ascii_digit() || *ch == '+')
                .map(|ch| {
                    if ch == '+' {
                        return ch;
                    }
                    seen += 1;
                    if seen > digits - 2 { ch } else { '*' }
                })
                .collect::<String>()
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::preview;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn previews_mask_emails_phones_and_secrets() {
        let payload = serde_json::json!({
            "to": [{"email": "jo.doe@example.com", "name": "Jo"}],
            "body": "Call +1 (555) 123-4567 or write to sales@acme.co.uk",
            "api_key": "sk_live_abc",
            "amount": 1999,
        });
        assert_eq!(
            preview(&payload, 500),
            r#"{"to":[{"email":"j***@example.com","name":"Jo"}],"body":"Call +*********67 or write to s***@acme.co.uk","api_key":"***","amount":1999}"#
        );
        // Ids, dates and timestamps are not phone numbers.
        let ids = serde_json::json!({
            "id": "01a24d47-b220-75c5-9916-474709be919c",
            "at": "2026-12-06T21:34:36.818Z",
            "day": "2026-12-06",
            "sms": "07700 900123",
        });
        assert_eq!(
            preview(&ids, 500),
            r#"{"id":"01a24d47-b220-75c5-9916-474709be919c","at":"2026-12-06T21:34:36.818Z","day":"2026-12-06","sms":"*********23"}"#
        );
        assert_eq!(
            preview(&serde_json::json!({"n": "abcdef"}), 7),
            "{\"n\":\"a…"
        );
    }
}
