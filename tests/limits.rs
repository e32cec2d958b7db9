//! Limits that hold across executor processes (issue: protecting endpoints). Three runtimes,
//! each with its own connection pool on one Postgres database (as three processes would have),
//! deliver to one receiver on 127.0.0.1 that records when each request arrived and how many
//! were in flight at once. On SQLite, which runs one process, the same three executors share it.

mod support;

conformance! {
    an_endpoints_limits_hold_across_executors_and_spare_an_unlimited_endpoint,
    a_targets_concurrency_limit_holds_across_executors,
}

use std::time::Duration;

use buildamp::delivery::guard::AddressPolicy;
use buildamp::service::EndpointSpec;
use buildamp::{Event, ExecutionFilter, Runtime, Status, Webhook};
use buildamp_models::{CustomAPICall, Lead, LeadCreated};
use serde_json::json;
use support::{Backend, Gauge, env, test_keys};

/// A runtime on `store` with the system clock (the receiver measures real time), allowed to
/// reach 127.0.0.0/8.
async fn runtime<S: Backend>(store: S, vars: &[(&str, &str)]) -> Runtime<S> {
    let runtime = Runtime::builder(store)
        .env(env(vars))
        .secret_keys(test_keys())
        .address_policy(AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]))
        .allow_missing_env()
        .build()
        .expect("the runtime starts");
    runtime.migrate().await.expect("migrations apply");
    runtime
}

/// Three executors' runtimes on one database, as three processes.
async fn three<S: Backend>(store: S, vars: &[(&str, &str)]) -> Vec<Runtime<S>> {
    let mut runtimes = vec![runtime(store.another_process().await, vars).await];
    runtimes.push(runtime(store.another_process().await, vars).await);
    runtimes.push(runtime(store, vars).await);
    runtimes
}

fn lead(n: u32) -> LeadCreated {
    LeadCreated {
        lead: Lead {
            id: format!("lead_{n}"),
            name: "Jo Doe".into(),
            email: None,
            phone: None,
            source: "website".into(),
            score: n,
            created_at: "2025-08-05T17:30:00Z".into(),
        },
        agent: None,
    }
}

async fn an_endpoints_limits_hold_across_executors_and_spare_an_unlimited_endpoint<S: Backend>(
    store: S,
) {
    const EVENTS: usize = 60;
    const MAX_CONCURRENCY: usize = 3;
    const RATE: usize = 20;
    const PER: Duration = Duration::from_secs(2);
    let gauge = Gauge::start(Duration::from_millis(100)).await;
    let runtimes = three(store, &[]).await;
    let endpoint = |path: &str, limits: serde_json::Value| -> EndpointSpec {
        serde_json::from_value(json!({
            "url": format!("{}/{path}", gauge.base),
            "environment": "development",
            "subscriptions": ["lead.created"],
            "limits": limits,
        }))
        .unwrap()
    };
    let endpoints = runtimes[0].endpoints();
    endpoints
        .create(endpoint(
            "limited",
            json!({"max_concurrency": MAX_CONCURRENCY, "rate": format!("{RATE}/2s")}),
        ))
        .await
        .unwrap();
    endpoints.create(endpoint("free", json!({}))).await.unwrap();
    for n in 0..EVENTS as u32 {
        lead(n).publish(&runtimes[n as usize % 3]).await.unwrap();
    }
    let mut running = Vec::new();
    for r in &runtimes {
        running.push(r.start().await.unwrap());
    }
    gauge.wait_for(2 * EVENTS, Duration::from_secs(60)).await;

    let limited = gauge.path("/limited");
    let free = gauge.path("/free");
    assert_eq!(limited.arrivals.len(), EVENTS);
    assert_eq!(free.arrivals.len(), EVENTS);
    assert!(
        limited.max_in_flight <= MAX_CONCURRENCY,
        "at most {MAX_CONCURRENCY} at once across the executors, saw {}",
        limited.max_in_flight
    );
    let most = limited.max_in_any(PER);
    assert!(most <= RATE, "at most {RATE} in any {PER:?}, saw {most}");
    assert_eq!(
        most, RATE,
        "the limit is used, not only respected (the backlog fills each window)"
    );
    // The unlimited endpoint is not held up: all its deliveries arrived before the limited one
    // could start its second window's worth, and more than the limited one's cap ran at once.
    let mut limited_times = limited.arrivals.clone();
    limited_times.sort();
    let free_last = free.arrivals.iter().max().unwrap();
    assert!(
        *free_last < limited_times[RATE],
        "the unlimited endpoint finished at {free_last:?}, after the limited one's window turned ({:?})",
        limited_times[RATE]
    );
    assert!(
        free.max_in_flight > MAX_CONCURRENCY,
        "the unlimited endpoint kept its concurrency ({})",
        free.max_in_flight
    );
    // Shutting down writes every completion; then no attempt was spent on waiting: every
    // delivery was sent by its first attempt.
    for r in running {
        r.shutdown().await.unwrap();
    }
    let rows = runtimes[0]
        .store()
        .executions(&ExecutionFilter::newest(500))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2 * EVENTS);
    for row in &rows {
        assert_eq!((row.status, row.attempts), (Status::Sent, 1), "{row:?}");
    }
    let mut ids = limited.ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "each event arrived once");
}

async fn a_targets_concurrency_limit_holds_across_executors<S: Backend>(store: S) {
    // `CustomAPICall` declares `max_concurrency = 10`, `rate_limit = "100/min"`.
    const CALLS: usize = 40;
    let gauge = Gauge::start(Duration::from_millis(150)).await;
    let url = format!("{}/custom", gauge.base);
    let runtimes = three(store, &[("CUSTOM_SERVICE_URL", &url)]).await;
    for n in 0..CALLS {
        CustomAPICall {
            operation: format!("op{n}"),
            data: json!({"n": n}),
        }
        .trigger(&runtimes[n % 3])
        .await
        .unwrap();
    }
    let mut running = Vec::new();
    for r in &runtimes {
        running.push(r.start().await.unwrap());
    }
    gauge.wait_for(CALLS, Duration::from_secs(60)).await;
    let seen = gauge.path("/custom");
    assert_eq!(seen.arrivals.len(), CALLS);
    assert!(
        seen.max_in_flight <= 10,
        "at most 10 at once across the executors, saw {}",
        seen.max_in_flight
    );
    assert!(
        seen.max_in_flight >= 5,
        "the limit is used ({})",
        seen.max_in_flight
    );
    for r in running {
        r.shutdown().await.unwrap();
    }
}
