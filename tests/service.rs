//! The webhooks service end to end, on Postgres and SQLite: event types from `buildamp-models`,
//! customers' endpoints as data, fan-out on the same queue, signatures checked by the
//! `standardwebhooks` package from PyPI, envelopes checked against the generated JSON Schema by
//! the `jsonschema` package, and the SSRF guard. Deliveries go only to a real receiver on
//! 127.0.0.1 (allowed through the allowlist); refused addresses never see a packet (a stub
//! resolver answers for them, and the guard refuses before any connection).

mod support;

conformance! {
    fan_out_delivers_every_event_once_to_each_subscriber_under_concurrent_publishers,
    deliveries_verify_with_the_standard_webhooks_package_through_a_rotation,
    legacy_sha256_and_sha1_signatures_sign_the_exact_body,
    wildcards_and_content_filters_choose_the_endpoints,
    a_rolled_back_publish_delivers_nothing,
    an_event_id_or_idempotency_key_publishes_once,
    retries_follow_the_endpoints_policy_then_dead_letter,
    a_paused_endpoint_waits_without_spending_attempts_and_a_disabled_or_deleted_one_dead_letters,
    endpoint_auth_is_sent_and_a_jwt_is_minted_per_request,
    the_ssrf_guard_refuses_internal_addresses_unless_allowlisted,
    secrets_are_absent_from_the_database_and_the_logs,
    every_management_route_answers_success_and_errors,
    the_envelope_matches_the_generated_json_schema,
    a_rescued_delivery_waits_for_the_endpoints_backoff,
}

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use buildamp::api::{Caller, Refused};
use buildamp::delivery::guard::{AddressPolicy, Lookup};
use buildamp::endpoints::Created;
use buildamp::http::service::{Scope, ServiceAuthorizer};
use buildamp::service::{EndpointId, EndpointSpec, EndpointStatus};
use buildamp::{Clock, Event, ExecutionFilter, ManualClock, Runtime, Status};
use buildamp_models::{Agent, CallEnded, Lead, LeadCreated};
use chrono::Utc;
use serde_json::{Value, json};
use support::{Backend, Receiver, Reply, env, reference_validate, reference_verify, runtime_with};
use tower::ServiceExt;

/// Resolves test names without DNS: `*.internal.test` to a private address, `*.loopback.test`
/// to 127.0.0.1. Records every name asked.
#[derive(Clone, Default)]
struct StubLookup {
    asked: Arc<Mutex<Vec<String>>>,
}

impl Lookup for StubLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        self.asked.lock().unwrap().push(host.to_owned());
        let answer: Vec<IpAddr> = if host.ends_with(".internal.test") {
            vec!["10.20.30.40".parse().unwrap()]
        } else if host.ends_with(".loopback.test") || host == "localhost" {
            vec!["127.0.0.1".parse().unwrap()]
        } else {
            Vec::new()
        };
        Box::pin(async move {
            if answer.is_empty() {
                Err(std::io::Error::other("no such test host"))
            } else {
                Ok(answer)
            }
        })
    }
}

struct Setup<S: Backend> {
    runtime: Runtime<S>,
    clock: ManualClock,
    receiver: Receiver,
    lookup: StubLookup,
}

/// A runtime whose endpoints may reach 127.0.0.0/8 only (the receiver), with a manual clock at
/// the real time (receivers check signature timestamps against their own clock).
async fn setup<S: Backend>(store: S, receiver: Receiver) -> Setup<S> {
    setup_with(
        store,
        receiver,
        AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]),
    )
    .await
}

async fn setup_with<S: Backend>(store: S, receiver: Receiver, policy: AddressPolicy) -> Setup<S> {
    let clock = ManualClock::new(Utc::now());
    let lookup = StubLookup::default();
    let stub = lookup.clone();
    let runtime = runtime_with(store, env(&[]), &clock, |b| {
        b.address_policy(policy).lookup(stub)
    })
    .await;
    Setup {
        runtime,
        clock,
        receiver,
        lookup,
    }
}

fn spec(url: &str, subscriptions: &[&str]) -> EndpointSpec {
    serde_json::from_value(json!({
        "url": url,
        "environment": "development",
        "subscriptions": subscriptions,
    }))
    .unwrap()
}

fn spec_json(value: Value) -> EndpointSpec {
    serde_json::from_value(value).unwrap()
}

async fn create<S: Backend>(s: &Setup<S>, spec: EndpointSpec) -> Created {
    s.runtime
        .endpoints()
        .create(spec)
        .await
        .expect("the endpoint is created")
}

fn lead(score: u32, source: &str) -> LeadCreated {
    LeadCreated {
        lead: Lead {
            id: format!("lead_{score}"),
            name: "Jo Doe".into(),
            email: Some("jo@example.com".into()),
            phone: Some("+15550123".into()),
            source: source.into(),
            score,
            created_at: "2025-08-05T17:30:00Z".into(),
        },
        agent: Some(Agent {
            id: "agent_456".into(),
            name: "Sarah Johnson".into(),
            email: None,
        }),
    }
}

fn call_ended() -> CallEnded {
    serde_json::from_value(json!({
        "call": {"id": "call_789", "direction": "inbound", "started_at": "2025-08-05T17:52:30Z"},
        "customer": {"id": "customer_456", "name": "Jane Smith", "phone": "+15550789"},
        "agent": null, "duration": 450, "outcome": "completed", "ended_at": "2025-08-05T18:00:00Z"
    }))
    .unwrap()
}

/// Runs the executor until nothing is due now.
async fn drain<S: Backend>(runtime: &Runtime<S>) -> usize {
    let executor = runtime.executor();
    let mut total = 0;
    for _ in 0..1000 {
        match executor.run_once().await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
    panic!("the queue never drained");
}

async fn deliveries<S: Backend>(
    runtime: &Runtime<S>,
    endpoint: EndpointId,
) -> Vec<buildamp::Execution> {
    runtime
        .store()
        .executions(&ExecutionFilter::newest(500).endpoint(endpoint.0))
        .await
        .unwrap()
}

async fn fan_out_delivers_every_event_once_to_each_subscriber_under_concurrent_publishers<
    S: Backend,
>(
    store: S,
) {
    let s = setup(store, Receiver::answering(204).await).await;
    let base = s.receiver.base.clone();
    let all_leads = create(&s, spec(&format!("{base}/a"), &["lead.*"])).await;
    let created_only = create(&s, spec(&format!("{base}/b"), &["lead.created"])).await;
    let calls = create(&s, spec(&format!("{base}/c"), &["call.*"])).await;
    const PUBLISHERS: u32 = 4;
    const EACH: u32 = 15;
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..PUBLISHERS {
        let runtime = s.runtime.clone();
        tasks.spawn(async move {
            for n in 0..EACH {
                let published = lead(p * 100 + n, "website")
                    .publish(&runtime)
                    .await
                    .unwrap();
                assert_eq!((published.deliveries, published.duplicate), (2, false));
            }
        });
    }
    // Delivering while publishing goes on.
    let executor = s.runtime.executor();
    while !tasks.is_empty() {
        executor.run_once().await.unwrap();
        if let Some(done) = tasks.try_join_next() {
            done.unwrap();
        }
    }
    drain(&s.runtime).await;
    let events = (PUBLISHERS * EACH) as usize;
    s.receiver.wait_for(2 * events).await;
    let mut seen = BTreeMap::new();
    for r in s.receiver.received() {
        *seen
            .entry((
                r.path.clone(),
                r.json()["event_id"].as_str().unwrap().to_owned(),
            ))
            .or_insert(0) += 1;
    }
    assert_eq!(
        seen.len(),
        2 * events,
        "every (endpoint, event) pair arrived"
    );
    assert!(seen.values().all(|n| *n == 1), "each exactly once");
    assert_eq!(seen.keys().filter(|(p, _)| p == "/a").count(), events);
    assert_eq!(seen.keys().filter(|(p, _)| p == "/b").count(), events);
    assert!(deliveries(&s.runtime, calls.endpoint.id).await.is_empty());
    for endpoint in [all_leads.endpoint.id, created_only.endpoint.id] {
        let rows = deliveries(&s.runtime, endpoint).await;
        assert_eq!(rows.len(), events);
        assert!(
            rows.iter()
                .all(|r| r.status == Status::Sent && r.webhook_type == "lead.created")
        );
    }
}

async fn deliveries_verify_with_the_standard_webhooks_package_through_a_rotation<S: Backend>(
    store: S,
) {
    let s = setup(store, Receiver::answering(200).await).await;
    let created = create(
        &s,
        spec(&format!("{}/hook", s.receiver.base), &["lead.created"]),
    )
    .await;
    let old = created.secret.expose().to_owned();
    lead(85, "website").publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    let verify = |r: &support::Received, secret: &str| {
        reference_verify(
            secret,
            r.header("webhook-id").unwrap(),
            r.header("webhook-timestamp").unwrap().parse().unwrap(),
            r.header("webhook-signature").unwrap(),
            std::str::from_utf8(&r.body).unwrap(),
        )
    };
    let first = &s.receiver.received()[0];
    assert_eq!(verify(first, &old), Ok("valid".to_owned()));
    assert_eq!(first.header("x-event-type"), Some("lead.created"));
    assert_eq!(first.header("x-event-id"), first.header("webhook-id"));
    assert_eq!(
        first.json()["event_id"].as_str(),
        first.header("webhook-id")
    );

    // Rotation: both secrets sign during the grace period.
    let grace = std::time::Duration::from_secs(3600);
    let new = s
        .runtime
        .endpoints()
        .rotate_secret(created.endpoint.id, grace)
        .await
        .unwrap();
    let new = new.expose().to_owned();
    assert_ne!(new, old);
    lead(86, "website").publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    let second = &s.receiver.received()[1];
    assert_eq!(
        second
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert_eq!(verify(second, &old), Ok("valid".to_owned()));
    assert_eq!(verify(second, &new), Ok("valid".to_owned()));
    let revealed = s
        .runtime
        .endpoints()
        .reveal_secrets(created.endpoint.id)
        .await
        .unwrap();
    assert_eq!(revealed.len(), 2);
    assert_eq!(revealed[0].secret.expose(), new, "the current secret first");

    // After the grace period only the new secret signs. (The receiver's own clock must agree
    // with the timestamp, so the manual clock moves and the check is of the header alone.)
    s.clock.advance(std::time::Duration::from_secs(3601));
    lead(87, "website").publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    let third = &s.receiver.received()[2];
    assert_eq!(
        third
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    let expected = buildamp::inbound::sign::standard(
        &[&new],
        third.header("webhook-id").unwrap(),
        third.header("webhook-timestamp").unwrap().parse().unwrap(),
        &third.body,
    )
    .unwrap();
    assert_eq!(third.header("webhook-signature"), Some(expected.as_str()));
}

async fn legacy_sha256_and_sha1_signatures_sign_the_exact_body<S: Backend>(store: S) {
    use hmac::{Hmac, Mac};
    let s = setup(store, Receiver::answering(200).await).await;
    let base = s.receiver.base.clone();
    let sha256 = create(&s, spec_json(json!({"url": format!("{base}/sha256"), "environment": "staging", "subscriptions": ["lead.*"], "signing": "x_signature_sha256"}))).await;
    let sha1 = create(&s, spec_json(json!({"url": format!("{base}/sha1"), "environment": "staging", "subscriptions": ["lead.*"], "signing": "hmac_sha1"}))).await;
    lead(70, "ads").publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    let by_path: BTreeMap<String, support::Received> = s
        .receiver
        .received()
        .into_iter()
        .map(|r| (r.path.clone(), r))
        .collect();
    let r = &by_path["/sha256"];
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(sha256.secret.expose().as_bytes()).unwrap();
    mac.update(&r.body);
    assert_eq!(
        r.header("x-signature").unwrap(),
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    assert!(r.header("webhook-signature").is_none());
    let r = &by_path["/sha1"];
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(sha1.secret.expose().as_bytes()).unwrap();
    mac.update(&r.body);
    assert_eq!(
        r.header("x-signature").unwrap(),
        format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
    );
    assert_eq!(r.header("x-event-type"), Some("lead.created"));
}

async fn wildcards_and_content_filters_choose_the_endpoints<S: Backend>(store: S) {
    let s = setup(store, Receiver::answering(200).await).await;
    let base = s.receiver.base.clone();
    let endpoint = |path: &str, subscriptions: Value, filter: Value| {
        spec_json(
            json!({"url": format!("{base}/{path}"), "environment": "development", "subscriptions": subscriptions, "filter": filter}),
        )
    };
    let table = [
        ("everything", json!(["*"]), json!({})),
        ("leads", json!(["lead.*"]), json!({})),
        ("created", json!(["*.created"]), json!({})),
        ("calls", json!(["call.ended"]), json!({})),
        (
            "hot",
            json!(["lead.created"]),
            json!({"rules": [{"field_path": "data.lead.score", "operator": "gt", "value": 80}]}),
        ),
        (
            "hot_web",
            json!(["lead.created"]),
            json!({"match": "all", "rules": [
            {"field_path": "data.lead.score", "operator": "gte", "value": 80},
            {"field_path": "data.lead.source", "operator": "eq", "value": "WEBSITE", "case_sensitive": false}]}),
        ),
        (
            "hot_or_ads",
            json!(["lead.created"]),
            json!({"match": "any", "rules": [
            {"field_path": "data.lead.score", "operator": "gt", "value": 80},
            {"field_path": "data.lead.source", "operator": "in", "value": ["ads", "referral"]}]}),
        ),
        (
            "example_mail",
            json!(["lead.created"]),
            json!({"rules": [{"field_path": "data.lead.email", "operator": "regex", "value": "@example\\.com$"}]}),
        ),
        (
            "long_calls",
            json!(["call.*"]),
            json!({"rules": [{"field_path": "data.duration", "operator": "gte", "value": 600}]}),
        ),
    ];
    for (path, subs, filter) in &table {
        create(&s, endpoint(path, subs.clone(), filter.clone())).await;
    }
    // Each event, and the endpoints it must reach.
    let expectations: [(&str, Vec<&str>); 3] = [
        (
            "hot website lead",
            vec![
                "everything",
                "leads",
                "created",
                "hot",
                "hot_web",
                "hot_or_ads",
                "example_mail",
            ],
        ),
        (
            "cold ads lead",
            vec![
                "everything",
                "leads",
                "created",
                "hot_or_ads",
                "example_mail",
            ],
        ),
        ("short call", vec!["everything", "calls"]),
    ];
    lead(90, "website")
        .publish(&s.runtime)
        .id("evt_hot")
        .await
        .unwrap();
    lead(40, "ads")
        .publish(&s.runtime)
        .id("evt_cold")
        .await
        .unwrap();
    call_ended()
        .publish(&s.runtime)
        .id("evt_call")
        .await
        .unwrap();
    drain(&s.runtime).await;
    let received = s.receiver.received();
    for ((what, expected), id) in expectations.iter().zip(["evt_hot", "evt_cold", "evt_call"]) {
        let mut got: Vec<String> = received
            .iter()
            .filter(|r| r.json()["event_id"] == id)
            .map(|r| r.path.trim_start_matches('/').to_owned())
            .collect();
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|p| (*p).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{what}");
    }
}

async fn a_rolled_back_publish_delivers_nothing<S: Backend>(store: S) {
    let s = setup(store, Receiver::answering(200).await).await;
    let endpoint = create(
        &s,
        spec(&format!("{}/tx", s.receiver.base), &["lead.created"]),
    )
    .await;
    let rolled_back = S::publish_in_transaction(&s.runtime, &lead(1, "web"), false).await;
    assert_eq!(rolled_back.deliveries, 1);
    assert_eq!(drain(&s.runtime).await, 0);
    assert!(
        deliveries(&s.runtime, endpoint.endpoint.id)
            .await
            .is_empty()
    );
    let committed = S::publish_in_transaction(&s.runtime, &lead(2, "web"), true).await;
    assert_eq!(drain(&s.runtime).await, 1);
    let received = s.receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["event_id"], committed.event_id.as_str());
}

async fn an_event_id_or_idempotency_key_publishes_once<S: Backend>(store: S) {
    let s = setup(store, Receiver::answering(200).await).await;
    create(&s, spec(&format!("{}/once", s.receiver.base), &["lead.*"])).await;
    let first = lead(1, "web")
        .publish(&s.runtime)
        .id("evt_fixed")
        .await
        .unwrap();
    let again = lead(2, "web")
        .publish(&s.runtime)
        .id("evt_fixed")
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!(
        (again.event_id.as_str(), again.deliveries, again.duplicate),
        ("evt_fixed", 1, true)
    );
    let keyed = lead(3, "web")
        .publish(&s.runtime)
        .idempotency_key("order-7")
        .await
        .unwrap();
    let repeat = lead(4, "web")
        .publish(&s.runtime)
        .idempotency_key("order-7")
        .await
        .unwrap();
    assert!(repeat.duplicate);
    assert_eq!(repeat.event_id, keyed.event_id);
    // The same key under another tenant is another event.
    let other = lead(5, "web")
        .publish(&s.runtime)
        .idempotency_key("order-7")
        .application("acme")
        .await
        .unwrap();
    assert!(!other.duplicate);
    drain(&s.runtime).await;
    assert_eq!(
        s.receiver.received().len(),
        2,
        "one delivery per distinct event of the default tenant"
    );
}

async fn retries_follow_the_endpoints_policy_then_dead_letter<S: Backend>(store: S) {
    let s = setup(
        store,
        Receiver::start(|_, n| Reply::Status(if n < 2 { 503 } else { 200 })).await,
    )
    .await;
    let endpoint = create(
        &s,
        spec(&format!("{}/flaky", s.receiver.base), &["lead.created"]),
    )
    .await;
    lead(1, "web").publish(&s.runtime).await.unwrap();
    let executor = s.runtime.executor();
    let mut delays = Vec::new();
    loop {
        assert_eq!(executor.run_once().await.unwrap(), 1);
        let row = &deliveries(&s.runtime, endpoint.endpoint.id).await[0];
        if row.status != Status::Failed {
            assert_eq!((row.status, row.attempts), (Status::Sent, 3));
            break;
        }
        delays.push((row.next_retry_at - s.clock.now()).num_milliseconds());
        s.clock.set(row.next_retry_at);
    }
    // 1 s then 2 s, each with up to a fifth of jitter.
    assert!(
        (1000..=1200).contains(&delays[0]) && (2000..=2400).contains(&delays[1]),
        "{delays:?}"
    );
    let bodies: Vec<Value> = s.receiver.received().iter().map(|r| r.json()).collect();
    let counts: Vec<&Value> = bodies
        .iter()
        .map(|b| &b["metadata"]["retry_count"])
        .collect();
    assert_eq!(counts, [&json!(0), &json!(1), &json!(2)]);

    // An explicit schedule and two attempts: dead letter, then a retry by hand gets the
    // endpoint's budget again.
    s.receiver.script(|_, _| Reply::Status(500));
    let scheduled = create(&s, spec_json(json!({"url": format!("{}/schedule", s.receiver.base), "environment": "development", "subscriptions": ["call.*"], "retry": {"max_attempts": 2, "schedule": ["4s"]}}))).await;
    call_ended().publish(&s.runtime).await.unwrap();
    executor.run_once().await.unwrap();
    let row = deliveries(&s.runtime, scheduled.endpoint.id)
        .await
        .remove(0);
    let wait = (row.next_retry_at - s.clock.now()).num_milliseconds();
    assert!(
        (4000..=4800).contains(&wait),
        "4 s and up to a fifth of jitter: {wait} ms"
    );
    s.clock.set(row.next_retry_at);
    executor.run_once().await.unwrap();
    let row = deliveries(&s.runtime, scheduled.endpoint.id)
        .await
        .remove(0);
    assert_eq!((row.status, row.attempts), (Status::DeadLetter, 2));
    assert!(s.runtime.retry_dead_letter(row.id).await.unwrap());
    let row = deliveries(&s.runtime, scheduled.endpoint.id)
        .await
        .remove(0);
    assert_eq!((row.status, row.max_attempts), (Status::Pending, 4));
}

async fn a_paused_endpoint_waits_without_spending_attempts_and_a_disabled_or_deleted_one_dead_letters<
    S: Backend,
>(
    store: S,
) {
    let s = setup(store, Receiver::answering(200).await).await;
    let endpoint = create(
        &s,
        spec(&format!("{}/p", s.receiver.base), &["lead.created"]),
    )
    .await;
    let id = endpoint.endpoint.id;
    s.runtime
        .endpoints()
        .set_status(id, EndpointStatus::Paused)
        .await
        .unwrap();
    lead(1, "web").publish(&s.runtime).await.unwrap();
    assert_eq!(drain(&s.runtime).await, 1, "claimed once, then waits");
    let row = deliveries(&s.runtime, id).await.remove(0);
    assert_eq!((row.status, row.attempts), (Status::Pending, 0));
    assert!(row.error_message.unwrap().contains("paused"));
    assert!(s.receiver.received().is_empty());
    s.runtime
        .endpoints()
        .set_status(id, EndpointStatus::Enabled)
        .await
        .unwrap();
    s.clock.set(row.next_retry_at);
    drain(&s.runtime).await;
    assert_eq!(deliveries(&s.runtime, id).await[0].status, Status::Sent);
    assert_eq!(s.receiver.received().len(), 1);

    // Disabled: new events skip it; a queued delivery dead-letters with the reason.
    lead(2, "web").publish(&s.runtime).await.unwrap();
    s.runtime
        .endpoints()
        .set_status(id, EndpointStatus::Disabled)
        .await
        .unwrap();
    let skipped = lead(3, "web").publish(&s.runtime).await.unwrap();
    assert_eq!(skipped.deliveries, 0);
    drain(&s.runtime).await;
    let rows = deliveries(&s.runtime, id).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].status, Status::DeadLetter);
    assert!(
        rows[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("disabled")
    );
    assert_eq!(s.receiver.received().len(), 1);

    // Deleted: its queued delivery dead-letters with the reason.
    let gone = create(
        &s,
        spec(&format!("{}/gone", s.receiver.base), &["lead.created"]),
    )
    .await;
    lead(4, "web").publish(&s.runtime).await.unwrap();
    s.runtime
        .endpoints()
        .delete(gone.endpoint.id)
        .await
        .unwrap();
    drain(&s.runtime).await;
    let row = deliveries(&s.runtime, gone.endpoint.id).await.remove(0);
    assert_eq!(row.status, Status::DeadLetter);
    assert!(row.error_message.unwrap().contains("was deleted"));
    assert_eq!(s.receiver.received().len(), 1);
}

async fn endpoint_auth_is_sent_and_a_jwt_is_minted_per_request<S: Backend>(store: S) {
    use hmac::{Hmac, Mac};
    let s = setup(store, Receiver::answering(200).await).await;
    let base = s.receiver.base.clone();
    let jwt_key = "a-32-byte-or-longer-hs256-key-for-tests";
    for (path, auth) in [
        (
            "key",
            json!({"type": "api_key", "header": "X-Partner-Key", "key": "pk_live_123"}),
        ),
        ("bearer", json!({"type": "bearer", "token": "tok_abc"})),
        (
            "basic",
            json!({"type": "basic", "username": "crm", "password": "p4ss"}),
        ),
        (
            "jwt",
            json!({"type": "jwt", "secret": jwt_key, "issuer": "buildamp-tests", "audience": "crm", "ttl": "2m"}),
        ),
    ] {
        create(&s, spec_json(json!({"url": format!("{base}/{path}"), "environment": "development", "subscriptions": ["lead.*"], "auth": auth}))).await;
    }
    lead(1, "web").publish(&s.runtime).await.unwrap();
    lead(2, "web").publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    let received = s.receiver.received();
    let at = |path: &'static str| received.iter().filter(move |r| r.path == path);
    assert!(at("/key").all(|r| r.header("x-partner-key") == Some("pk_live_123")));
    assert!(at("/bearer").all(|r| r.header("authorization") == Some("Bearer tok_abc")));
    assert!(at("/basic").all(|r| r.header("authorization") == Some("Basic Y3JtOnA0c3M=")));
    let tokens: Vec<String> = at("/jwt")
        .map(|r| {
            r.header("authorization")
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1], "minted per request");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for token in &tokens {
        let parts: Vec<&str> = token.split('.').collect();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(jwt_key.as_bytes()).unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(
            b64.decode(parts[2]).unwrap(),
            mac.finalize().into_bytes().to_vec(),
            "HS256 verifies"
        );
        let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            (claims["iss"].as_str(), claims["aud"].as_str()),
            (Some("buildamp-tests"), Some("crm"))
        );
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            120
        );
    }
}

async fn the_ssrf_guard_refuses_internal_addresses_unless_allowlisted<S: Backend>(store: S) {
    // The default policy: public addresses only.
    let receiver = Receiver::start(|_, _| Reply::Full {
        status: 302,
        headers: vec![("location", "http://10.0.0.1/admin".to_owned())],
        body: String::new(),
    })
    .await;
    let s = setup_with(store, receiver, AddressPolicy::public_only()).await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://100.64.0.1/x",
        "http://[fd00::1]/x",
        "http://0.0.0.0/x",
    ] {
        let e = s
            .runtime
            .endpoints()
            .create(spec(url, &["lead.*"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("refused to connect") && e.contains("BUILDAMP_ALLOW_NETWORKS"),
            "{url}: {e}"
        );
    }
    // A name resolving to a private address is refused at connect time: no packet is sent.
    let internal = create(&s, spec("http://crm.internal.test/hook", &["lead.*"])).await;
    let local = create(&s, spec("http://app.loopback.test:9/hook", &["lead.*"])).await;
    lead(1, "web").publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    for (endpoint, address) in [(&internal, "10.20.30.40"), (&local, "127.0.0.1")] {
        let row = deliveries(&s.runtime, endpoint.endpoint.id).await.remove(0);
        assert_eq!(row.status, Status::DeadLetter, "refused, so not retried");
        let reason = row.error_message.unwrap();
        assert!(
            reason.contains(address) && reason.contains("BUILDAMP_ALLOW_NETWORKS"),
            "{reason}"
        );
    }
    assert!(
        s.lookup
            .asked
            .lock()
            .unwrap()
            .contains(&"crm.internal.test".to_owned())
    );
    assert!(s.receiver.received().is_empty());

    // Allowlisted loopback: the name resolving to 127.0.0.1 is delivered, and a redirect to a
    // private address is reported, never followed.
    let port = s.receiver.base.rsplit(':').next().unwrap().to_owned();
    let open = setup_with(
        S::clone(s.runtime.store()),
        s.receiver.clone(),
        AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]),
    )
    .await;
    let named = create(
        &open,
        spec(
            &format!("http://app.loopback.test:{port}/named"),
            &["call.*"],
        ),
    )
    .await;
    call_ended().publish(&open.runtime).await.unwrap();
    drain(&open.runtime).await;
    let row = deliveries(&open.runtime, named.endpoint.id).await.remove(0);
    assert_eq!(row.status, Status::DeadLetter);
    assert!(
        row.error_message
            .unwrap()
            .contains("redirects are not followed")
    );
    let received = open.receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/named");
}

async fn secrets_are_absent_from_the_database_and_the_logs<S: Backend>(store: S) {
    let logs = support::capture_logs();
    let s = setup(store, Receiver::answering(500).await).await;
    let token = "tok_SECRET_bearer_0001";
    let created = create(&s, spec_json(json!({"url": format!("{}/x", s.receiver.base), "environment": "development", "subscriptions": ["lead.*"], "auth": {"type": "bearer", "token": token}}))).await;
    let signing = created.secret.expose().to_owned();
    let rotated = s
        .runtime
        .endpoints()
        .rotate_secret(created.endpoint.id, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    lead(1, "web").publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    s.runtime
        .endpoints()
        .reveal_secrets(created.endpoint.id)
        .await
        .unwrap();
    s.runtime
        .endpoints()
        .test(created.endpoint.id)
        .await
        .unwrap();
    assert!(!s.receiver.received().is_empty(), "the secrets were used");
    let key_material = support::TEST_SECRET_KEY.split(':').nth(1).unwrap();
    let secrets = [token, signing.as_str(), rotated.expose(), key_material];
    for (table, row) in s.runtime.store().every_row_as_text().await {
        for secret in secrets {
            assert!(
                !row.contains(secret),
                "a secret is stored in clear in `{table}`: {row}"
            );
        }
    }
    let logged = logs.text();
    assert!(
        logged.contains("signing secrets revealed"),
        "the logs were captured"
    );
    for secret in secrets {
        assert!(!logged.contains(secret), "a secret was logged");
    }
    let shown = format!(
        "{:?} {:?}",
        created,
        s.runtime
            .endpoints()
            .get(created.endpoint.id)
            .await
            .unwrap()
    );
    for secret in secrets {
        assert!(
            !shown.contains(secret),
            "a secret is in Debug output: {shown}"
        );
    }
}

/// Lets a request through when it carries `Authorization: Bearer admin` (every scope) or
/// `Bearer publisher` (catalog and publish).
struct TestAuthorizer;

impl ServiceAuthorizer for TestAuthorizer {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer admin") => Ok(Caller("admin".into())),
            Some("Bearer publisher") => Ok(Caller("publisher".into())),
            _ => Err(Refused("sign in".into())),
        }
    }

    async fn authorize(&self, caller: &Caller, scope: Scope) -> Result<(), Refused> {
        match (caller.0.as_str(), scope) {
            ("admin", _) | ("publisher", Scope::Catalog | Scope::Publish) => Ok(()),
            _ => Err(Refused("admins only".into())),
        }
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    who: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {who}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn every_management_route_answers_success_and_errors<S: Backend>(store: S) {
    let s = setup(store, Receiver::answering(200).await).await;
    let app = buildamp::http::service::router(s.runtime.clone(), TestAuthorizer);
    let base = s.receiver.base.clone();

    // Authentication first, then the scope.
    assert_eq!(
        call(&app, "GET", "/buildamp/event-types", "nobody", None)
            .await
            .0,
        401
    );
    assert_eq!(
        call(
            &app,
            "POST",
            "/buildamp/endpoints",
            "publisher",
            Some(json!({}))
        )
        .await
        .0,
        403
    );
    let (status, catalog) = call(&app, "GET", "/buildamp/event-types", "publisher", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = catalog["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in [
        "lead.created",
        "call.recording_available",
        "appointment.reminder_sent",
        "notification.failed",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    // Create: 201 with the secret; bad input names the field.
    let body = json!({"url": format!("{base}/crm"), "environment": "development", "subscriptions": ["lead.*"], "description": "CRM sync"});
    let (status, created) = call(&app, "POST", "/buildamp/endpoints", "admin", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = created["id"].as_str().unwrap().to_owned();
    for (body, path) in [
        (
            json!({"url": "https://x.example", "subscriptions": ["lead.*"], "retry": {"max_attempts": 0}}),
            "retry.max_attempts",
        ),
        (
            json!({"url": "https://x.example", "subscriptions": ["lead.nope"]}),
            "subscriptions[0]",
        ),
        (
            json!({"url": "http://x.example", "subscriptions": ["lead.*"]}),
            "url",
        ),
        (
            json!({"url": "https://x.example", "subscriptions": ["lead.*"], "timeout": "soon"}),
            "timeout",
        ),
        (
            json!({"url": "https://x.example", "subscriptions": ["lead.*"], "colour": "red"}),
            "",
        ),
    ] {
        let (status, error) = call(
            &app,
            "POST",
            "/buildamp/endpoints",
            "admin",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {error}");
        if !path.is_empty() {
            assert_eq!(error["path"], path, "{error}");
        } else {
            assert!(
                error["error"].as_str().unwrap().contains("colour"),
                "{error}"
            );
        }
    }

    // Read, list, update, status.
    let (status, one) = call(
        &app,
        "GET",
        &format!("/buildamp/endpoints/{id}"),
        "admin",
        None,
    )
    .await;
    assert_eq!(
        (status, one["description"].as_str()),
        (200, Some("CRM sync"))
    );
    assert!(one.get("secret").is_none(), "never shown unasked");
    assert_eq!(
        call(&app, "GET", "/buildamp/endpoints/not-an-id", "admin", None)
            .await
            .0,
        404
    );
    let (status, list) = call(&app, "GET", "/buildamp/endpoints?limit=10", "admin", None).await;
    assert_eq!(
        (status, list["endpoints"].as_array().unwrap().len()),
        (200, 1)
    );
    let (status, patched) = call(
        &app,
        "PATCH",
        &format!("/buildamp/endpoints/{id}"),
        "admin",
        Some(json!({"description": "CRM", "headers": {"X-Team": "sales"}})),
    )
    .await;
    assert_eq!(
        (status, patched["headers"]["X-Team"].as_str()),
        (200, Some("sales"))
    );
    let (status, error) = call(
        &app,
        "PATCH",
        &format!("/buildamp/endpoints/{id}"),
        "admin",
        Some(json!({"headers": {"Authorization": "x"}})),
    )
    .await;
    assert_eq!(
        (status, error["path"].as_str()),
        (422, Some("headers.Authorization"))
    );
    let (status, paused) = call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/status"),
        "admin",
        Some(json!({"status": "paused"})),
    )
    .await;
    assert_eq!((status, paused["status"].as_str()), (200, Some("paused")));
    let (status, error) = call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/status"),
        "admin",
        Some(json!({"status": "sleeping"})),
    )
    .await;
    assert_eq!((status, error["path"].as_str()), (422, Some("status")));
    call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/status"),
        "admin",
        Some(json!({"status": "enabled"})),
    )
    .await;

    // Test send: signed, answered, not queued.
    let (status, sent) = call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/test"),
        "admin",
        None,
    )
    .await;
    assert_eq!(
        (status, sent["delivered"].as_bool(), sent["status"].as_u64()),
        (200, Some(true), Some(200)),
        "{sent}"
    );
    let test = s.receiver.received().pop().unwrap();
    assert_eq!(test.header("x-event-type"), Some("buildamp.test"));
    assert_eq!(test.header("x-team"), Some("sales"));
    assert_eq!(
        reference_verify(
            created["secret"].as_str().unwrap(),
            test.header("webhook-id").unwrap(),
            test.header("webhook-timestamp").unwrap().parse().unwrap(),
            test.header("webhook-signature").unwrap(),
            std::str::from_utf8(&test.body).unwrap()
        ),
        Ok("valid".to_owned())
    );

    // Secrets: rotate, reveal.
    let (status, rotated) = call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/secret/rotate"),
        "admin",
        Some(json!({"grace": "1h"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, revealed) = call(
        &app,
        "GET",
        &format!("/buildamp/endpoints/{id}/secret"),
        "admin",
        None,
    )
    .await;
    assert_eq!(
        (status, revealed["secrets"][0]["secret"].clone()),
        (200, rotated["secret"].clone())
    );
    assert_eq!(revealed["secrets"].as_array().unwrap().len(), 2);
    let (status, _) = call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/secret/rotate"),
        "admin",
        Some(json!({"grace": "90d"})),
    )
    .await;
    assert_eq!(status, 422);

    // Publish over HTTP: 202, then 200 for the repeated key; bad data names the field.
    let event = json!({"event_type": "lead.created", "data": serde_json::to_value(lead(99, "web")).unwrap(), "metadata": {"source_service": "lead_management"}});
    let mut request = Request::builder()
        .method("POST")
        .uri("/buildamp/events")
        .header("authorization", "Bearer publisher")
        .header("content-type", "application/json")
        .header("idempotency-key", "k-1");
    let publish = |r: axum::http::request::Builder| r.body(Body::from(event.to_string())).unwrap();
    let response = app.clone().oneshot(publish(request)).await.unwrap();
    assert_eq!(response.status(), 202);
    request = Request::builder()
        .method("POST")
        .uri("/buildamp/events")
        .header("authorization", "Bearer publisher")
        .header("content-type", "application/json")
        .header("idempotency-key", "k-1");
    let response = app.clone().oneshot(publish(request)).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "a repeated key answers with the first event"
    );
    let mut bad = event.clone();
    bad["data"]["lead"]["score"] = json!("high");
    let (status, error) = call(&app, "POST", "/buildamp/events", "publisher", Some(bad)).await;
    assert_eq!(
        (status, error["path"].as_str()),
        (422, Some("data.lead.score")),
        "{error}"
    );
    let (status, error) = call(
        &app,
        "POST",
        "/buildamp/events",
        "publisher",
        Some(json!({"event_type": "lead.nope", "data": {}})),
    )
    .await;
    assert_eq!((status, error["path"].as_str()), (422, Some("event_type")));
    drain(&s.runtime).await;
    let delivered = s.receiver.received().pop().unwrap().json();
    assert_eq!(delivered["metadata"]["source_service"], "lead_management");
    assert_eq!(delivered["metadata"]["version"], "1.0");

    // Deliveries: list by endpoint and status, one with its attempts, retry.
    let (status, list) = call(
        &app,
        "GET",
        &format!("/buildamp/deliveries?endpoint={id}&status=sent"),
        "admin",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let rows = list["deliveries"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list}");
    let delivery = rows[0]["id"].as_str().unwrap().to_owned();
    let (status, one) = call(
        &app,
        "GET",
        &format!("/buildamp/deliveries/{delivery}"),
        "admin",
        None,
    )
    .await;
    assert_eq!(
        (status, one["attempt_log"].as_array().unwrap().len()),
        (200, 1)
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/buildamp/deliveries/{delivery}/retry"),
            "admin",
            None
        )
        .await
        .0,
        409
    );
    // A delivered one is resent: once while it is queued, then it arrives again, the same event.
    let resend = format!("/buildamp/deliveries/{delivery}/resend");
    let (status, answer) = call(&app, "POST", &resend, "admin", None).await;
    assert_eq!((status, answer["result"].as_str()), (202, Some("queued")));
    let (status, answer) = call(&app, "POST", &resend, "admin", None).await;
    assert_eq!(status, 409);
    assert!(
        answer["error"].as_str().unwrap().contains("still pending"),
        "{answer}"
    );
    drain(&s.runtime).await;
    let again = s.receiver.received().pop().unwrap().json();
    assert_eq!(again["event_id"], delivered["event_id"]);
    let (_, one) = call(
        &app,
        "GET",
        &format!("/buildamp/deliveries/{delivery}"),
        "admin",
        None,
    )
    .await;
    assert_eq!(
        (
            one["status"]["state"].as_str(),
            one["attempt_log"].as_array().unwrap().len()
        ),
        (Some("sent"), 2),
        "{one}"
    );
    let unknown = format!("/buildamp/deliveries/{}/resend", uuid::Uuid::now_v7());
    assert_eq!(call(&app, "POST", &unknown, "admin", None).await.0, 404);
    assert_eq!(call(&app, "POST", &resend, "publisher", None).await.0, 403);
    assert_eq!(
        call(
            &app,
            "GET",
            "/buildamp/deliveries?status=lost",
            "admin",
            None
        )
        .await
        .0,
        400
    );
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/buildamp/deliveries/{}", uuid::Uuid::now_v7()),
            "admin",
            None
        )
        .await
        .0,
        404
    );

    // An ordering key is checked like an id.
    let (status, bad) = call(
        &app,
        "POST",
        "/buildamp/events",
        "publisher",
        Some(json!({"event_type": "lead.created", "data": lead(1, "web"), "ordering_key": ""})),
    )
    .await;
    assert_eq!(
        (status, bad["path"].as_str()),
        (422, Some("ordering_key")),
        "{bad}"
    );

    // Health: the circuit (closed: the endpoint answered), and the limits in the view.
    let (status, health) = call(
        &app,
        "GET",
        &format!("/buildamp/endpoints/{id}/health"),
        "admin",
        None,
    )
    .await;
    assert_eq!(
        (status, health["state"].as_str()),
        (200, Some("closed")),
        "{health}"
    );
    assert_eq!(health["changes"], json!([]));

    // Replay: a job over the endpoint's dead letters (none here), followed by id.
    let (status, job) = call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/replay"),
        "admin",
        Some(json!({"since": "2026-01-01T00:00:00Z", "event_type": "lead.created"})),
    )
    .await;
    assert_eq!((status, job["total"].as_u64()), (202, Some(0)), "{job}");
    let (status, read) = call(
        &app,
        "GET",
        &format!("/buildamp/replays/{}", job["id"].as_str().unwrap()),
        "admin",
        None,
    )
    .await;
    assert_eq!((status, &read["filter"]), (200, &job["filter"]));
    let (status, bad) = call(
        &app,
        "POST",
        &format!("/buildamp/endpoints/{id}/replay"),
        "admin",
        Some(json!({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(
        (status, bad["path"].as_str()),
        (422, Some("until")),
        "{bad}"
    );
    for (method, path, body) in [
        (
            "POST",
            format!("/buildamp/endpoints/{}/replay", uuid::Uuid::now_v7()),
            Some(json!({})),
        ),
        (
            "GET",
            format!("/buildamp/replays/{}", uuid::Uuid::now_v7()),
            None,
        ),
        ("GET", "/buildamp/replays/not-an-id".to_owned(), None),
    ] {
        assert_eq!(
            call(&app, method, &path, "admin", body).await.0,
            404,
            "{path}"
        );
    }
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/buildamp/endpoints/{id}/health"),
            "publisher",
            None
        )
        .await
        .0,
        403
    );

    // Delete: 204, then 404.
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/buildamp/endpoints/{id}"),
            "admin",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/buildamp/endpoints/{id}"),
            "admin",
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/buildamp/endpoints/{id}"),
            "admin",
            None
        )
        .await
        .0,
        404
    );
}

async fn the_envelope_matches_the_generated_json_schema<S: Backend>(store: S) {
    let s = setup(store, Receiver::answering(200).await).await;
    create(&s, spec(&format!("{}/schema", s.receiver.base), &["*"])).await;
    lead(85, "website")
        .publish(&s.runtime)
        .metadata("source_service", "lead_management")
        .await
        .unwrap();
    call_ended().publish(&s.runtime).await.unwrap();
    drain(&s.runtime).await;
    let files = buildamp_codegen::source::find(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models"
    )))
    .unwrap();
    let schemas = buildamp_codegen::events::schemas(&files).unwrap();
    let received = s.receiver.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        let body = r.json();
        let name = body["event_type"].as_str().unwrap();
        let schema = &schemas
            .iter()
            .find(|e| e.event.name == name)
            .unwrap()
            .schema;
        assert_eq!(reference_validate(schema, &body), Ok(()), "{name}");
        let mut broken = body.clone();
        broken["data"]["call"] = json!(null);
        broken["data"]["lead"] = json!({"id": 1});
        assert!(
            reference_validate(schema, &broken).is_err(),
            "the schema constrains {name}"
        );
    }
    let _ = s.clock.now();
}

async fn a_rescued_delivery_waits_for_the_endpoints_backoff<S: Backend>(store: S) {
    let s = setup(store, Receiver::answering(200).await).await;
    let endpoint = create(&s, spec_json(json!({"url": format!("{}/r", s.receiver.base), "environment": "development", "subscriptions": ["lead.*"], "retry": {"max_attempts": 3, "schedule": ["7s"]}}))).await;
    lead(1, "web").publish(&s.runtime).await.unwrap();
    // An executor claims it and dies: its lease runs out.
    let now = s.clock.now();
    let claimed = s
        .runtime
        .store()
        .claim(
            uuid::Uuid::now_v7(),
            now,
            now + chrono::Duration::seconds(60),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].endpoint_id, Some(endpoint.endpoint.id.0));
    s.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(s.runtime.rescue().await.unwrap(), 1);
    let row = deliveries(&s.runtime, endpoint.endpoint.id).await.remove(0);
    assert_eq!(row.status, Status::Failed);
    let wait = (row.next_retry_at - s.clock.now()).num_milliseconds();
    assert!(
        (7000..=8400).contains(&wait),
        "the endpoint's 7 s schedule, not the default 1 s: {wait} ms"
    );
}

#[tokio::test]
async fn a_missing_or_bad_secret_key_is_a_startup_error_saying_what_to_set() {
    for (vars, says) in [
        (vec![], "BUILDAMP_SECRET_KEY is not set"),
        (vec![], "buildamp secret-key"),
        (
            vec![("BUILDAMP_SECRET_KEY", "k1:c2hvcnQ=")],
            "key `k1` is 5 bytes, not 32",
        ),
        (
            vec![
                ("BUILDAMP_SECRET_KEY", support::TEST_SECRET_KEY),
                ("BUILDAMP_ALLOW_NETWORKS", "intranet"),
            ],
            "`intranet` is not a subnet",
        ),
    ] {
        let (store, _file) = support::sqlite_store().await;
        let error = Runtime::builder(store)
            .env(env(&vars))
            .allow_missing_env()
            .build()
            .err()
            .expect("the runtime refuses to start")
            .to_string();
        assert!(error.contains(says), "{error}");
        assert!(!error.contains("c2hvcnQ="), "never quotes the key: {error}");
    }
    let (store, _file) = support::sqlite_store().await;
    assert!(
        Runtime::builder(store)
            .env(env(&[("BUILDAMP_SECRET_KEY", support::TEST_SECRET_KEY)]))
            .allow_missing_env()
            .build()
            .is_ok()
    );
}
