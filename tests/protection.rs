//! Protecting destinations: limits that hold across executor processes, and the circuit
//! breaker, on Postgres and SQLite.
//!
//! For the limits, three runtimes, each with its own connection pool on one Postgres database
//! (as three processes would have), deliver to one receiver on 127.0.0.1 that records when each
//! request arrived and how many were in flight at once. On SQLite, which runs one process, the
//! same three executors share it. The breaker's timelines run under a manual clock, drained by
//! hand, so every transition is a step of the test.

mod support;

conformance! {
    an_endpoints_limits_hold_across_executors_and_spare_an_unlimited_endpoint,
    a_targets_concurrency_limit_holds_across_executors,
    the_breaker_opens_probes_once_reopens_longer_and_closes_without_spending_attempts,
    an_endpoint_is_disabled_on_410_or_after_failing_for_the_period_and_a_good_test_enables_it,
    a_failover_url_takes_deliveries_while_the_circuit_is_open,
    every_health_change_reaches_the_apps_health_handlers_at_least_once_in_order,
    a_probe_its_limits_refuse_is_given_back_and_goes_when_the_limit_allows,
    a_delivered_event_is_resent_once_as_the_same_delivery_keeping_its_number,
    an_ordered_endpoint_gets_each_keys_events_in_order_with_gap_free_numbers_under_failures,
    a_replay_of_10000_dead_letters_by_two_replayers_delivers_each_exactly_once,
    a_targets_host_has_a_circuit_too,
}

use std::sync::Mutex;
use std::time::Duration;

use buildamp::delivery::guard::AddressPolicy;
use buildamp::endpoints::Resend;
use buildamp::protect::{BreakerPolicy, CircuitState, Destination, HealthChange};
use buildamp::service::EndpointSpec;
use buildamp::service::{EndpointId, EndpointStatus};
use buildamp::{Clock, Event, ExecutionFilter, HealthEvent, ManualClock, Runtime, Status, Webhook};
use buildamp_models::{CustomAPICall, Lead, LeadCreated};
use serde_json::json;
use support::{Backend, Gauge, Receiver, Reply, env, runtime_with, test_keys};

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

/// A runtime under a manual clock, with a breaker that opens after `failures`.
async fn manual<S: Backend>(store: S, clock: &ManualClock, policy: BreakerPolicy) -> Runtime<S> {
    runtime_with(store, env(&[]), clock, |b| {
        b.address_policy(AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]))
            .breaker(policy)
    })
    .await
}

fn policy(failures: u32) -> BreakerPolicy {
    BreakerPolicy {
        failures,
        cool_down: Duration::from_secs(10),
        max_cool_down: Duration::from_secs(25),
        disable_after: None,
    }
}

/// An endpoint at `url` retried every second, up to 20 attempts.
async fn endpoint_at<S: Backend>(
    runtime: &Runtime<S>,
    url: &str,
    extra: serde_json::Value,
) -> EndpointId {
    let mut spec = json!({
        "url": url,
        "environment": "development",
        "subscriptions": ["lead.created"],
        "retry": {"max_attempts": 20, "schedule": ["1s"]},
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    runtime
        .endpoints()
        .create(serde_json::from_value(spec).unwrap())
        .await
        .unwrap()
        .endpoint
        .id
}

/// Runs the executor until nothing is due now.
async fn drain<S: Backend>(runtime: &Runtime<S>) {
    let executor = runtime.executor();
    for _ in 0..100 {
        if executor.run_once().await.unwrap() == 0 {
            return;
        }
    }
    panic!("the queue never drained");
}

async fn rows<S: Backend>(runtime: &Runtime<S>, endpoint: EndpointId) -> Vec<buildamp::Execution> {
    runtime
        .store()
        .executions(&ExecutionFilter::newest(100).endpoint(endpoint.0))
        .await
        .unwrap()
}

async fn the_breaker_opens_probes_once_reopens_longer_and_closes_without_spending_attempts<
    S: Backend,
>(
    store: S,
) {
    let clock = ManualClock::new(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6));
    let runtime = manual(store, &clock, policy(3)).await;
    let receiver = Receiver::answering(503).await;
    let id = endpoint_at(&runtime, &format!("{}/hook", receiver.base), json!({})).await;
    let health = || async { runtime.endpoints().health(id).await.unwrap() };
    for n in 0..5 {
        lead(n).publish(&runtime).await.unwrap();
    }
    // Five attempts in one batch fail: the circuit opens (at the third) for 10 s.
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 5);
    let h = health().await;
    assert_eq!((h.state, h.failures), (CircuitState::Open, 5));
    let opened_until = h.until.unwrap();
    // Their retries come due while it is open: they wait, no request, no attempt spent.
    clock.advance(Duration::from_secs(2));
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 5, "nothing is sent while open");
    for row in rows(&runtime, id).await {
        assert_eq!(row.attempts, 1, "{row:?}");
        assert!(row.error_message.unwrap().contains("circuit is open"));
        assert_eq!(row.next_retry_at, opened_until);
    }
    // The cool-down ends: exactly one probe goes, and fails: open again for twice as long.
    clock.advance(Duration::from_secs(8));
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 6, "one probe");
    let h = health().await;
    assert_eq!(h.state, CircuitState::Open);
    assert_eq!(
        h.until.unwrap(),
        clock.now() + chrono::Duration::seconds(20)
    );
    // The endpoint recovers; after the longer cool-down the probe succeeds and the circuit
    // closes; the waiting deliveries follow.
    receiver.script(|_, _| Reply::Status(204));
    clock.advance(Duration::from_secs(20));
    drain(&runtime).await;
    // (The others of the probe's batch go too if they look after it closed the circuit, or
    // wait for the recheck if they look while it is in flight.)
    assert!(receiver.received().len() >= 7);
    assert_eq!(health().await.state, CircuitState::Closed);
    clock.advance(Duration::from_secs(5));
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 11);
    let rows = rows(&runtime, id).await;
    assert!(rows.iter().all(|r| r.status == Status::Sent));
    // Attempts are the requests made: 5 + 2 probes + 4.
    assert_eq!(rows.iter().map(|r| r.attempts).sum::<i32>(), 11);
    let changes: Vec<HealthChange> = health().await.changes.iter().map(|c| c.change).collect();
    assert_eq!(
        changes,
        [
            HealthChange::Closed,
            HealthChange::Reopened,
            HealthChange::Opened
        ]
    );
}

async fn an_endpoint_is_disabled_on_410_or_after_failing_for_the_period_and_a_good_test_enables_it<
    S: Backend,
>(
    store: S,
) {
    let clock = ManualClock::new(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6));
    let runtime = manual(
        store,
        &clock,
        BreakerPolicy {
            disable_after: Some(Duration::from_secs(3600)),
            ..policy(100)
        },
    )
    .await;
    let receiver = Receiver::answering(410).await;
    let id = endpoint_at(&runtime, &format!("{}/gone", receiver.base), json!({})).await;
    lead(1).publish(&runtime).await.unwrap();
    drain(&runtime).await;
    let endpoint = runtime.endpoints().get(id).await.unwrap();
    assert_eq!(endpoint.status, EndpointStatus::Disabled);
    assert!(
        endpoint
            .config
            .disabled_reason
            .as_deref()
            .unwrap()
            .contains("410 Gone"),
        "{endpoint:?}"
    );
    assert_eq!(rows(&runtime, id).await[0].status, Status::DeadLetter);
    // A disabled endpoint receives no new events.
    assert_eq!(lead(2).publish(&runtime).await.unwrap().deliveries, 0);
    // A failed test leaves it disabled; a successful one enables it.
    let test = runtime.endpoints().test(id).await.unwrap();
    assert!(!test.delivered && !test.re_enabled);
    receiver.script(|_, _| Reply::Status(204));
    let test = runtime.endpoints().test(id).await.unwrap();
    assert!(test.delivered && test.re_enabled);
    let endpoint = runtime.endpoints().get(id).await.unwrap();
    assert_eq!(
        (endpoint.status, endpoint.config.disabled_reason),
        (EndpointStatus::Enabled, None)
    );
    // Failing continuously for the period (an hour here) disables it too.
    receiver.script(|_, _| Reply::Status(503));
    lead(3).publish(&runtime).await.unwrap();
    drain(&runtime).await;
    for _ in 0..3 {
        clock.advance(Duration::from_secs(30 * 60));
        drain(&runtime).await;
    }
    let endpoint = runtime.endpoints().get(id).await.unwrap();
    assert_eq!(endpoint.status, EndpointStatus::Disabled);
    let reason = endpoint.config.disabled_reason.unwrap();
    assert!(reason.contains("failed every delivery since"), "{reason}");
    assert_eq!(
        runtime
            .endpoints()
            .health(id)
            .await
            .unwrap()
            .disabled_reason,
        Some(reason)
    );
}

async fn a_probe_its_limits_refuse_is_given_back_and_goes_when_the_limit_allows<S: Backend>(
    store: S,
) {
    let clock = ManualClock::new(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6));
    let runtime = manual(store, &clock, policy(1)).await;
    let receiver = Receiver::answering(503).await;
    let url = format!("{}/hook", receiver.base);
    let id = endpoint_at(&runtime, &url, json!({"limits": {"rate": "1/h"}})).await;
    let health = || async { runtime.endpoints().health(id).await.unwrap() };
    // One failure opens the circuit (10 s) and fills the rate window (an hour after it ended).
    lead(1).publish(&runtime).await.unwrap();
    drain(&runtime).await;
    assert_eq!(health().await.state, CircuitState::Open);
    // The cool-down ends: the retry takes the probe, but its limit refuses it; the probe is
    // given back (open, its cool-down over), nothing is sent, no attempt is spent.
    receiver.script(|_, _| Reply::Status(204));
    clock.advance(Duration::from_secs(10));
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 1);
    let h = health().await;
    assert_eq!((h.state, h.until), (CircuitState::Open, Some(clock.now())));
    let row = rows(&runtime, id).await.remove(0);
    assert_eq!((row.status, row.attempts), (Status::Failed, 1));
    assert!(row.error_message.unwrap().contains("rate"), "limited");
    // When the window allows it, it probes, is answered, and the circuit closes.
    clock.advance(Duration::from_secs(3600));
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(health().await.state, CircuitState::Closed);
    let row = runtime.execution(row.id).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (Status::Sent, 2));
}

async fn every_health_change_reaches_the_apps_health_handlers_at_least_once_in_order<S: Backend>(
    store: S,
) {
    let clock = ManualClock::new(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6));
    // The handler records what it took, and fails the first time it sees each change.
    let seen = std::sync::Arc::new(Mutex::new((std::collections::HashSet::new(), Vec::new())));
    let runtime = runtime_with(store, env(&[]), &clock, |b| {
        let seen = seen.clone();
        b.address_policy(AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]))
            .breaker(policy(2))
            .on_health(move |event: HealthEvent| {
                let seen = seen.clone();
                async move {
                    let mut seen = seen.lock().unwrap();
                    if seen.0.insert(event.id) {
                        return Err("not yet".into());
                    }
                    seen.1.push(event);
                    Ok(())
                }
            })
    })
    .await;
    let receiver = Receiver::answering(503).await;
    let id = endpoint_at(&runtime, &format!("{}/hook", receiver.base), json!({})).await;
    // Two failures open the circuit; after the cool-down the probe is answered 410 Gone, which
    // closes the circuit and disables the endpoint; a good test enables it again.
    for n in 0..2 {
        lead(n).publish(&runtime).await.unwrap();
    }
    drain(&runtime).await;
    receiver.script(|_, _| Reply::Status(410));
    clock.advance(Duration::from_secs(10));
    drain(&runtime).await;
    receiver.script(|_, _| Reply::Status(204));
    assert!(runtime.endpoints().test(id).await.unwrap().re_enabled);
    // Each change is handed over, refused, then handed over again after the delay.
    let dispatcher = runtime.health_dispatcher();
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 4);
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 0, "not due yet");
    assert!(seen.lock().unwrap().1.is_empty());
    clock.advance(Duration::from_secs(2));
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 4);
    clock.advance(Duration::from_secs(600));
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 0, "acknowledged");
    let events = seen.lock().unwrap().1.clone();
    let changes: Vec<_> = events.iter().map(|e| e.change).collect();
    assert_eq!(
        changes,
        [
            HealthChange::Opened,
            HealthChange::Closed,
            HealthChange::Disabled,
            HealthChange::Enabled
        ]
    );
    for event in &events {
        assert_eq!(event.destination, Destination::Endpoint(id.0));
        assert_eq!(event.delivery, 2);
    }
    assert_eq!(
        (events[0].failures, events[0].cool_down),
        (2, Duration::from_secs(10))
    );
    assert!(
        events[2].reason.as_deref().unwrap().contains("410 Gone"),
        "{:?}",
        events[2]
    );
    // The endpoint's health shows the same log, newest first.
    let logged: Vec<_> = runtime.endpoints().health(id).await.unwrap().changes;
    let logged: Vec<_> = logged.iter().rev().map(|c| c.change).collect();
    assert_eq!(logged, changes);
}

async fn a_delivered_event_is_resent_once_as_the_same_delivery_keeping_its_number<S: Backend>(
    store: S,
) {
    let clock = ManualClock::new(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6));
    let runtime = manual(store, &clock, policy(100)).await;
    let receiver = Receiver::answering(204).await;
    let url = format!("{}/hook", receiver.base);
    let id = endpoint_at(&runtime, &url, json!({"ordered": true})).await;
    for n in 0..2 {
        lead(n).publish(&runtime).ordering_key("k").await.unwrap();
    }
    drain(&runtime).await;
    let first = rows(&runtime, id).await.pop().unwrap(); // newest first: the last is number 1
    assert_eq!((first.status, first.sequence), (Status::Sent, Some(1)));
    let endpoints = runtime.endpoints();
    // Two resends at once queue it once; nothing is sent before the executor runs.
    let (a, b) = tokio::join!(endpoints.resend(first.id), endpoints.resend(first.id));
    let mut answers = [a.unwrap(), b.unwrap()];
    answers.sort_by_key(|r| r != &Resend::Queued);
    assert_eq!(
        answers,
        [
            Resend::Queued,
            Resend::Unsettled {
                status: Status::Pending
            }
        ]
    );
    drain(&runtime).await;
    let received = receiver.received();
    assert_eq!(received.len(), 3, "two deliveries and one resend");
    let (original, resent) = (&received[0], &received[2]);
    assert_eq!(resent.json()["event_id"], original.json()["event_id"]);
    assert_eq!(resent.header("webhook-id"), original.header("webhook-id"));
    assert_eq!(
        resent.header("x-sequence"),
        Some("1"),
        "it keeps its number"
    );
    let after = runtime.execution(first.id).await.unwrap().unwrap();
    assert_eq!((after.status, after.attempts), (Status::Sent, 2));
    assert_eq!(runtime.attempts(first.id).await.unwrap().len(), 2);
    // A dead letter is resent too; a disabled endpoint's deliveries and unknown ids are not.
    receiver.script(|_, _| Reply::Status(400));
    lead(3).publish(&runtime).await.unwrap();
    drain(&runtime).await;
    let dead = rows(&runtime, id).await.remove(0);
    assert_eq!(dead.status, Status::DeadLetter);
    receiver.script(|_, _| Reply::Status(204));
    assert_eq!(endpoints.resend(dead.id).await.unwrap(), Resend::Queued);
    drain(&runtime).await;
    let dead = runtime.execution(dead.id).await.unwrap().unwrap();
    assert_eq!(dead.status, Status::Sent);
    endpoints
        .set_status(id, EndpointStatus::Disabled)
        .await
        .unwrap();
    assert_eq!(
        endpoints.resend(first.id).await.unwrap(),
        Resend::EndpointDisabled { reason: None }
    );
    // Disabling by hand is a health change too, logged with its reason.
    let logged = endpoints.health(id).await.unwrap().changes.remove(0);
    assert_eq!(
        (logged.change, logged.reason.as_deref()),
        (HealthChange::Disabled, Some("disabled by hand"))
    );
    assert_eq!(
        endpoints
            .resend(buildamp::ExecutionId::new())
            .await
            .unwrap(),
        Resend::NotFound
    );
    assert_eq!(receiver.received().len(), 5);
}

async fn a_failover_url_takes_deliveries_while_the_circuit_is_open<S: Backend>(store: S) {
    let clock = ManualClock::new(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6));
    let runtime = manual(store, &clock, policy(2)).await;
    let primary = Receiver::answering(503).await;
    let failover = Receiver::answering(204).await;
    let id = endpoint_at(
        &runtime,
        &format!("{}/primary", primary.base),
        json!({"failover_url": format!("{}/failover", failover.base)}),
    )
    .await;
    for n in 0..2 {
        lead(n).publish(&runtime).await.unwrap();
    }
    drain(&runtime).await;
    assert_eq!(
        runtime.endpoints().health(id).await.unwrap().state,
        CircuitState::Open
    );
    // While open, new deliveries and the retries go to the failover, signed as usual.
    for n in 2..5 {
        lead(n).publish(&runtime).await.unwrap();
    }
    drain(&runtime).await;
    clock.advance(Duration::from_secs(2));
    drain(&runtime).await;
    assert_eq!(primary.received().len(), 2);
    let got = failover.received();
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|r| r.header("webhook-signature").is_some()));
    assert!(
        rows(&runtime, id)
            .await
            .iter()
            .all(|r| r.status == Status::Sent)
    );
    // The failover's answers do not close the primary's circuit.
    assert_eq!(
        runtime.endpoints().health(id).await.unwrap().state,
        CircuitState::Open
    );
}

/// Whether the receiver fails its `n`-th request: about one in four, spread by a hash.
fn fails(n: usize) -> bool {
    (n.wrapping_mul(2_654_435_761) >> 7).is_multiple_of(4)
}

async fn an_ordered_endpoint_gets_each_keys_events_in_order_with_gap_free_numbers_under_failures<
    S: Backend,
>(
    store: S,
) {
    const KEYS: [&str; 3] = ["txn_a", "txn_b", "txn_c"];
    const EACH: u32 = 200;
    let (ok_tx, mut delivered) = tokio::sync::watch::channel(0usize);
    let receiver = Receiver::start(move |_, n| {
        if fails(n) {
            Reply::Status(503)
        } else {
            ok_tx.send_modify(|ok| *ok += 1);
            Reply::Status(204)
        }
    })
    .await;
    let gauge = Gauge::start(Duration::from_millis(20)).await;
    let runtimes = three(store, &[]).await;
    let endpoints = runtimes[0].endpoints();
    let create = |url: String, ordered: bool| {
        serde_json::from_value::<EndpointSpec>(json!({
            "url": url,
            "environment": "development",
            "subscriptions": ["lead.created"],
            "ordered": ordered,
            "retry": {"max_attempts": 50, "schedule": ["10ms"]},
        }))
        .unwrap()
    };
    endpoints
        .create(create(format!("{}/ordered", receiver.base), true))
        .await
        .unwrap();
    endpoints
        .create(create(format!("{}/unordered", gauge.base), false))
        .await
        .unwrap();
    let mut running = Vec::new();
    for r in &runtimes {
        running.push(r.start().await.unwrap());
    }
    // Each key's events are published in order by one task, while the executors deliver.
    let mut publishers = tokio::task::JoinSet::new();
    for (k, key) in KEYS.iter().enumerate() {
        let runtime = runtimes[k].clone();
        publishers.spawn(async move {
            for n in 0..EACH {
                lead(n).publish(&runtime).ordering_key(*key).await.unwrap();
            }
        });
    }
    while let Some(done) = publishers.join_next().await {
        done.unwrap();
    }
    let total = KEYS.len() * EACH as usize;
    tokio::time::timeout(
        Duration::from_secs(180),
        delivered.wait_for(|ok| *ok >= total),
    )
    .await
    .expect("every ordered delivery arrived")
    .unwrap();
    gauge.wait_for(total, Duration::from_secs(60)).await;
    for r in running {
        r.shutdown().await.unwrap();
    }

    // In arrival order, each key's requests carry the next number: a failed one is sent again
    // (the same number) before any later one, and the numbers run 1..=200 without a gap.
    let mut next: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for (n, r) in receiver.received().iter().enumerate() {
        let key = r
            .header("x-ordering-key")
            .expect("an ordering key")
            .to_owned();
        let sequence: i64 = r.header("x-sequence").unwrap().parse().unwrap();
        let body = r.json();
        assert_eq!(body["metadata"]["sequence"], sequence);
        assert_eq!(body["metadata"]["ordering_key"], key.as_str());
        assert_eq!(
            body["data"]["lead"]["score"],
            sequence - 1,
            "numbers follow publish order"
        );
        let expected = next.entry(key.clone()).or_insert(1);
        assert_eq!(sequence, *expected, "{key}: request {n} out of order");
        if !fails(n) {
            *expected += 1;
        }
    }
    assert!(
        receiver
            .received()
            .iter()
            .enumerate()
            .any(|(n, _)| fails(n))
    );
    assert_eq!(
        next.into_values().collect::<Vec<_>>(),
        vec![i64::from(EACH) + 1; KEYS.len()]
    );
    // The unordered endpoint received the same events without waiting its turn.
    let unordered = gauge.path("/unordered");
    assert_eq!(unordered.arrivals.len(), total);
    assert!(
        unordered.max_in_flight > KEYS.len(),
        "an unordered endpoint keeps its concurrency ({})",
        unordered.max_in_flight
    );
}

async fn a_replay_of_10000_dead_letters_by_two_replayers_delivers_each_exactly_once<S: Backend>(
    store: S,
) {
    const N: usize = 10_000;
    let gauge = Gauge::start(Duration::ZERO).await;
    let runtimes = three(store, &[]).await;
    let endpoint = endpoint_at(&runtimes[0], &format!("{}/replayed", gauge.base), json!({})).await;
    let other = endpoint_at(&runtimes[0], &format!("{}/other", gauge.base), json!({})).await;
    // Dead letters as a long outage leaves them: 10,000 of the endpoint, and one of another.
    let now = chrono::Utc::now();
    let dead = |n: usize, endpoint: EndpointId| buildamp::store::NewRow {
        id: buildamp::ExecutionId::new(),
        webhook_type: "lead.created",
        target_url: String::new(),
        payload: json!({
            "event_type": "lead.created", "event_id": format!("evt_{n}"),
            "timestamp": "2026-12-01T00:00:00Z", "data": {"n": n},
            "metadata": {"version": "1.0"},
        }),
        headers: json!({}),
        branches: json!({}),
        status: Status::DeadLetter,
        error_message: Some("the endpoint was down".into()),
        max_attempts: 5,
        due_at: now,
        correlation_id: None,
        application: String::new(),
        host: String::new(),
        idempotency_key: None,
        endpoint_id: Some(endpoint.0),
        event_id: Some(format!("evt_{n}")),
        ordering_key: None,
    };
    let store = runtimes[0].store();
    for chunk in (0..N).collect::<Vec<_>>().chunks(2_000) {
        store
            .insert(now, chunk.iter().map(|n| dead(*n, endpoint)).collect())
            .await
            .unwrap();
    }
    store.insert(now, vec![dead(N, other)]).await.unwrap();

    let filter = buildamp::store::DeadLetterFilter::all().endpoint(endpoint.0);
    let job = runtimes[0].replayer().create(filter.clone()).await.unwrap();
    assert_eq!((job.total, job.replayed, job.done), (N as u64, 0, false));
    // One step, then its replayer stops; two others resume the job at once.
    let first = runtimes[2].replayer().step(job.id).await.unwrap().unwrap();
    assert_eq!(first.replayed, 500);
    let (seen_a, seen_b) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    let (a, b) = (runtimes[0].replayer(), runtimes[1].replayer());
    let (a, b) = tokio::join!(
        a.run(job.id, |j| seen_a.lock().unwrap().push(j.replayed)),
        b.run(job.id, |j| seen_b.lock().unwrap().push(j.replayed)),
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert!(a.done && b.done);
    assert_eq!(
        a.replayed, N as u64,
        "every dead letter retried, none twice"
    );
    for seen in [seen_a, seen_b] {
        let seen = seen.into_inner().unwrap();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress only grows");
        assert_eq!(seen.last(), Some(&(N as u64)));
    }
    // A second replay of the same filter finds nothing left to retry.
    let again = runtimes[1].replayer().create(filter).await.unwrap();
    assert_eq!(again.total, 0);

    let mut running = Vec::new();
    for r in &runtimes {
        running.push(r.start().await.unwrap());
    }
    gauge.wait_for(N, Duration::from_secs(300)).await;
    for r in running {
        r.shutdown().await.unwrap();
    }
    let replayed = gauge.path("/replayed");
    assert_eq!(replayed.arrivals.len(), N, "each delivered once");
    let ids: std::collections::HashSet<&String> = replayed.ids.iter().collect();
    assert_eq!(ids.len(), N);
    assert!(
        gauge.path("/other").arrivals.is_empty(),
        "only the endpoint's"
    );
    assert_eq!(
        runtimes[0].store().count_sent().await,
        N as i64,
        "every replayed row is sent; the other endpoint's dead letter stays"
    );
}

async fn a_targets_host_has_a_circuit_too<S: Backend>(store: S) {
    // `CustomAPICall`: 4 attempts, backoff 4 s, 8 s, 10 s; its URL from the environment.
    let receiver = Receiver::answering(503).await;
    let url = format!("{}/custom", receiver.base);
    let clock = ManualClock::new(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6));
    let runtime = runtime_with(store, env(&[("CUSTOM_SERVICE_URL", &url)]), &clock, |b| {
        b.breaker(policy(3))
    })
    .await;
    for n in 0..3 {
        CustomAPICall {
            operation: format!("op{n}"),
            data: json!({}),
        }
        .trigger(&runtime)
        .await
        .unwrap();
    }
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 3);
    let host = url::Url::parse(&url).unwrap();
    let key = format!("host:127.0.0.1:{}", host.port().unwrap());
    let circuit = runtime
        .store()
        .circuit(&key)
        .await
        .unwrap()
        .expect("a circuit");
    assert_eq!(circuit.state, CircuitState::Open);
    // The retries come due while it is open: no request, no attempt spent.
    clock.advance(Duration::from_secs(5));
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 3);
    let rows = runtime
        .store()
        .executions(&ExecutionFilter::newest(10).webhook_type("CustomAPICall"))
        .await
        .unwrap();
    for row in rows {
        assert_eq!(row.attempts, 1, "{row:?}");
        assert!(row.error_message.unwrap().contains("circuit is open"));
    }
    // The host recovers: one probe closes it, and the rest follow.
    receiver.script(|_, _| Reply::Status(200));
    clock.advance(Duration::from_secs(10));
    drain(&runtime).await;
    clock.advance(Duration::from_secs(5));
    drain(&runtime).await;
    assert_eq!(receiver.received().len(), 6);
    assert_eq!(
        runtime.store().circuit(&key).await.unwrap(),
        None,
        "closed and clean"
    );
}
