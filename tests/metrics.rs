//! Metrics: the queue's gauges read from the database (both backends), and attempts counted and
//! timed through the `metrics` facade, served at `GET /metrics` and parsed by the
//! `prometheus-client` package from PyPI (an implementation we did not write).

mod support;

conformance! {
    the_queue_gauges_read_what_the_database_holds,
}

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use buildamp::{BuildAmpWebhook, ManualClock, Webhook};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::{Backend, Receiver, Reply, env, reference_parse_metrics, runtime_with, t0};
use tower::ServiceExt;

/// Answered 200.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/ok")]
pub struct MetricsMail {
    /// The recipient.
    pub to: String,
}

/// Answered 400: a dead letter at once.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/bad")]
pub struct MetricsRefused {
    /// The recipient.
    pub to: String,
}

/// Counted in the one test that installs the recorder; refused when `refused`.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/counted")]
pub struct MetricsCounted {
    /// Whether the receiver refuses it.
    pub refused: bool,
}

async fn receiver() -> Receiver {
    Receiver::start(|r, _| {
        let refused = r.path == "/bad" || (r.path == "/counted" && r.json()["refused"] == true);
        Reply::Status(if refused { 400 } else { 200 })
    })
    .await
}

/// The samples of family `name` in parsed metrics: (labels, value).
fn samples(parsed: &Value, name: &str) -> Vec<(Value, f64)> {
    parsed
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f[0] == name)
        .flat_map(|f| f[2].as_array().unwrap().clone())
        .map(|s| (s[1].clone(), s[2].as_f64().unwrap()))
        .collect()
}

async fn the_queue_gauges_read_what_the_database_holds<S: Backend>(store: S) {
    let receiver = receiver().await;
    let clock = ManualClock::new(t0());
    let logs = support::capture_logs();
    let runtime = runtime_with(store, env(&[("RECEIVER", &receiver.base)]), &clock, |b| b).await;
    let to = || "ada@example.com".to_owned();
    MetricsRefused { to: to() }.trigger(&runtime).await.unwrap();
    assert_eq!(runtime.executor().run_once().await.unwrap(), 1);
    // The dead letter is logged with a preview of its payload, the address masked.
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("dead-lettered") && l.contains("MetricsRefused"))
        .unwrap_or_else(|| panic!("no dead-letter line in {text}"));
    assert!(
        line.contains(r#"payload={"to":"a***@example.com"}"#),
        "{line}"
    );
    assert!(!text.contains("ada@example.com"), "{text}");
    for _ in 0..2 {
        MetricsMail { to: to() }.trigger(&runtime).await.unwrap();
    }
    clock.advance(Duration::from_secs(30));
    let text = buildamp::telemetry::render_queue(runtime.store(), buildamp::Clock::now(&clock))
        .await
        .unwrap();
    let parsed = reference_parse_metrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let depth = samples(&parsed, "buildamp_queue_depth");
    assert_eq!(
        depth,
        [
            (
                json!({"status": "dead_letter", "webhook": "MetricsRefused"}),
                1.0
            ),
            (json!({"status": "pending", "webhook": "MetricsMail"}), 2.0),
        ],
        "{text}"
    );
    assert_eq!(
        samples(&parsed, "buildamp_oldest_due_seconds"),
        [(json!({}), 30.0)]
    );
    // The dead letter's outcome waits for the dispatcher.
    assert_eq!(
        samples(&parsed, "buildamp_outcome_backlog"),
        [(json!({}), 1.0)]
    );
    assert_eq!(
        samples(&parsed, "buildamp_inbound_backlog"),
        [(json!({}), 0.0)]
    );
    assert_eq!(samples(&parsed, "buildamp_circuit_failures"), []);
    // Once delivered and handed over, nothing is waiting.
    assert_eq!(runtime.executor().run_once().await.unwrap(), 2);
    runtime.dispatch_outcomes().await.unwrap();
    let text = buildamp::telemetry::render_queue(runtime.store(), buildamp::Clock::now(&clock))
        .await
        .unwrap();
    let parsed = reference_parse_metrics(&text).unwrap();
    assert_eq!(
        samples(&parsed, "buildamp_queue_depth"),
        [(
            json!({"status": "dead_letter", "webhook": "MetricsRefused"}),
            1.0
        )]
    );
    assert_eq!(
        samples(&parsed, "buildamp_oldest_due_seconds"),
        [(json!({}), 0.0)]
    );
    assert_eq!(
        samples(&parsed, "buildamp_outcome_backlog"),
        [(json!({}), 0.0)]
    );
}

#[tokio::test]
async fn attempts_are_counted_and_timed_and_served_at_metrics() {
    let handle = buildamp::telemetry::install().unwrap();
    // Installing again hands back the same recorder.
    buildamp::telemetry::install().unwrap();
    let (store, _file) = support::sqlite_store().await;
    let receiver = receiver().await;
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(store, env(&[("RECEIVER", &receiver.base)]), &clock, |b| b).await;
    for refused in [false, false, true] {
        MetricsCounted { refused }.trigger(&runtime).await.unwrap();
    }
    assert_eq!(runtime.executor().run_once().await.unwrap(), 3);
    let router = buildamp::http::metrics::router(runtime.clone(), handle);
    let response = router
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let parsed = reference_parse_metrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let ours = |labels: &Value| labels["webhook"] == "MetricsCounted";
    let mut counted: Vec<(Value, f64)> = samples(&parsed, "buildamp_deliveries")
        .into_iter()
        .filter(|(l, _)| ours(l))
        .collect();
    counted.sort_by_key(|(l, _)| l["outcome"].as_str().unwrap().to_owned());
    assert_eq!(
        counted,
        [
            (
                json!({"webhook": "MetricsCounted", "endpoint": "", "outcome": "dead_letter"}),
                1.0
            ),
            (
                json!({"webhook": "MetricsCounted", "endpoint": "", "outcome": "sent"}),
                2.0
            ),
        ],
        "{text}"
    );
    // The histogram: its buckets, and three attempts timed.
    let family = parsed
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[0] == "buildamp_delivery_duration_seconds")
        .unwrap_or_else(|| panic!("no histogram: {text}"));
    assert_eq!(family[1], "histogram");
    let ours_named = |name: &str| -> Vec<(Value, f64)> {
        family[2]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s[0] == name && ours(&s[1]))
            .map(|s| (s[1].clone(), s[2].as_f64().unwrap()))
            .collect()
    };
    assert_eq!(
        ours_named("buildamp_delivery_duration_seconds_count"),
        [(json!({"webhook": "MetricsCounted", "endpoint": ""}), 3.0)]
    );
    let buckets = ours_named("buildamp_delivery_duration_seconds_bucket");
    assert_eq!(buckets.len(), 12, "11 bounds and +Inf: {text}");
    assert_eq!(buckets.last().unwrap().1, 3.0);
    // The queue's gauges follow in the same answer.
    assert_eq!(
        samples(&parsed, "buildamp_queue_depth"),
        [(
            json!({"status": "dead_letter", "webhook": "MetricsCounted"}),
            1.0
        )]
    );
}
