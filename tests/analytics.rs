//! Delivery analytics on Postgres and SQLite: attempts to a real receiver on 127.0.0.1 (one
//! webhook delivered, one retried then delivered, one refused, and a customer's endpoint) are
//! rolled up per minute as they are recorded, and read back in total, per webhook, per endpoint,
//! per period, over Rust and HTTP.

mod support;

conformance! {
    the_rollup_counts_every_attempt_by_webhook_endpoint_and_period,
}

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use buildamp::analytics::{DestinationKind, Granularity};
use buildamp::delivery::guard::AddressPolicy;
use buildamp::protect::breaker::CircuitState;
use buildamp::{BuildAmpWebhook, Event, ManualClock, Webhook};
use buildamp_models::{Lead, LeadCreated};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::{Admin, Backend, Receiver, Reply, env, runtime_with, t0};
use tower::ServiceExt;

/// Answered 200.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/ok")]
pub struct AnalyticsOk {
    /// Anything.
    pub n: u32,
}

/// Answered 503 the first time, then 200.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/flaky")]
pub struct AnalyticsFlaky {
    /// Anything.
    pub n: u32,
}

/// Answered 400: dead-lettered at once.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/bad")]
pub struct AnalyticsBad {
    /// Anything.
    pub n: u32,
}

fn lead() -> LeadCreated {
    LeadCreated {
        lead: Lead {
            id: "lead_1".into(),
            name: "Jo Doe".into(),
            email: None,
            phone: None,
            source: "website".into(),
            score: 50,
            created_at: "2025-08-05T17:30:00Z".into(),
        },
        agent: None,
    }
}

fn at(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    t0() + chrono::Duration::minutes(minutes)
}

async fn the_rollup_counts_every_attempt_by_webhook_endpoint_and_period<S: Backend>(store: S) {
    let flaky_seen = std::sync::atomic::AtomicBool::new(false);
    let receiver = Receiver::start(move |r, _| {
        Reply::Status(match r.path.as_str() {
            "/bad" => 400,
            "/flaky" if !flaky_seen.swap(true, std::sync::atomic::Ordering::SeqCst) => 503,
            _ => 200,
        })
    })
    .await;
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(store, env(&[("RECEIVER", &receiver.base)]), &clock, |b| {
        b.address_policy(AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]))
    })
    .await;
    let endpoint = runtime
        .endpoints()
        .create(
            serde_json::from_value(json!({
                "url": format!("{}/endpoint", receiver.base),
                "environment": "development",
                "subscriptions": ["lead.created"],
            }))
            .unwrap(),
        )
        .await
        .unwrap()
        .endpoint
        .id;
    for n in 0..2 {
        AnalyticsOk { n }.trigger(&runtime).await.unwrap();
    }
    AnalyticsFlaky { n: 0 }.trigger(&runtime).await.unwrap();
    AnalyticsBad { n: 0 }.trigger(&runtime).await.unwrap();
    lead().publish(&runtime).await.unwrap();
    assert_eq!(runtime.executor().run_once().await.unwrap(), 5);
    // The flaky one goes again two minutes later.
    clock.advance(Duration::from_secs(120));
    assert_eq!(runtime.executor().run_once().await.unwrap(), 1);

    let analytics = runtime.analytics();
    let overview = analytics.overview(t0(), at(60)).await.unwrap();
    let total = &overview.total;
    assert_eq!(
        (
            total.attempts,
            total.deliveries,
            total.sent,
            total.retried,
            total.dead_letter
        ),
        (6, 5, 4, 1, 1)
    );
    assert_eq!(total.success_rate, Some(0.8));
    assert_eq!(total.failure_rate, Some(0.2));
    assert_eq!(total.retry_rate, Some(1.0 / 6.0));
    assert!(total.p50_ms.is_some() && total.p99_ms.is_some());
    let by_webhook: Vec<(&str, u64, u64, u64, u64)> = overview
        .by_webhook
        .iter()
        .map(|n| {
            let f = &n.figures;
            (
                n.name.as_str(),
                f.attempts,
                f.sent,
                f.retried,
                f.dead_letter,
            )
        })
        .collect();
    assert_eq!(
        by_webhook,
        [
            ("AnalyticsBad", 1, 0, 0, 1),
            ("AnalyticsFlaky", 2, 1, 1, 0),
            ("AnalyticsOk", 2, 2, 0, 0),
            ("lead.created", 1, 1, 0, 0),
        ]
    );
    // Only customers' endpoints are named.
    assert_eq!(overview.by_endpoint.len(), 1);
    assert_eq!(overview.by_endpoint[0].name, endpoint.to_string());
    assert_eq!(overview.by_endpoint[0].figures.sent, 1);

    // Per minute: five attempts at the start, the retry two minutes later; per hour, one point.
    let minutes = analytics
        .trend(t0(), at(60), Granularity::Minute)
        .await
        .unwrap();
    let points: Vec<(chrono::DateTime<chrono::Utc>, u64)> =
        minutes.iter().map(|p| (p.at, p.figures.attempts)).collect();
    assert_eq!(points, [(at(0), 5), (at(2), 1)]);
    let hours = analytics
        .trend(t0(), at(60), Granularity::Hour)
        .await
        .unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!((hours[0].at, hours[0].figures.attempts), (at(0), 6));
    // A window is to the minute: from minute 1 on, only the retry.
    let later = analytics.overview(at(1), at(60)).await.unwrap();
    assert_eq!((later.total.attempts, later.total.sent), (1, 1));
    let empty = analytics.overview(at(60), at(120)).await.unwrap();
    assert_eq!(empty.total.attempts, 0);
    assert!(empty.by_webhook.is_empty());

    // Over HTTP, for admins.
    let router = buildamp::http::service::router(runtime.clone(), Admin);
    let get = |uri: String| {
        let router = router.clone();
        async move {
            let response = router
                .oneshot(
                    Request::get(uri)
                        .header("authorization", "Bearer admin")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let window = "since=2026-01-01T00:00:00Z&until=2026-01-01T01:00:00Z";
    let (status, body) = get(format!("/buildamp/analytics?{window}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"]["attempts"], 6);
    assert_eq!(body["by_webhook"][1]["name"], "AnalyticsFlaky");
    assert_eq!(body["by_webhook"][1]["retried"], 1);
    let (status, body) = get(format!(
        "/buildamp/analytics/trend?{window}&granularity=minute"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["points"][1]["at"], "2026-01-01T00:02:00Z");
    let (status, body) = get("/buildamp/analytics?since=yesterday".into()).await;
    assert_eq!(
        (status, body["path"].as_str()),
        (400, Some("since")),
        "{body}"
    );
    let (status, body) = get(format!(
        "/buildamp/analytics/trend?{window}&granularity=week"
    ))
    .await;
    assert_eq!(
        (status, body["path"].as_str()),
        (400, Some("granularity")),
        "{body}"
    );
    // Health now: the endpoint and the receiver's host (all three targets share its circuit),
    // each with its last delivery, to the minute.
    let health = analytics.health().await.unwrap();
    let ours = health
        .iter()
        .find(|h| h.endpoint_id == Some(endpoint.0))
        .unwrap();
    assert_eq!(
        (
            ours.kind,
            ours.status.as_str(),
            ours.circuit,
            ours.consecutive_failures,
            ours.last_success
        ),
        (
            DestinationKind::Endpoint,
            "enabled",
            CircuitState::Closed,
            0,
            Some(at(0))
        )
    );
    assert!(ours.is_healthy());
    let host = receiver.base.trim_start_matches("http://");
    let target = health.iter().find(|h| h.name == host).unwrap();
    assert_eq!(
        (
            target.kind,
            target.destination.clone(),
            target.webhooks.clone(),
            target.last_success
        ),
        (
            DestinationKind::Target,
            format!("host:{host}"),
            vec![
                "AnalyticsBad".to_owned(),
                "AnalyticsFlaky".to_owned(),
                "AnalyticsOk".to_owned()
            ],
            Some(at(2))
        )
    );
    let (status, body) = get("/buildamp/analytics/health".into()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["destination"] == format!("host:{host}") && d["circuit"] == "closed"),
        "{body}"
    );

    // After the retention period the minute rows go; the hourly ones still answer for whole
    // hours.
    clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(runtime.pruner().prune().await.unwrap().stats, 5);
    assert_eq!(
        analytics
            .overview(t0(), at(60))
            .await
            .unwrap()
            .total
            .attempts,
        6
    );
    assert_eq!(
        analytics
            .overview(at(1), at(60))
            .await
            .unwrap()
            .total
            .attempts,
        0
    );
}
