//! The store's contract, one test per method (in the manner of River's `riverdrivertest`), each
//! run against Postgres and SQLite on a fresh database. The end-to-end suite (`conformance.rs`)
//! drives the store through the runtime; these pin every method on its own, including the races
//! (a completion that arrives after a rescue, two rescuers, two retries by hand), made
//! deterministic by ordering the calls instead of timing them.

mod support;

conformance! {
    insert_returns_ids_in_input_order,
    insert_deduplicates_a_key_per_webhook_and_application,
    claim_takes_due_rows_oldest_due_first_up_to_the_limit,
    claim_counts_the_attempt_and_leases_the_row,
    claim_never_hands_one_row_to_two_claimers,
    record_applies_the_decided_values,
    record_keeps_what_a_move_leaves,
    record_is_fenced_on_attempt_and_state,
    record_writes_the_attempt_log_external_id_and_outcome_event,
    release_gives_an_unstarted_attempt_back,
    expired_leases_lists_only_rows_whose_lease_ended,
    dead_letters_filters_and_pages_by_id,
    a_dead_letter_is_retried_by_hand_once,
    next_due_is_the_earliest_claimable_row,
    executions_lists_newest_first_with_filters,
    executions_by_id_reads_many_in_one_call,
    claim_outcomes_leases_events_until_acked_or_retried,
    find_external_id_and_find_embedded_id_map_provider_ids,
    prune_delivered_removes_only_old_sent_rows,
    prune_outcomes_removes_only_old_untaken_events,
    record_inbound_records_once_and_leases_to_the_caller,
    claim_inbound_hands_over_unhandled_events_after_their_lease,
    prune_inbound_keeps_unhandled_events,
    endpoints_are_inserted_read_listed_and_deleted,
    replace_endpoint_is_fenced_on_the_version_read,
    publish_stores_the_event_and_the_routed_deliveries_together,
    publish_of_a_known_id_or_key_stores_nothing_more,
    executions_lists_an_endpoints_deliveries_by_time,
    prune_events_removes_only_old_events,
    admit_holds_a_destinations_limit_under_concurrent_admissions,
    admit_forgets_ended_slots_and_keeps_destinations_apart,
    change_circuit_gives_the_probe_to_one_of_many_and_logs_changes,
    health_changes_are_leased_to_handlers_until_acked_and_stay_logged,
    an_ordered_keys_rows_are_numbered_and_claimed_one_at_a_time,
    prune_protection_keeps_a_keys_counter_while_anything_of_it_is_unsettled,
    an_alert_key_has_one_open_incident_and_its_events_are_leased_until_acked,
}

use buildamp::protect::{Admission, Decision, HealthChange, Limits, Slot};
use buildamp::queue::{self, AttemptResult, Event, OutcomeKind, Progress, RetryRules, Write};
use buildamp::store::{
    AttemptReport, Candidate, DeadLetterFilter, EndpointRow, ExecutionFilter, HealthRecord,
    InboundRecord, Move, NewEvent, NewRow,
};
use buildamp::{ExecutionId, Status};
use chrono::{DateTime, Duration, Utc};
use support::{Backend, t0};
use uuid::Uuid;

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

fn row(webhook_type: &'static str, due_at: DateTime<Utc>) -> NewRow {
    NewRow {
        id: ExecutionId::new(),
        webhook_type,
        target_url: "http://127.0.0.1:9/x".into(),
        payload: serde_json::json!({"n": 1}),
        headers: serde_json::json!({}),
        branches: serde_json::json!({}),
        status: Status::Pending,
        error_message: None,
        max_attempts: 3,
        due_at,
        correlation_id: None,
        application: String::new(),
        host: String::new(),
        idempotency_key: None,
        endpoint_id: None,
        event_id: None,
        ordering_key: None,
    }
}

async fn migrated<S: Backend>(store: S) -> S {
    store.migrate().await.expect("migrations apply");
    store
}

/// Inserts `n` rows of webhook `A`, due now; returns their ids in order.
async fn inserted<S: Backend>(store: &S, n: usize) -> Vec<ExecutionId> {
    store
        .insert(t0(), (0..n).map(|_| row("A", t0())).collect())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

async fn insert_one<S: Backend>(store: &S, row: NewRow) -> ExecutionId {
    store.insert(t0(), vec![row]).await.unwrap()[0].id
}

async fn claim<S: Backend>(store: &S, now: DateTime<Utc>, limit: usize) -> Vec<ExecutionId> {
    store
        .claim(Uuid::now_v7(), now, now + secs(60), limit)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

async fn status<S: Backend>(store: &S, id: ExecutionId) -> buildamp::Execution {
    store
        .execution(id)
        .await
        .unwrap()
        .expect("the execution exists")
}

fn response(status: u16) -> AttemptResult {
    AttemptResult::Response {
        status,
        body: format!("answer {status}"),
        retry_after: None,
        location: None,
        external_id: None,
        response_error: None,
    }
}

/// The move the executor records after an attempt of `attempt` (of 3) that got `status`.
fn attempted(id: ExecutionId, attempt: i32, status: u16, now: DateTime<Utc>) -> Move {
    let result = response(status);
    let event = Event::Attempted(&result);
    Move {
        id,
        attempt,
        from: event.from_status(),
        to: queue::decide(
            Progress {
                attempts: attempt,
                max_attempts: 3,
            },
            event,
            RetryRules::DEFAULT,
            now,
            0.0,
        ),
        report: Some(AttemptReport {
            started_at: now,
            duration_ms: 12,
            response_status: Some(i32::from(status)),
            response_body: Some(format!("answer {status}")),
            external_id: None,
        }),
    }
}

/// Records the first attempt of claimed row `id`, answered `status`, `at` seconds after `t0`.
async fn answered<S: Backend>(store: &S, id: ExecutionId, status: u16, at: i64) {
    let now = t0() + secs(at);
    store
        .record(now, &[attempted(id, 1, status, now)])
        .await
        .unwrap();
}

/// The move for `event` on a row at `attempts` of 3, without a report.
fn moved(id: ExecutionId, attempts: i32, event: Event<'_>, now: DateTime<Utc>) -> Move {
    Move {
        id,
        attempt: attempts,
        from: event.from_status(),
        to: queue::decide(
            Progress {
                attempts,
                max_attempts: 3,
            },
            event,
            RetryRules::DEFAULT,
            now,
            0.0,
        ),
        report: None,
    }
}

async fn insert_returns_ids_in_input_order<S: Backend>(store: S) {
    let store = migrated(store).await;
    let rows: Vec<NewRow> = (0..5).map(|_| row("A", t0())).collect();
    let ids: Vec<ExecutionId> = rows.iter().map(|r| r.id).collect();
    let enqueued = store.insert(t0(), rows).await.unwrap();
    assert_eq!(enqueued.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert!(enqueued.iter().all(|e| !e.deduplicated));
    let e = status(&store, ids[0]).await;
    assert_eq!(
        (e.status, e.attempts, e.max_attempts),
        (Status::Pending, 0, 3)
    );
    assert_eq!(store.insert(t0(), Vec::new()).await.unwrap(), Vec::new());
}

async fn insert_deduplicates_a_key_per_webhook_and_application<S: Backend>(store: S) {
    let store = migrated(store).await;
    let keyed = |webhook, application: &str| NewRow {
        idempotency_key: Some("order-1".into()),
        application: application.into(),
        ..row(webhook, t0())
    };
    let first = store.insert(t0(), vec![keyed("A", "")]).await.unwrap()[0];
    // The same key, webhook and application: the first execution, nothing new.
    let again = store.insert(t0(), vec![keyed("A", "")]).await.unwrap()[0];
    assert_eq!((again.id, again.deduplicated), (first.id, true));
    // Another webhook, or another application, with the same key: a new execution each.
    let other_webhook = store.insert(t0(), vec![keyed("B", "")]).await.unwrap()[0];
    let other_app = store
        .insert(t0(), vec![keyed("A", "tenant")])
        .await
        .unwrap()[0];
    for other in [other_webhook, other_app] {
        assert!(!other.deduplicated);
        assert_ne!(other.id, first.id);
    }
    // In one batch too, in input order.
    let batch = store
        .insert(t0(), vec![row("A", t0()), keyed("B", ""), row("A", t0())])
        .await
        .unwrap();
    assert_eq!(
        batch.iter().map(|e| e.deduplicated).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert_eq!(batch[1].id, other_webhook.id);
}

async fn claim_takes_due_rows_oldest_due_first_up_to_the_limit<S: Backend>(store: S) {
    let store = migrated(store).await;
    let late = insert_one(&store, row("A", t0() + secs(3))).await;
    let early = insert_one(&store, row("A", t0() + secs(1))).await;
    let middle = insert_one(&store, row("A", t0() + secs(2))).await;
    let future = insert_one(&store, row("A", t0() + secs(100))).await;
    // Nothing is due yet.
    assert!(claim(&store, t0(), 10).await.is_empty());
    // Oldest due first, at most the limit.
    assert_eq!(claim(&store, t0() + secs(5), 2).await, [early, middle]);
    assert_eq!(claim(&store, t0() + secs(5), 10).await, [late]);
    assert!(claim(&store, t0() + secs(5), 10).await.is_empty());
    assert_eq!(claim(&store, t0() + secs(100), 10).await, [future]);
    // Dead on arrival is never claimed.
    insert_one(
        &store,
        NewRow {
            status: Status::DeadLetter,
            error_message: Some("unset".into()),
            ..row("A", t0())
        },
    )
    .await;
    assert!(claim(&store, t0() + secs(200), 10).await.is_empty());
}

async fn claim_counts_the_attempt_and_leases_the_row<S: Backend>(store: S) {
    let store = migrated(store).await;
    let id = insert_one(&store, row("A", t0())).await;
    let executor = Uuid::now_v7();
    let claimed = store
        .claim(executor, t0(), t0() + secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempt), (id, 1));
    assert_eq!(claimed[0].payload, serde_json::json!({"n": 1}));
    let e = status(&store, id).await;
    assert_eq!((e.status, e.attempts), (Status::Sending, 1));
    // Leased: the rescuer sees it only once the lease has ended.
    assert!(
        store
            .expired_leases(t0() + secs(59), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.expired_leases(t0() + secs(61), 10).await.unwrap(),
        [Candidate {
            id,
            webhook_type: "A".into(),
            attempts: 1,
            max_attempts: 3,
            endpoint_id: None,
        }]
    );
}

async fn claim_never_hands_one_row_to_two_claimers<S: Backend>(store: S) {
    let store = migrated(store).await;
    let rows: Vec<NewRow> = (0..200).map(|_| row("A", t0())).collect();
    store.insert(t0(), rows).await.unwrap();
    // Eight claimers at once (on Postgres, concurrent statements meeting `SKIP LOCKED`).
    let claims = futures_util::future::join_all((0..8).map(|_| claim(&store, t0(), 40))).await;
    let mut all: Vec<ExecutionId> = claims.into_iter().flatten().collect();
    // Whatever a claimer skipped is still there for the next one.
    all.extend(claim(&store, t0(), 1000).await);
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), claimed, "a row was claimed twice");
    assert_eq!(claimed, 200);
}

async fn record_applies_the_decided_values<S: Backend>(store: S) {
    let store = migrated(store).await;
    let ids = inserted(&store, 3).await;
    claim(&store, t0(), 10).await;
    let now = t0() + secs(1);
    let moves = [
        attempted(ids[0], 1, 200, now),
        attempted(ids[1], 1, 503, now),
        attempted(ids[2], 1, 400, now),
    ];
    assert_eq!(store.record(now, &moves).await.unwrap(), 3);
    let sent = status(&store, ids[0]).await;
    assert_eq!((sent.status, sent.sent_at), (Status::Sent, Some(now)));
    assert_eq!(sent.response_status, Some(200));
    let failed = status(&store, ids[1]).await;
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.next_retry_at, now + secs(1), "the decided due time");
    assert_eq!(failed.error_message.as_deref(), Some("HTTP 503"));
    let dead = status(&store, ids[2]).await;
    assert_eq!(dead.status, Status::DeadLetter);
    assert_eq!(
        dead.error_message.as_deref(),
        Some("HTTP 400 (permanent: not retried)")
    );
}

async fn record_keeps_what_a_move_leaves<S: Backend>(store: S) {
    let store = migrated(store).await;
    let id = insert_one(&store, row("A", t0())).await;
    claim(&store, t0(), 1).await;
    store
        .record(t0(), &[attempted(id, 1, 503, t0())])
        .await
        .unwrap();
    // A second attempt, released unstarted at shutdown: the attempt is given back and the last
    // error and response stay as they were.
    claim(&store, t0() + secs(5), 1).await;
    let release = moved(id, 2, Event::Released { started: false }, t0() + secs(6));
    assert_eq!(release.to.error, Write::Keep);
    assert_eq!(store.record(t0() + secs(6), &[release]).await.unwrap(), 1);
    let e = status(&store, id).await;
    assert_eq!((e.status, e.attempts), (Status::Failed, 1));
    assert_eq!(e.error_message.as_deref(), Some("HTTP 503"));
    assert_eq!(e.response_status, Some(503));
    assert_eq!(e.next_retry_at, t0() + secs(6));
    // Only the attempt that reported is in the log.
    assert_eq!(store.attempts(id).await.unwrap().len(), 1);
}

async fn record_is_fenced_on_attempt_and_state<S: Backend>(store: S) {
    let store = migrated(store).await;
    let id = insert_one(&store, row("A", t0())).await;
    claim(&store, t0(), 1).await; // attempt 1, leased for 60 s
    // The worker stalls; the lease ends; the rescuer moves the row on, and it is claimed again.
    let rescued = moved(id, 1, Event::LeaseExpired, t0() + secs(61));
    assert_eq!(
        store
            .record(t0() + secs(61), std::slice::from_ref(&rescued))
            .await
            .unwrap(),
        1
    );
    // A second rescuer with the same view changes nothing.
    assert_eq!(store.record(t0() + secs(61), &[rescued]).await.unwrap(), 0);
    assert_eq!(claim(&store, t0() + secs(70), 1).await, [id]); // attempt 2
    // The first worker's late completion is fenced out: the row is on attempt 2.
    let late = attempted(id, 1, 200, t0() + secs(71));
    assert_eq!(store.record(t0() + secs(71), &[late]).await.unwrap(), 0);
    let e = status(&store, id).await;
    assert_eq!((e.status, e.attempts), (Status::Sending, 2));
    assert!(
        store.attempts(id).await.unwrap().is_empty(),
        "no log row for a fenced move"
    );
    // The current worker's completion lands.
    let current = attempted(id, 2, 200, t0() + secs(72));
    assert_eq!(
        store
            .record(t0() + secs(72), std::slice::from_ref(&current))
            .await
            .unwrap(),
        1
    );
    // Repeating it changes nothing (the row is no longer `sending`).
    assert_eq!(store.record(t0() + secs(73), &[current]).await.unwrap(), 0);
    assert_eq!(status(&store, id).await.status, Status::Sent);
}

async fn record_writes_the_attempt_log_external_id_and_outcome_event<S: Backend>(store: S) {
    let store = migrated(store).await;
    let correlation = Uuid::now_v7();
    let id = insert_one(
        &store,
        NewRow {
            correlation_id: Some(correlation),
            ..row("A", t0())
        },
    )
    .await;
    claim(&store, t0(), 1).await;
    let mut done = attempted(id, 1, 201, t0() + secs(1));
    done.report.as_mut().unwrap().external_id = Some("msg_123".into());
    store.record(t0() + secs(1), &[done]).await.unwrap();
    let log = store.attempts(id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].attempt, log[0].duration_ms, log[0].response_status),
        (1, 12, Some(201))
    );
    assert_eq!(log[0].error_message, None);
    assert_eq!(store.find_external_id("msg_123").await.unwrap(), Some(id));
    let events = store
        .claim_outcomes(t0() + secs(2), t0() + secs(62), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(
        (event.execution_id, event.kind, event.correlation_id),
        (id, OutcomeKind::WebhookSuccess, Some(correlation))
    );
    assert_eq!(event.response_body.as_deref(), Some("answer 201"));
    store.ack_outcome(event.id).await.unwrap();
    // A retry emits no event; a dead letter does, with its reason.
    let other = insert_one(&store, row("A", t0())).await;
    claim(&store, t0() + secs(3), 1).await;
    store
        .record(t0() + secs(3), &[attempted(other, 1, 503, t0() + secs(3))])
        .await
        .unwrap();
    claim(&store, t0() + secs(10), 1).await;
    let rescue = moved(other, 2, Event::LeaseExpired, t0() + secs(100));
    store.record(t0() + secs(100), &[rescue]).await.unwrap();
    claim(&store, t0() + secs(200), 1).await;
    let last = moved(
        other,
        3,
        Event::Released { started: true },
        t0() + secs(201),
    );
    store.record(t0() + secs(201), &[last]).await.unwrap();
    let events = store
        .claim_outcomes(t0() + secs(300), t0() + secs(360), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].execution_id, events[0].kind),
        (other, OutcomeKind::WebhookFailed)
    );
    assert!(
        events[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("interrupted by executor shutdown during the last attempt")
    );
}

async fn release_gives_an_unstarted_attempt_back<S: Backend>(store: S) {
    let store = migrated(store).await;
    let unstarted = insert_one(&store, row("A", t0())).await;
    let started = insert_one(&store, row("A", t0())).await;
    claim(&store, t0(), 10).await;
    let now = t0() + secs(1);
    let moves = [
        moved(unstarted, 1, Event::Released { started: false }, now),
        moved(started, 1, Event::Released { started: true }, now),
    ];
    assert_eq!(store.record(now, &moves).await.unwrap(), 2);
    let e = status(&store, unstarted).await;
    assert_eq!(
        (e.status, e.attempts, e.next_retry_at),
        (Status::Pending, 0, now)
    );
    let e = status(&store, started).await;
    assert_eq!(
        (e.status, e.attempts, e.next_retry_at),
        (Status::Failed, 1, now)
    );
    assert!(
        e.error_message
            .unwrap()
            .contains("the target may have received it")
    );
    // Both are claimable at once.
    assert_eq!(claim(&store, now, 10).await.len(), 2);
}

async fn expired_leases_lists_only_rows_whose_lease_ended<S: Backend>(store: S) {
    let store = migrated(store).await;
    let a = insert_one(&store, row("A", t0())).await;
    claim(&store, t0(), 1).await; // lease ends at +60
    let b = insert_one(&store, row("B", t0())).await;
    claim(&store, t0() + secs(30), 1).await; // lease ends at +90
    insert_one(&store, row("C", t0())).await; // pending: never listed
    let at = |s| store.expired_leases(t0() + secs(s), 10);
    assert!(at(60).await.unwrap().is_empty());
    assert_eq!(
        at(61)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [a]
    );
    assert_eq!(
        at(91)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [a, b]
    );
    assert_eq!(
        store
            .expired_leases(t0() + secs(91), 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn dead_letters_filters_and_pages_by_id<S: Backend>(store: S) {
    let store = migrated(store).await;
    let dead = |webhook, application: &str, reason: &str| NewRow {
        status: Status::DeadLetter,
        error_message: Some(reason.into()),
        application: application.into(),
        ..row(webhook, t0())
    };
    let rows = vec![
        dead("A", "", "unset MAILGUN_KEY"),
        dead("A", "tenant", "HTTP 400"),
        dead("B", "", "HTTP 400"),
        row("A", t0()), // pending: never listed
    ];
    let mut ids: Vec<ExecutionId> = rows.iter().take(3).map(|r| r.id).collect();
    ids.sort();
    store.insert(t0(), rows).await.unwrap();
    let store = &store;
    let list = |filter: DeadLetterFilter, after, limit| async move {
        store
            .dead_letters(&filter, after, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(DeadLetterFilter::all(), None, 10).await, ids);
    // Paged by id: each once.
    let first = list(DeadLetterFilter::all(), None, 2).await;
    let rest = list(DeadLetterFilter::all(), Some(first[1]), 2).await;
    assert_eq!([first, rest].concat(), ids);
    assert_eq!(
        list(DeadLetterFilter::all().webhook_type("B"), None, 10)
            .await
            .len(),
        1
    );
    assert_eq!(
        list(DeadLetterFilter::all().application("tenant"), None, 10)
            .await
            .len(),
        1
    );
    assert_eq!(
        list(DeadLetterFilter::all().error_contains("HTTP 400"), None, 10)
            .await
            .len(),
        2
    );
}

async fn a_dead_letter_is_retried_by_hand_once<S: Backend>(store: S) {
    let store = migrated(store).await;
    let id = insert_one(&store, row("A", t0())).await;
    claim(&store, t0(), 1).await;
    store
        .record(t0(), &[attempted(id, 1, 400, t0())])
        .await
        .unwrap();
    let retry = moved(id, 1, Event::RetriedByHand { budget: 3 }, t0() + secs(5));
    // Two callers at once: one moves it.
    let (a, b) = futures_util::join!(
        store.record(t0() + secs(5), std::slice::from_ref(&retry)),
        store.record(t0() + secs(5), std::slice::from_ref(&retry))
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let e = status(&store, id).await;
    assert_eq!(
        (e.status, e.attempts, e.max_attempts, e.next_retry_at),
        (Status::Pending, 1, 4, t0() + secs(5))
    );
    // Attempt numbers go on: the next claim is attempt 2.
    let claimed = store
        .claim(Uuid::now_v7(), t0() + secs(5), t0() + secs(65), 1)
        .await
        .unwrap();
    assert_eq!(claimed[0].attempt, 2);
}

async fn next_due_is_the_earliest_claimable_row<S: Backend>(store: S) {
    let store = migrated(store).await;
    assert_eq!(store.next_due().await.unwrap(), None);
    insert_one(&store, row("A", t0() + secs(30))).await;
    insert_one(&store, row("A", t0() + secs(10))).await;
    insert_one(
        &store,
        NewRow {
            status: Status::DeadLetter,
            ..row("A", t0())
        },
    )
    .await;
    assert_eq!(store.next_due().await.unwrap(), Some(t0() + secs(10)));
    claim(&store, t0() + secs(10), 1).await; // now sending: not claimable
    assert_eq!(store.next_due().await.unwrap(), Some(t0() + secs(30)));
}

async fn executions_lists_newest_first_with_filters<S: Backend>(store: S) {
    let store = migrated(store).await;
    let correlation = Uuid::now_v7();
    let old = insert_one(&store, row("A", t0())).await;
    let new = store
        .insert(
            t0() + secs(1),
            vec![NewRow {
                correlation_id: Some(correlation),
                ..row("B", t0())
            }],
        )
        .await
        .unwrap()[0]
        .id;
    let store = &store;
    let list = |filter: ExecutionFilter| async move {
        store
            .executions(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    let with = |change: &dyn Fn(&mut ExecutionFilter)| {
        let mut filter = ExecutionFilter::default();
        filter.limit = 10;
        change(&mut filter);
        filter
    };
    assert_eq!(list(with(&|_| {})).await, [new, old]);
    assert_eq!(list(with(&|f| f.limit = 1)).await, [new]);
    assert_eq!(
        list(with(&|f| f.webhook_type = Some("A".into()))).await,
        [old]
    );
    assert_eq!(
        list(with(&|f| f.correlation_id = Some(correlation))).await,
        [new]
    );
    assert!(
        list(with(&|f| f.status = Some(Status::Sent)))
            .await
            .is_empty()
    );
}

async fn executions_by_id_reads_many_in_one_call<S: Backend>(store: S) {
    let store = migrated(store).await;
    let ids = inserted(&store, 3).await;
    let unknown = ExecutionId::new();
    let mut found: Vec<ExecutionId> = store
        .executions_by_id(&[ids[2], unknown, ids[0]])
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    found.sort();
    let mut expected = vec![ids[0], ids[2]];
    expected.sort();
    assert_eq!(found, expected);
    assert!(store.executions_by_id(&[]).await.unwrap().is_empty());
}

async fn claim_outcomes_leases_events_until_acked_or_retried<S: Backend>(store: S) {
    let store = migrated(store).await;
    let ids = inserted(&store, 2).await;
    claim(&store, t0(), 10).await;
    let moves = [
        attempted(ids[0], 1, 200, t0()),
        attempted(ids[1], 1, 200, t0()),
    ];
    store.record(t0(), &moves).await.unwrap();
    let lease_until = t0() + secs(60);
    let first = store.claim_outcomes(t0(), lease_until, 1).await.unwrap();
    assert_eq!(
        (first.len(), first[0].execution_id, first[0].deliveries),
        (1, ids[0], 1)
    );
    // Leased: the next claim takes the other event only.
    let second = store.claim_outcomes(t0(), lease_until, 10).await.unwrap();
    assert_eq!(
        second.iter().map(|e| e.execution_id).collect::<Vec<_>>(),
        [ids[1]]
    );
    store.ack_outcome(first[0].id).await.unwrap();
    store
        .retry_outcome(second[0].id, t0() + secs(10))
        .await
        .unwrap();
    assert!(
        store
            .claim_outcomes(t0() + secs(9), lease_until, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_outcomes(t0() + secs(10), t0() + secs(70), 10)
        .await
        .unwrap();
    assert_eq!(
        (again.len(), again[0].id, again[0].deliveries),
        (1, second[0].id, 2)
    );
    // Not acked within its lease: offered again after it.
    let late = store
        .claim_outcomes(t0() + secs(71), t0() + secs(131), 10)
        .await
        .unwrap();
    assert_eq!((late.len(), late[0].deliveries), (1, 3));
}

async fn find_external_id_and_find_embedded_id_map_provider_ids<S: Backend>(store: S) {
    let store = migrated(store).await;
    let correlation = Uuid::now_v7();
    let older = insert_one(
        &store,
        NewRow {
            correlation_id: Some(correlation),
            ..row("A", t0())
        },
    )
    .await;
    let newer = store
        .insert(
            t0() + secs(1),
            vec![NewRow {
                correlation_id: Some(correlation),
                ..row("A", t0())
            }],
        )
        .await
        .unwrap()[0]
        .id;
    assert_eq!(store.find_embedded_id(older.0).await.unwrap(), Some(older));
    assert_eq!(
        store.find_embedded_id(correlation).await.unwrap(),
        Some(newer),
        "a correlation id names its newest execution"
    );
    assert_eq!(store.find_embedded_id(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(store.find_external_id("nope").await.unwrap(), None);
}

async fn prune_delivered_removes_only_old_sent_rows<S: Backend>(store: S) {
    let store = migrated(store).await;
    let ids = inserted(&store, 3).await;
    claim(&store, t0(), 10).await;
    answered(&store, ids[0], 200, 0).await;
    answered(&store, ids[1], 200, 100).await;
    answered(&store, ids[2], 400, 0).await;
    assert_eq!(store.prune_delivered(t0() + secs(50), 10).await.unwrap(), 1);
    assert!(store.execution(ids[0]).await.unwrap().is_none());
    assert!(
        store.attempts(ids[0]).await.unwrap().is_empty(),
        "its log goes with it"
    );
    assert!(store.execution(ids[1]).await.unwrap().is_some(), "newer");
    assert!(
        store.execution(ids[2]).await.unwrap().is_some(),
        "a dead letter"
    );
}

async fn prune_outcomes_removes_only_old_untaken_events<S: Backend>(store: S) {
    let store = migrated(store).await;
    let ids = inserted(&store, 2).await;
    claim(&store, t0(), 10).await;
    answered(&store, ids[0], 200, 0).await;
    answered(&store, ids[1], 200, 100).await;
    assert_eq!(store.prune_outcomes(t0() + secs(50), 10).await.unwrap(), 1);
    let left = store
        .claim_outcomes(t0() + secs(200), t0() + secs(260), 10)
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|e| e.execution_id).collect::<Vec<_>>(),
        [ids[1]]
    );
    // A leased event is being handled: not pruned.
    assert_eq!(store.prune_outcomes(t0() + secs(250), 10).await.unwrap(), 0);
}

fn inbound(event_id: &str) -> InboundRecord {
    InboundRecord {
        provider: "twilio".into(),
        event_id: event_id.into(),
        kind: "delivered".into(),
        execution_id: None,
        event: serde_json::json!({"event": event_id}),
    }
}

async fn record_inbound_records_once_and_leases_to_the_caller<S: Backend>(store: S) {
    let store = migrated(store).await;
    assert!(
        store
            .record_inbound(&inbound("e1"), t0(), t0() + secs(60))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_inbound(&inbound("e1"), t0(), t0() + secs(60))
            .await
            .unwrap()
    );
    // Leased to the recording caller: nobody else is handed it yet.
    assert!(
        store
            .claim_inbound(t0() + secs(59), t0() + secs(120), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .handled_inbound("twilio", "e1", t0() + secs(1))
        .await
        .unwrap();
    // Handled: never handed over, and still a repeat.
    assert!(
        store
            .claim_inbound(t0() + secs(61), t0() + secs(120), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .record_inbound(&inbound("e1"), t0() + secs(2), t0() + secs(62))
            .await
            .unwrap()
    );
}

async fn claim_inbound_hands_over_unhandled_events_after_their_lease<S: Backend>(store: S) {
    let store = migrated(store).await;
    store
        .record_inbound(&inbound("e1"), t0(), t0() + secs(60))
        .await
        .unwrap();
    store
        .record_inbound(&inbound("e2"), t0() + secs(1), t0() + secs(61))
        .await
        .unwrap();
    // e2's handler failed: offered again at +10.
    store
        .retry_inbound("twilio", "e2", t0() + secs(10))
        .await
        .unwrap();
    let due = store
        .claim_inbound(t0() + secs(10), t0() + secs(70), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].event_id.as_str(), due[0].deliveries), ("e2", 2));
    assert_eq!(due[0].event, serde_json::json!({"event": "e2"}));
    // e1's request was cut off: handed over once its lease ended, oldest first.
    let due = store
        .claim_inbound(t0() + secs(71), t0() + secs(131), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(),
        ["e1", "e2"]
    );
}

async fn prune_inbound_keeps_unhandled_events<S: Backend>(store: S) {
    let store = migrated(store).await;
    store
        .record_inbound(&inbound("done"), t0(), t0() + secs(60))
        .await
        .unwrap();
    store
        .record_inbound(&inbound("open"), t0(), t0() + secs(60))
        .await
        .unwrap();
    store.handled_inbound("twilio", "done", t0()).await.unwrap();
    assert_eq!(store.prune_inbound(t0() + secs(100), 10).await.unwrap(), 1);
    // The unhandled one is still handed over, and the handled one is no longer a repeat.
    let due = store
        .claim_inbound(t0() + secs(100), t0() + secs(160), 10)
        .await
        .unwrap();
    assert_eq!(due[0].event_id, "open");
    assert!(
        store
            .record_inbound(&inbound("done"), t0() + secs(101), t0() + secs(161))
            .await
            .unwrap()
    );
}

fn endpoint_row(application: &str, updated_at: DateTime<Utc>) -> EndpointRow {
    EndpointRow {
        id: Uuid::now_v7(),
        application: application.into(),
        url: "https://crm.example/hooks".into(),
        description: "CRM".into(),
        status: "enabled".into(),
        environment: "production".into(),
        config: serde_json::json!({"subscriptions": ["lead.*"], "timeout": "30s"}),
        secrets: "v1:k1:c2VhbGVk".into(),
        created_at: t0(),
        updated_at,
    }
}

fn new_event(id: &str, key: Option<&str>) -> NewEvent {
    NewEvent {
        id: id.into(),
        application: String::new(),
        event_type: "lead.created",
        version: "1",
        occurred_at: t0(),
        data: serde_json::json!({"lead": {"id": "l1"}}),
        metadata: serde_json::json!({}),
        idempotency_key: key.map(str::to_owned),
    }
}

/// A delivery of event `event` to `endpoint`, as the service's route would make it.
fn delivery(endpoint: &EndpointRow, event: &str) -> NewRow {
    NewRow {
        endpoint_id: Some(endpoint.id),
        event_id: Some(event.to_owned()),
        target_url: endpoint.url.clone(),
        ..row("lead.created", t0())
    }
}

async fn endpoints_are_inserted_read_listed_and_deleted<S: Backend>(store: S) {
    let store = migrated(store).await;
    let a = endpoint_row("", t0());
    let b = endpoint_row("acme", t0());
    let c = endpoint_row("acme", t0());
    for e in [&a, &b, &c] {
        store.insert_endpoint(e).await.unwrap();
    }
    assert_eq!(
        store.endpoint(b.id).await.unwrap().as_ref(),
        Some(&b),
        "read back as written"
    );
    assert_eq!(store.endpoint(Uuid::now_v7()).await.unwrap(), None);
    let all = store.endpoints(None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        [a.id, b.id, c.id],
        "by id"
    );
    let acme = store.endpoints(Some("acme"), None, 10).await.unwrap();
    assert_eq!(acme.iter().map(|e| e.id).collect::<Vec<_>>(), [b.id, c.id]);
    let page = store.endpoints(None, Some(a.id), 1).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [b.id],
        "after, limit"
    );
    // Outside an application prefix: `acme` and `acme:eu` left out by `acme`, not by `ac_e`.
    let d = endpoint_row("acme:eu", t0());
    store.insert_endpoint(&d).await.unwrap();
    let outside = store.endpoints_outside("acme", None, 10).await.unwrap();
    assert_eq!(outside.iter().map(|e| e.id).collect::<Vec<_>>(), [a.id]);
    let literal = store.endpoints_outside("ac_e", None, 10).await.unwrap();
    assert_eq!(literal.len(), 4, "a prefix is not a pattern");
    let after = store.endpoints_outside("x", Some(b.id), 1).await.unwrap();
    assert_eq!(after.iter().map(|e| e.id).collect::<Vec<_>>(), [c.id]);
    assert!(store.delete_endpoint(d.id).await.unwrap());
    assert!(store.delete_endpoint(b.id).await.unwrap());
    assert!(!store.delete_endpoint(b.id).await.unwrap(), "deleted once");
    assert_eq!(store.endpoint(b.id).await.unwrap(), None);
}

async fn replace_endpoint_is_fenced_on_the_version_read<S: Backend>(store: S) {
    let store = migrated(store).await;
    let original = endpoint_row("", t0());
    store.insert_endpoint(&original).await.unwrap();
    let first = EndpointRow {
        url: "https://first.example".into(),
        updated_at: t0() + secs(1),
        ..original.clone()
    };
    let second = EndpointRow {
        url: "https://second.example".into(),
        updated_at: t0() + secs(1),
        ..original.clone()
    };
    // Two writers read the same version; only the first to write wins, and only its health
    // change is logged.
    let key = format!("endpoint:{}", original.id);
    let disabled = |reason: &str| HealthRecord {
        change: HealthChange::Disabled,
        at: t0() + secs(1),
        failures: 0,
        cool_down_ms: 0,
        reason: Some(reason.to_owned()),
    };
    let (won, lost) = (disabled("first"), disabled("second"));
    assert!(
        store
            .replace_endpoint(&first, original.updated_at, Some((&key, &won)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .replace_endpoint(&second, original.updated_at, Some((&key, &lost)))
            .await
            .unwrap()
    );
    assert_eq!(store.health_changes(&key, 10).await.unwrap(), [won]);
    assert_eq!(
        store.endpoint(original.id).await.unwrap().unwrap().url,
        "https://first.example"
    );
    let gone = endpoint_row("", t0());
    assert!(
        !store.replace_endpoint(&gone, t0(), None).await.unwrap(),
        "no such endpoint"
    );
}

async fn publish_stores_the_event_and_the_routed_deliveries_together<S: Backend>(store: S) {
    let store = migrated(store).await;
    let (yes, no, other_tenant) = (
        endpoint_row("", t0()),
        endpoint_row("", t0()),
        endpoint_row("acme", t0()),
    );
    for e in [&yes, &no, &other_tenant] {
        store.insert_endpoint(e).await.unwrap();
    }
    let asked = std::sync::Mutex::new(Vec::new());
    let route = |e: &EndpointRow| {
        asked.lock().unwrap().push(e.id);
        (e.id == yes.id).then(|| delivery(e, "evt_1"))
    };
    let published = store
        .publish(t0(), new_event("evt_1", None), &route)
        .await
        .unwrap();
    assert_eq!(
        (
            published.event_id.as_str(),
            published.deliveries,
            published.duplicate
        ),
        ("evt_1", 1, false)
    );
    let mut asked = asked.into_inner().unwrap();
    asked.sort();
    let mut tenant = vec![yes.id, no.id];
    tenant.sort();
    assert_eq!(
        asked, tenant,
        "only the event's tenant's endpoints are routed"
    );
    let rows = store
        .executions(&ExecutionFilter::newest(10))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].endpoint_id, rows[0].event_id.as_deref()),
        (Some(yes.id), Some("evt_1"))
    );
}

async fn publish_of_a_known_id_or_key_stores_nothing_more<S: Backend>(store: S) {
    let store = migrated(store).await;
    let e = endpoint_row("", t0());
    store.insert_endpoint(&e).await.unwrap();
    let route = |row: &EndpointRow| Some(delivery(row, "evt_x"));
    store
        .publish(t0(), new_event("evt_1", Some("k")), &route)
        .await
        .unwrap();
    let same_id = store
        .publish(t0(), new_event("evt_1", None), &route)
        .await
        .unwrap();
    let same_key = store
        .publish(t0(), new_event("evt_2", Some("k")), &route)
        .await
        .unwrap();
    for repeat in [same_id, same_key] {
        assert_eq!(
            (
                repeat.event_id.as_str(),
                repeat.deliveries,
                repeat.duplicate
            ),
            ("evt_1", 1, true)
        );
    }
    assert_eq!(
        store
            .executions(&ExecutionFilter::newest(10))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn executions_lists_an_endpoints_deliveries_by_time<S: Backend>(store: S) {
    let store = migrated(store).await;
    let (a, b) = (endpoint_row("", t0()), endpoint_row("", t0()));
    let mut early = delivery(&a, "evt_1");
    early.due_at = t0();
    store.insert(t0(), vec![early]).await.unwrap();
    store
        .insert(
            t0() + secs(60),
            vec![delivery(&a, "evt_2"), delivery(&b, "evt_2")],
        )
        .await
        .unwrap();
    store
        .insert(t0() + secs(60), vec![row("A", t0())])
        .await
        .unwrap();
    let of_a = store
        .executions(&ExecutionFilter::newest(10).endpoint(a.id))
        .await
        .unwrap();
    assert_eq!(
        of_a.iter()
            .map(|e| e.event_id.as_deref())
            .collect::<Vec<_>>(),
        [Some("evt_2"), Some("evt_1")],
        "newest first"
    );
    let deliveries = store
        .executions(&ExecutionFilter::newest(10).endpoint_deliveries())
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 3, "no `#[target]` execution");
    let mut window = ExecutionFilter::newest(10).endpoint(a.id);
    window.created_after = Some(t0() + secs(30));
    assert_eq!(store.executions(&window).await.unwrap().len(), 1);
}

async fn prune_events_removes_only_old_events<S: Backend>(store: S) {
    let store = migrated(store).await;
    let none = |_: &EndpointRow| None;
    store
        .publish(t0(), new_event("evt_old", None), &none)
        .await
        .unwrap();
    store
        .publish(t0() + secs(100), new_event("evt_new", None), &none)
        .await
        .unwrap();
    assert_eq!(store.prune_events(t0() + secs(50), 10).await.unwrap(), 1);
    assert_eq!(store.prune_events(t0() + secs(50), 10).await.unwrap(), 0);
    let again = store
        .publish(t0(), new_event("evt_new", None), &none)
        .await
        .unwrap();
    assert!(again.duplicate, "the newer event is kept");
    let old = store
        .publish(t0(), new_event("evt_old", None), &none)
        .await
        .unwrap();
    assert!(!old.duplicate, "the pruned one is gone");
}

fn slot_request(key: &str, now: DateTime<Utc>) -> buildamp::store::SlotRequest<'_> {
    buildamp::store::SlotRequest {
        key,
        execution: ExecutionId::new(),
        attempt: 1,
        now,
        lease_until: now + secs(60),
        forget_before: now - secs(10),
    }
}

/// The rule the executor applies, for the store tests.
fn rule(
    limits: Limits,
    now: DateTime<Utc>,
) -> impl Fn(&[Slot], Option<DateTime<Utc>>) -> Decision + Send + Sync {
    move |slots, turn| buildamp::protect::admit(&limits, slots, turn, now)
}

async fn admit_holds_a_destinations_limit_under_concurrent_admissions<S: Backend>(store: S) {
    let store = migrated(store).await;
    // Two more pools on the same database, as two more executor processes would have.
    let stores = [
        store.clone(),
        store.another_process().await,
        store.another_process().await,
    ];
    let limits = Limits {
        max_concurrency: Some(3),
        rate: None,
    };
    let decide = rule(limits, t0());
    let mut asks = Vec::new();
    for i in 0..12 {
        let (store, decide) = (stores[i % 3].clone(), &decide);
        asks.push(async move {
            let request = slot_request("endpoint:a", t0());
            (
                request.execution,
                store.admit(request, decide).await.unwrap(),
            )
        });
    }
    let decisions = futures_util::future::join_all(asks).await;
    let admitted: Vec<ExecutionId> = decisions
        .iter()
        .filter(|(_, d)| d.admission == Admission::Admit)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(admitted.len(), 3, "exactly the limit is admitted");
    // Each refusal took its own turn: the nine turns are distinct.
    let mut turns: Vec<DateTime<Utc>> = decisions
        .iter()
        .filter_map(|(_, d)| match d.admission {
            Admission::Wait { until, .. } => Some(until),
            Admission::Admit => None,
        })
        .collect();
    turns.sort();
    turns.dedup();
    assert_eq!(turns.len(), 9);
    // A released slot frees its place, once.
    assert!(store.release_slot(admitted[0], 1, t0()).await.unwrap());
    assert!(!store.release_slot(admitted[0], 1, t0()).await.unwrap());
    let next = store
        .admit(slot_request("endpoint:a", t0()), &decide)
        .await
        .unwrap();
    assert_eq!(next.admission, Admission::Admit);
    let full = store
        .admit(slot_request("endpoint:a", t0()), &decide)
        .await
        .unwrap();
    assert!(matches!(full.admission, Admission::Wait { .. }));
}

async fn admit_forgets_ended_slots_and_keeps_destinations_apart<S: Backend>(store: S) {
    let store = migrated(store).await;
    let limits = Limits {
        max_concurrency: Some(1),
        rate: None,
    };
    let first = slot_request("target:A", t0());
    let decision = store.admit(first, &rule(limits, t0())).await.unwrap();
    assert_eq!(decision.admission, Admission::Admit);
    // Another destination has its own slots.
    let other = store
        .admit(slot_request("target:B", t0()), &rule(limits, t0()))
        .await
        .unwrap();
    assert_eq!(other.admission, Admission::Admit);
    // A lost slot (never released) holds its place until its lease ends...
    let later = t0() + secs(30);
    let held = store
        .admit(slot_request("target:A", later), &rule(limits, later))
        .await
        .unwrap();
    assert!(matches!(held.admission, Admission::Wait { .. }));
    // ...and not after: the rule reads it as ended, and the store forgets it.
    let after = t0() + secs(120);
    let freed = store
        .admit(slot_request("target:A", after), &rule(limits, after))
        .await
        .unwrap();
    assert_eq!(freed.admission, Admission::Admit);
    assert!(
        !store.release_slot(first.execution, 1, after).await.unwrap(),
        "the lost slot was forgotten"
    );
}

async fn change_circuit_gives_the_probe_to_one_of_many_and_logs_changes<S: Backend>(store: S) {
    use buildamp::protect::breaker::{self, BreakerPolicy, Change, CircuitState, Health};
    let store = migrated(store).await;
    let policy = BreakerPolicy {
        failures: 2,
        ..BreakerPolicy::default()
    };
    let key = "endpoint:x";
    let failed = |at: DateTime<Utc>| {
        move |c: Option<&buildamp::protect::Circuit>| {
            breaker::observe(c, Health::Down, ExecutionId::new(), at, &policy)
        }
    };
    assert_eq!(store.circuit(key).await.unwrap(), None);
    let (first, change) = store
        .change_circuit(key, &failed(t0()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first.state, first.failures, change),
        (CircuitState::Closed, 1, None)
    );
    let (open, change) = store
        .change_circuit(key, &failed(t0()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (open.state, change),
        (CircuitState::Open, Some(Change::Opened))
    );
    assert_eq!(store.circuit(key).await.unwrap(), Some(open));
    assert_eq!(
        store.circuits().await.unwrap(),
        vec![(key.to_owned(), open)]
    );
    // After the cool-down, executors of three processes ask for the probe at once: one gets it.
    let later = t0() + secs(31);
    let stores = [
        store.clone(),
        store.another_process().await,
        store.another_process().await,
    ];
    let asks = (0..9).map(|i| {
        let store = stores[i % 3].clone();
        async move {
            let me = ExecutionId::new();
            let take = move |c: Option<&buildamp::protect::Circuit>| {
                breaker::take_probe(c, me, later, later + secs(60)).map(|c| (c, None))
            };
            store.change_circuit(key, &take).await.unwrap()
        }
    });
    let taken = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .count();
    assert_eq!(taken, 1, "one probe");
    assert_eq!(
        store.circuit(key).await.unwrap().unwrap().state,
        CircuitState::HalfOpen
    );
    // Any answer closes it; a clean circuit is neither listed nor changed.
    let answered = |c: Option<&buildamp::protect::Circuit>| {
        breaker::observe(c, Health::Up, ExecutionId::new(), later, &policy)
    };
    let (closed, change) = store.change_circuit(key, &answered).await.unwrap().unwrap();
    assert_eq!(
        (closed.state, change),
        (CircuitState::Closed, Some(Change::Closed))
    );
    assert_eq!(store.change_circuit(key, &answered).await.unwrap(), None);
    assert!(store.circuits().await.unwrap().is_empty());
    let log: Vec<HealthChange> = store
        .health_changes(key, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.change)
        .collect();
    assert_eq!(log, [HealthChange::Closed, HealthChange::Opened]);
}

async fn health_changes_are_leased_to_handlers_until_acked_and_stay_logged<S: Backend>(store: S) {
    use buildamp::protect::breaker::{self, BreakerPolicy, Health};
    let store = migrated(store).await;
    let key = "host:api.example.com:443";
    let failed = |c: Option<&buildamp::protect::Circuit>| {
        let policy = BreakerPolicy {
            failures: 1,
            ..BreakerPolicy::default()
        };
        breaker::observe(c, Health::Down, ExecutionId::new(), t0(), &policy)
    };
    store.change_circuit(key, &failed).await.unwrap().unwrap();
    let opened = HealthRecord {
        change: HealthChange::Opened,
        at: t0(),
        failures: 1,
        cool_down_ms: 30_000,
        reason: None,
    };
    let lease = t0() + secs(60);
    let claimed = store.claim_health_events(t0(), lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let first = &claimed[0];
    assert_eq!((first.key.as_str(), first.deliveries), (key, 1));
    assert_eq!(first.record, opened);
    assert!(
        store
            .claim_health_events(t0(), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // A failed handler offers it again at the given time, counting the hand-over.
    store
        .retry_health_event(first.id, t0() + secs(5))
        .await
        .unwrap();
    let early = store.claim_health_events(t0() + secs(4), lease, 10);
    assert!(early.await.unwrap().is_empty());
    let again = store
        .claim_health_events(t0() + secs(5), lease, 10)
        .await
        .unwrap();
    assert_eq!((again[0].id, again[0].deliveries), (first.id, 2));
    // Acknowledged, it is never handed over again (not even after a late retry or past the
    // lease), but the log keeps it.
    store.ack_health_event(first.id).await.unwrap();
    store.retry_health_event(first.id, t0()).await.unwrap();
    let late = store.claim_health_events(lease + secs(1), lease + secs(60), 10);
    assert!(late.await.unwrap().is_empty());
    assert_eq!(store.health_changes(key, 10).await.unwrap(), [opened]);
}

async fn an_ordered_keys_rows_are_numbered_and_claimed_one_at_a_time<S: Backend>(store: S) {
    let store = migrated(store).await;
    let endpoint = Uuid::now_v7();
    let ordered = |key: &str| NewRow {
        endpoint_id: Some(endpoint),
        ordering_key: Some(key.to_owned()),
        ..row("lead.created", t0())
    };
    let ids: Vec<ExecutionId> = store
        .insert(
            t0(),
            vec![
                ordered("k"),
                ordered("k"),
                ordered("j"),
                ordered("k"),
                row("A", t0()),
            ],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let (k1, k2, j1, k3, plain) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
    let numbers: Vec<Option<i64>> = {
        let mut n = Vec::new();
        for id in &ids {
            n.push(status(&store, *id).await.sequence);
        }
        n
    };
    assert_eq!(numbers, [Some(1), Some(2), Some(1), Some(3), None]);
    // Each key's head, and the unordered row.
    let mut first = claim(&store, t0(), 10).await;
    first.sort();
    let mut heads = vec![k1, j1, plain];
    heads.sort();
    assert_eq!(first, heads);
    // k2 waits while k1 is in flight, and while it waits for a retry.
    assert!(claim(&store, t0(), 10).await.is_empty());
    answered(&store, k1, 500, 0).await;
    let retry = status(&store, k1).await;
    assert_eq!(retry.status, Status::Failed);
    let before = retry.next_retry_at - Duration::milliseconds(1);
    assert!(claim(&store, before, 10).await.is_empty());
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(retry.next_retry_at),
        "a held-back row is not due"
    );
    // k1 settles (here: dead-lettered by a permanent answer): k2 goes, then k3.
    let later = t0() + secs(3600);
    assert_eq!(claim(&store, later, 10).await, [k1]);
    store
        .record(later, &[attempted(k1, 2, 400, later)])
        .await
        .unwrap();
    assert_eq!(claim(&store, later, 10).await, [k2]);
    store
        .record(later, &[attempted(k2, 1, 200, later)])
        .await
        .unwrap();
    assert_eq!(claim(&store, later, 10).await, [k3]);
}

async fn prune_protection_keeps_a_keys_counter_while_anything_of_it_is_unsettled<S: Backend>(
    store: S,
) {
    let store = migrated(store).await;
    let endpoint = Uuid::now_v7();
    let ordered = |key: &str| NewRow {
        endpoint_id: Some(endpoint),
        ordering_key: Some(key.to_owned()),
        ..row("lead.created", t0())
    };
    let ids = store
        .insert(t0(), vec![ordered("done"), ordered("waiting")])
        .await
        .unwrap();
    let done = ids[0].id;
    assert_eq!(claim(&store, t0(), 10).await.len(), 2);
    answered(&store, done, 200, 0).await;
    // A day later: the settled key's counter goes; the unsettled one's stays.
    let later = t0() + secs(86_400);
    assert_eq!(store.prune_protection(later, 100).await.unwrap(), 1);
    assert_eq!(store.prune_protection(later, 100).await.unwrap(), 0);
    // So "waiting" keeps counting, and "done" starts again from 1.
    let again = store
        .insert(later, vec![ordered("waiting"), ordered("done")])
        .await
        .unwrap();
    assert_eq!(status(&store, again[0].id).await.sequence, Some(2));
    assert_eq!(status(&store, again[1].id).await.sequence, Some(1));
}

async fn an_alert_key_has_one_open_incident_and_its_events_are_leased_until_acked<S: Backend>(
    store: S,
) {
    use buildamp::store::AlertRow;
    let store = migrated(store).await;
    let incident = |at: DateTime<Utc>| AlertRow {
        id: Uuid::now_v7(),
        key: "endpoint_down/host:api.example.com:443".into(),
        rule: "endpoint_down".into(),
        subject: "host:api.example.com:443".into(),
        summary: "down".into(),
        detail: serde_json::json!({"failures": 5}),
        fired_at: at,
        resolved_at: None,
    };
    let first = incident(t0());
    assert!(store.fire_alert(&first, vec![]).await.unwrap());
    // The key is open: a second firing (another evaluator's) writes nothing.
    assert!(
        !store
            .fire_alert(&incident(t0() + secs(1)), vec![])
            .await
            .unwrap()
    );
    assert_eq!(
        store.open_alerts().await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert!(
        store
            .resolve_alert(first.id, t0() + secs(30), vec![])
            .await
            .unwrap()
    );
    assert!(
        !store
            .resolve_alert(first.id, t0() + secs(31), vec![])
            .await
            .unwrap(),
        "resolved once"
    );
    assert!(store.open_alerts().await.unwrap().is_empty());
    // Resolved, the key may open a new incident; the newest comes first.
    let second = incident(t0() + secs(60));
    assert!(store.fire_alert(&second, vec![]).await.unwrap());
    let recent = store.recent_alerts(10).await.unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|a| (a.id, a.resolved_at))
            .collect::<Vec<_>>(),
        [(second.id, None), (first.id, Some(t0() + secs(30)))]
    );

    // Fired, resolved, fired: each change once, in order, leased until acknowledged.
    let lease = t0() + secs(120);
    let claimed = store
        .claim_alert_events(t0() + secs(60), lease, 10)
        .await
        .unwrap();
    let changes: Vec<(&str, Uuid, i32)> = claimed
        .iter()
        .map(|e| (e.change.as_str(), e.alert.id, e.deliveries))
        .collect();
    assert_eq!(
        changes,
        [
            ("fired", first.id, 1),
            ("resolved", first.id, 1),
            ("fired", second.id, 1)
        ]
    );
    assert_eq!(claimed[1].alert.resolved_at, Some(t0() + secs(30)));
    assert!(
        store
            .claim_alert_events(t0() + secs(60), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    store
        .retry_alert_event(claimed[0].id, t0() + secs(70))
        .await
        .unwrap();
    for event in &claimed[1..] {
        store.ack_alert_event(event.id).await.unwrap();
    }
    assert!(
        store
            .claim_alert_events(t0() + secs(69), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_alert_events(t0() + secs(70), lease, 10)
        .await
        .unwrap();
    assert_eq!(
        again
            .iter()
            .map(|e| (e.id, e.deliveries))
            .collect::<Vec<_>>(),
        [(claimed[0].id, 2)]
    );
    store.ack_alert_event(claimed[0].id).await.unwrap();
    assert!(
        store
            .claim_alert_events(lease + secs(1), lease + secs(60), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Only incidents resolved before the bound are pruned; the open one stays.
    assert_eq!(
        store.prune_alerts(t0() + secs(30), 10).await.unwrap(),
        0,
        "not before"
    );
    assert_eq!(store.prune_alerts(t0() + secs(3600), 10).await.unwrap(), 1);
    assert_eq!(store.recent_alerts(10).await.unwrap().len(), 1);
}
