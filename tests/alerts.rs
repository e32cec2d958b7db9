//! Alert rules on Postgres and SQLite, under a manual clock: failing deliveries to a real
//! receiver on 127.0.0.1 fire a failure-rate and a retries-exhausted alert once (however often
//! the rules are checked, and whichever process checks them), a backlog fires while the queue is
//! behind, an open circuit fires "endpoint down"; each resolves once its condition clears. The
//! app's alert handler gets every firing and resolution once, in order; an operator's endpoint
//! gets each as Slack's incoming-webhook shape; `GET /buildamp/alerts` lists them.

mod support;

conformance! {
    alerts_fire_once_per_incident_and_resolve_when_it_clears,
}

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use buildamp::alerts::{AlertChange, AlertEvent, AlertRules, Backlog, FailureRate, Rule};
use buildamp::delivery::guard::AddressPolicy;
use buildamp::protect::breaker::{BreakerPolicy, Circuit, CircuitState};
use buildamp::store::AlertRow;
use buildamp::{BuildAmpWebhook, ManualClock, Runtime, Store, Webhook};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use support::{Admin, Backend, Receiver, Reply, env, runtime_with, t0};
use tower::ServiceExt;

/// Answered 200.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/ok")]
pub struct AlertOk {
    /// Anything.
    pub n: u32,
}

/// Answered 400: dead-lettered at once.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/bad")]
pub struct AlertBad {
    /// Anything.
    pub n: u32,
}

type Seen = Arc<Mutex<Vec<AlertEvent>>>;

/// Incidents by rule and subject.
type Incidents = Vec<(Rule, String)>;

fn fired_and_resolved(e: &buildamp::alerts::Evaluation) -> (Incidents, Incidents) {
    let of = |alerts: &[buildamp::alerts::Alert]| {
        alerts
            .iter()
            .map(|a| (a.rule, a.subject.clone()))
            .collect::<Vec<_>>()
    };
    (of(&e.fired), of(&e.resolved))
}

/// What the operators' endpoint received, in order.
fn told(receiver: &Receiver) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .filter(|r| r.path == "/slack")
        .map(|r| r.json())
        .collect()
}

/// Runs the executor until nothing is due (ordered deliveries go one at a time).
async fn drain<S: Store>(runtime: &Runtime<S>) {
    for _ in 0..20 {
        if runtime.executor().run_once().await.unwrap() == 0 {
            return;
        }
    }
    panic!("the queue did not drain");
}

async fn alerts_fire_once_per_incident_and_resolve_when_it_clears<S: Backend>(store: S) {
    let receiver =
        Receiver::start(|r, _| Reply::Status(if r.path == "/bad" { 400 } else { 200 })).await;
    let clock = ManualClock::new(t0());
    let rules = AlertRules {
        failure_rate: Some(FailureRate {
            min_attempts: 4,
            ..AlertRules::default().failure_rate.unwrap()
        }),
        backlog: Some(Backlog {
            waiting_over: 5,
            oldest_due_over: Duration::from_secs(300),
        }),
        ..AlertRules::default()
    };
    let seen: Seen = Arc::default();
    let handler_seen = seen.clone();
    let runtime = runtime_with(
        store.clone(),
        env(&[("RECEIVER", &receiver.base)]),
        &clock,
        |b| {
            b.address_policy(
                AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]),
            )
            .alert_rules(rules.clone())
            .on_alert(move |event| {
                let seen = handler_seen.clone();
                async move {
                    seen.lock().unwrap().push(event);
                    Ok(())
                }
            })
        },
    )
    .await;
    // Another process over the same database, checking the same rules.
    let other = Runtime::builder(store.clone())
        .env(env(&[("RECEIVER", &receiver.base)]))
        .clock(clock.clone())
        .secret_keys(support::test_keys())
        .alert_rules(rules)
        .allow_missing_env()
        .build()
        .unwrap();
    let mut spec = buildamp::alerts::operator_endpoint(format!("{}/slack", receiver.base));
    spec.environment = Some(buildamp::service::endpoint::Environment::Development);
    let operators = runtime.endpoints().create(spec).await.unwrap().endpoint.id;

    // Four deliveries refused (dead letters at once) and one delivered.
    for n in 0..4 {
        AlertBad { n }.trigger(&runtime).await.unwrap();
    }
    AlertOk { n: 0 }.trigger(&runtime).await.unwrap();
    drain(&runtime).await;
    let first = runtime.alerts().evaluate().await.unwrap();
    let bad = "webhook:AlertBad".to_owned();
    assert_eq!(
        fired_and_resolved(&first),
        (
            vec![
                (Rule::FailureRate, bad.clone()),
                (Rule::RetriesExhausted, bad.clone())
            ],
            vec![]
        )
    );
    assert_eq!(
        first.fired[0].summary,
        "4 of 4 attempts failed (100.0%) over the last 5 minutes for webhook AlertBad (threshold 5.0%)"
    );
    // Checked again, here or in the other process: the incidents are open already.
    assert_eq!(
        runtime.alerts().evaluate().await.unwrap(),
        Default::default()
    );
    assert_eq!(other.alerts().evaluate().await.unwrap(), Default::default());
    // Even an evaluator that decided before the other wrote cannot open a second incident.
    let twin = AlertRow {
        id: uuid::Uuid::now_v7(),
        resolved_at: None,
        ..store.open_alerts().await.unwrap()[0].clone()
    };
    assert!(!store.fire_alert(&twin, vec![]).await.unwrap());
    assert_eq!(runtime.alerts().open().await.unwrap().len(), 2);

    // The operators' endpoint is told, in Slack's shape.
    drain(&runtime).await;
    let slack = told(&receiver);
    assert_eq!(slack.len(), 2, "{slack:?}");
    assert_eq!(
        slack[0]["text"],
        "[BuildAmp] 4 of 4 attempts failed (100.0%) over the last 5 minutes for webhook AlertBad (threshold 5.0%)"
    );
    assert_eq!(slack[0]["alert"]["rule"], "failure_rate");
    assert_eq!(slack[1]["alert"]["rule"], "retries_exhausted");
    assert_eq!(slack[1]["change"], "fired");

    // Six minutes on, nothing failed in the window; six deliveries wait: the queue is behind.
    clock.advance(Duration::from_secs(360));
    for n in 0..6 {
        AlertOk { n }.trigger(&runtime).await.unwrap();
    }
    let later = runtime.alerts().evaluate().await.unwrap();
    assert_eq!(
        fired_and_resolved(&later),
        (
            vec![(Rule::Backlog, "queue".to_owned())],
            vec![
                (Rule::FailureRate, bad.clone()),
                (Rule::RetriesExhausted, bad.clone())
            ]
        )
    );
    drain(&runtime).await;
    let caught_up = runtime.alerts().evaluate().await.unwrap();
    assert_eq!(
        fired_and_resolved(&caught_up),
        (vec![], vec![(Rule::Backlog, "queue".to_owned())])
    );

    // A target host whose circuit opens is down until it closes.
    clock.advance(Duration::from_secs(30));
    let host = "host:api.example.com";
    let policy = BreakerPolicy::default();
    let opened = |_: Option<&Circuit>| {
        let mut open = Circuit::closed(&policy, t0());
        open.state = CircuitState::Open;
        open.failures = 5;
        Some((open, None))
    };
    store.change_circuit(host, &opened).await.unwrap();
    let down = runtime.alerts().evaluate().await.unwrap();
    assert_eq!(
        fired_and_resolved(&down),
        (vec![(Rule::EndpointDown, host.to_owned())], vec![])
    );
    assert_eq!(
        down.fired[0].summary,
        "target host api.example.com is down: its circuit is open after 5 consecutive failures"
    );
    let closed = |_: Option<&Circuit>| Some((Circuit::closed(&policy, t0()), None));
    store.change_circuit(host, &closed).await.unwrap();
    clock.advance(Duration::from_secs(90));
    let up = runtime.alerts().evaluate().await.unwrap();
    assert_eq!(
        fired_and_resolved(&up),
        (vec![], vec![(Rule::EndpointDown, host.to_owned())])
    );
    assert!(runtime.alerts().open().await.unwrap().is_empty());

    // The app's handler: every firing and resolution once, in the order they happened.
    let dispatcher = runtime.alert_dispatcher();
    while dispatcher.dispatch_once().await.unwrap() > 0 {}
    let events: Vec<(AlertChange, Rule)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.change, e.alert.rule))
        .collect();
    assert_eq!(
        events,
        [
            (AlertChange::Fired, Rule::FailureRate),
            (AlertChange::Fired, Rule::RetriesExhausted),
            (AlertChange::Fired, Rule::Backlog),
            (AlertChange::Resolved, Rule::FailureRate),
            (AlertChange::Resolved, Rule::RetriesExhausted),
            (AlertChange::Resolved, Rule::Backlog),
            (AlertChange::Fired, Rule::EndpointDown),
            (AlertChange::Resolved, Rule::EndpointDown),
        ]
    );
    assert!(seen.lock().unwrap().iter().all(|e| e.delivery == 1));
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 0);
    // The operators got the same eight, in order, numbered without gaps.
    drain(&runtime).await;
    let slack = told(&receiver);
    let order: Vec<(String, u64)> = slack
        .iter()
        .map(|b| {
            (
                format!(
                    "{} {}",
                    b["change"].as_str().unwrap(),
                    b["alert"]["rule"].as_str().unwrap()
                ),
                b["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(order.len(), 8, "{order:?}");
    assert_eq!(order[3], ("resolved failure_rate".to_owned(), 4));
    assert!(
        slack[3]["text"]
            .as_str()
            .unwrap()
            .starts_with("[BuildAmp] Resolved after 6 min: 4 of 4 attempts failed"),
        "{}",
        slack[3]["text"]
    );

    // Over HTTP, for admins.
    let router = buildamp::http::service::router(runtime.clone(), Admin);
    let response = router
        .oneshot(
            Request::get("/buildamp/alerts")
                .header("authorization", "Bearer admin")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["open"], serde_json::json!([]));
    assert_eq!(body["recent"].as_array().unwrap().len(), 4);
    assert_eq!(body["recent"][0]["rule"], "endpoint_down");
    let response = buildamp::http::service::router(runtime.clone(), Admin)
        .oneshot(
            Request::get("/buildamp/alerts?limit=many")
                .header("authorization", "Bearer admin")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(body["recent"][0]["resolved_at"].is_string());
    // Resolved incidents leave with the retention period, their events with them.
    clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(runtime.pruner().prune().await.unwrap().alerts, 4);
    assert!(runtime.alerts().recent(10).await.unwrap().is_empty());
    let _ = operators;
}
