//! The store conformance suite, end to end: every test runs against Postgres and SQLite (a fresh
//! database each), with a real HTTP receiver on 127.0.0.1 and a manual clock, so retry timelines
//! are exact and no test sleeps.

mod support;

conformance! {
    delivers_json_with_auth_headers_and_idempotency_key,
    exponential_policy_waits_1_then_2_seconds_then_dead_letters,
    fixed_policy_waits_30_seconds_each_time,
    explicit_schedule_is_followed_and_its_last_step_repeats,
    retry_after_is_honoured,
    other_4xx_dead_letters_at_once,
    redirects_are_reported_not_followed,
    a_timeout_is_a_failure_naming_the_limit,
    responses_are_read_and_stored_within_bounds,
    a_missing_variable_dead_letters_with_its_name,
    startup_lists_every_missing_variable,
    stripe_targets_get_bracketed_form_bodies,
    twilio_targets_get_lists_as_repeated_keys,
    a_2xx_body_that_is_not_the_declared_response_is_recorded_and_never_retried,
    typed_handlers_get_the_payload_and_the_answer_or_the_refusal_typed,
    a_typed_handler_triggers_its_fallback_through_its_runtime_once,
    multipart_uploads_arrive_byte_exact,
    get_sends_the_payload_as_a_query_string,
    a_repeated_idempotency_key_returns_the_first_execution,
    transactional_enqueue_follows_the_callers_transaction,
    bulk_dead_letter_retry_delivers_each_exactly_once,
    a_crashed_executors_rows_are_delivered_by_another_after_the_lease,
    two_executors_deliver_every_row_exactly_once,
    no_secret_is_stored_anywhere,
    delivered_rows_are_pruned_after_the_retention_period,
    outcome_handlers_get_every_event_at_least_once_across_a_restart,
    a_handler_can_trigger_a_fallback_webhook,
    shutdown_releases_deliveries_that_outlast_the_grace_period,
    if_env_takes_url_and_auth_from_the_branch_chosen_when_triggered,
    outcome_events_are_recorded_by_an_executor_without_handlers,
    the_rescuer_runs_as_a_service_that_signals_each_pass,
    concurrent_triggers_share_commits_and_a_refused_row_fails_alone,
}

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use buildamp::{
    BuildAmpWebhook, Clock, DeadLetterFilter, ExecutionId, ManualClock, OutcomeKind, Runtime,
    Status, Webhook,
};
use serde::{Deserialize, Serialize};
use support::{Backend, Receiver, Reply, env, runtime_with, t0};
use tokio_util::sync::CancellationToken;

const API_KEY: &str = "sk_test_SECRET_api_key_123";
const TENANT_SECRET: &str = "tenant_SECRET_456";
const UPLOAD_KEY: &str = "up_SECRET_000";

/// A JSON webhook with a Bearer secret, a secret header, a literal header and an idempotency key.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RECEIVER}/email",
    auth = "Bearer {API_KEY}",
    headers = { "X-Tenant" = "{TENANT_SECRET}", "X-Api-Version" = "2024-01-01" },
    idempotency_header = "Idempotency-Key"
)]
pub struct Email {
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
}

/// Fixed 30 s between attempts.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/fixed", retry_policy = "fixed")]
pub struct FixedHook {
    /// A number.
    pub n: u32,
}

/// The schedule our docs use: 4 s, 8 s, 10 s (repeating).
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/schedule", backoff = ["4s", "8s", "10s"], max_attempts = 5)]
pub struct ScheduledHook {
    /// A number.
    pub n: u32,
}

/// One attempt only.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RECEIVER}/once",
    retry_policy = "none",
    idempotency_header = "Idempotency-Key"
)]
pub struct OnceHook {
    /// A number.
    pub n: u32,
}

/// Stripe's form encoding.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RECEIVER}/v1/payment_intents",
    auth = "Bearer {API_KEY}",
    content_type = "application/x-www-form-urlencoded",
    idempotency_header = "Idempotency-Key"
)]
pub struct StripeLike {
    /// Cents.
    pub amount: u32,
    /// Currency.
    pub currency: String,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Expansions.
    pub expand: Vec<String>,
    /// Absent values are omitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

/// Twilio's form encoding: PascalCase fields, lists as repeated keys.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RECEIVER}/2010-04-01/Accounts/AC1/Messages.json",
    content_type = "application/x-www-form-urlencoded",
    form_lists = "repeat"
)]
#[serde(rename_all = "PascalCase")]
pub struct TwilioLike {
    /// The recipient.
    pub to: String,
    /// Media URLs.
    pub media_url: Vec<String>,
}

/// A provider's answer to `Charge`.
#[derive(Serialize, Deserialize)]
pub struct ChargeCreated {
    /// The provider's id.
    pub id: String,
    /// Cents.
    pub amount: u32,
}

/// How the provider refuses a `Charge`, in Stripe's shape.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChargeRefused {
    /// The refusal.
    pub error: ChargeRefusal,
}

/// The inside of a refusal.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChargeRefusal {
    /// The kind of error.
    #[serde(rename = "type")]
    pub kind: String,
    /// What to tell a person.
    pub message: String,
}

/// A target that declares the type of its 2xx answers and of its refusals.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RECEIVER}/v1/charges",
    response = ChargeCreated,
    error = ChargeRefused,
    max_attempts = 3
)]
pub struct Charge {
    /// Cents.
    pub amount: u32,
}

/// Where a refused `Charge` goes instead.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/elsewhere")]
pub struct ChargeElsewhere {
    /// Cents.
    pub amount: u32,
}

/// A multipart upload with a file part and a repeated field.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RECEIVER}/upload",
    auth = "Basic {UPLOAD_KEY}:",
    file_upload = true
)]
pub struct Upload {
    /// The file.
    #[serde(rename = "file")]
    pub data: Vec<u8>,
    /// Its name.
    pub name: String,
    /// Tags, one part each.
    pub tags: Vec<String>,
}

/// GET with the payload as a query string.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/search?source=buildamp", method = "GET")]
pub struct Search {
    /// The query.
    pub q: String,
    /// The page.
    pub page: u32,
}

/// A target that must answer within 200 ms.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/slow", timeout = "200ms", retry_policy = "none")]
pub struct Slow {
    /// A number.
    pub n: u32,
}

/// Needs a variable no test sets.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/needs-env", auth = "Bearer {UNSET_API_KEY}")]
pub struct NeedsEnv {
    /// A number.
    pub n: u32,
}

/// Its URL reads a variable no test sets.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://{UNSET_DOMAIN}/hook")]
pub struct NeedsDomain {
    /// A number.
    pub n: u32,
}

/// A target that switches URL and credentials on `DEVELOPMENT`, as the docs' simulator setup does.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = if_env!("DEVELOPMENT", "{RECEIVER}/dev", "{RECEIVER}/prod"),
    auth = if_env!("DEVELOPMENT", "Bearer {DEV_KEY}", "Bearer {PROD_KEY}")
)]
pub struct Branchy {
    /// Anything.
    pub n: u32,
}

fn email() -> Email {
    Email {
        to: "ada@example.com".into(),
        subject: "Welcome".into(),
    }
}

fn test_env(receiver: &Receiver) -> BTreeMap<String, String> {
    env(&[
        ("RECEIVER", &receiver.base),
        ("API_KEY", API_KEY),
        ("TENANT_SECRET", TENANT_SECRET),
        ("UPLOAD_KEY", UPLOAD_KEY),
    ])
}

async fn setup<S: Backend>(store: S, receiver: &Receiver) -> (Runtime<S>, ManualClock) {
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(store, test_env(receiver), &clock, |b| b).await;
    (runtime, clock)
}

async fn execution<S: Backend>(runtime: &Runtime<S>, id: ExecutionId) -> buildamp::Execution {
    runtime
        .execution(id)
        .await
        .unwrap()
        .expect("the execution exists")
}

/// Runs attempts, moving the clock to each retry, until the execution leaves the retry loop.
/// Returns the delays between attempts in seconds.
async fn retry_timeline<S: Backend>(
    runtime: &Runtime<S>,
    clock: &ManualClock,
    id: ExecutionId,
) -> Vec<f64> {
    let executor = runtime.executor();
    let mut delays = Vec::new();
    for _ in 0..20 {
        assert_eq!(executor.run_once().await.unwrap(), 1, "one row due");
        let e = execution(runtime, id).await;
        if e.status != Status::Failed {
            return delays;
        }
        let wait = e.next_retry_at - clock.now();
        // Not due a moment before its time.
        clock.set(e.next_retry_at - chrono::Duration::milliseconds(1));
        assert_eq!(
            executor.run_once().await.unwrap(),
            0,
            "claimed before its retry time"
        );
        clock.set(e.next_retry_at);
        delays.push(wait.num_milliseconds() as f64 / 1000.0);
    }
    panic!("the execution never left the retry loop");
}

fn within_jitter(delays: &[f64], base: &[f64]) {
    assert_eq!(delays.len(), base.len(), "{delays:?} vs {base:?}");
    for (d, b) in delays.iter().zip(base) {
        assert!(
            *d >= *b && *d <= b * 1.2 + 0.001,
            "delay {d}s outside [{b}, {}]s",
            b * 1.2
        );
    }
}

async fn delivers_json_with_auth_headers_and_idempotency_key<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, _| Reply::Full {
        status: 202,
        headers: vec![],
        body: r#"{"message_id":"m-1"}"#.into(),
    })
    .await;
    let (runtime, clock) = setup(store, &receiver).await;
    let correlation = uuid::Uuid::now_v7();
    let queued = email()
        .trigger(&runtime)
        .correlation_id(correlation)
        .await
        .unwrap();
    assert_eq!(execution(&runtime, queued.id).await.status, Status::Pending);

    assert_eq!(runtime.executor().run_once().await.unwrap(), 1);

    let [request] = receiver.received().try_into().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/email");
    assert_eq!(
        request.header("authorization"),
        Some(&*format!("Bearer {API_KEY}"))
    );
    assert_eq!(request.header("x-tenant"), Some(TENANT_SECRET));
    assert_eq!(request.header("x-api-version"), Some("2024-01-01"));
    assert_eq!(
        request.header("idempotency-key"),
        Some(&*queued.id.to_string())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        serde_json::json!({"to": "ada@example.com", "subject": "Welcome"})
    );

    let e = execution(&runtime, queued.id).await;
    assert_eq!(e.status, Status::Sent);
    assert_eq!((e.attempts, e.response_status), (1, Some(202)));
    assert_eq!(e.response_body.as_deref(), Some(r#"{"message_id":"m-1"}"#));
    assert_eq!(e.sent_at, Some(clock.now()));
    assert_eq!(e.correlation_id, Some(correlation));
    let attempts = runtime.attempts(queued.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].response_status, Some(202));
}

async fn exponential_policy_waits_1_then_2_seconds_then_dead_letters<S: Backend>(store: S) {
    let receiver = Receiver::answering(503).await;
    let (runtime, clock) = setup(store, &receiver).await;
    let id = email().trigger(&runtime).await.unwrap().id;
    let delays = retry_timeline(&runtime, &clock, id).await;
    within_jitter(&delays, &[1.0, 2.0]);
    let e = execution(&runtime, id).await;
    assert_eq!((e.status, e.attempts), (Status::DeadLetter, 3));
    assert_eq!(
        e.error_message.as_deref(),
        Some("gave up after 3 attempts: HTTP 503")
    );
    let log = runtime.attempts(id).await.unwrap();
    assert_eq!(log.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(log.iter().all(|a| a.response_status == Some(503)));
}

async fn fixed_policy_waits_30_seconds_each_time<S: Backend>(store: S) {
    let receiver = Receiver::answering(500).await;
    let (runtime, clock) = setup(store, &receiver).await;
    let id = FixedHook { n: 1 }.trigger(&runtime).await.unwrap().id;
    within_jitter(&retry_timeline(&runtime, &clock, id).await, &[30.0, 30.0]);
    assert_eq!(execution(&runtime, id).await.status, Status::DeadLetter);
}

async fn explicit_schedule_is_followed_and_its_last_step_repeats<S: Backend>(store: S) {
    let receiver = Receiver::answering(502).await;
    let (runtime, clock) = setup(store, &receiver).await;
    let id = ScheduledHook { n: 1 }.trigger(&runtime).await.unwrap().id;
    within_jitter(
        &retry_timeline(&runtime, &clock, id).await,
        &[4.0, 8.0, 10.0, 10.0],
    );
    assert_eq!(execution(&runtime, id).await.attempts, 5);
}

async fn retry_after_is_honoured<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, _| Reply::Full {
        status: 429,
        headers: vec![("retry-after", "120".into())],
        body: String::new(),
    })
    .await;
    let (runtime, clock) = setup(store, &receiver).await;
    let id = email().trigger(&runtime).await.unwrap().id;
    runtime.executor().run_once().await.unwrap();
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(
        e.next_retry_at,
        clock.now() + chrono::Duration::seconds(120)
    );
    assert_eq!(e.error_message.as_deref(), Some("HTTP 429"));
}

async fn other_4xx_dead_letters_at_once<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, _| Reply::Full {
        status: 422,
        headers: vec![],
        body: r#"{"errors":[{"field":"to"}]}"#.into(),
    })
    .await;
    let (runtime, _) = setup(store, &receiver).await;
    let id = email().trigger(&runtime).await.unwrap().id;
    runtime.executor().run_once().await.unwrap();
    let e = execution(&runtime, id).await;
    assert_eq!(
        (e.status, e.attempts, e.response_status),
        (Status::DeadLetter, 1, Some(422))
    );
    assert_eq!(
        e.error_message.as_deref(),
        Some("HTTP 422 (permanent: not retried)")
    );
    assert_eq!(
        e.response_body.as_deref(),
        Some(r#"{"errors":[{"field":"to"}]}"#)
    );
}

async fn redirects_are_reported_not_followed<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, _| Reply::Full {
        status: 301,
        headers: vec![("location", "https://elsewhere.example.com/email".into())],
        body: String::new(),
    })
    .await;
    let (runtime, _) = setup(store, &receiver).await;
    let id = email().trigger(&runtime).await.unwrap().id;
    runtime.executor().run_once().await.unwrap();
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::DeadLetter);
    assert!(
        e.error_message
            .unwrap()
            .contains("redirected to `https://elsewhere.example.com/email`")
    );
    assert_eq!(receiver.received().len(), 1);
}

async fn a_timeout_is_a_failure_naming_the_limit<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, _| Reply::Hang).await;
    let (runtime, _) = setup(store, &receiver).await;
    let id = Slow { n: 1 }.trigger(&runtime).await.unwrap().id;
    runtime.executor().run_once().await.unwrap();
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::DeadLetter);
    assert_eq!(
        e.error_message.as_deref(),
        Some("timed out after 0.2s (the retry policy is `none`)")
    );
}

async fn responses_are_read_and_stored_within_bounds<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, _| Reply::Full {
        status: 200,
        headers: vec![],
        body: "x".repeat(500_000),
    })
    .await;
    let (runtime, _) = setup(store, &receiver).await;
    let id = email().trigger(&runtime).await.unwrap().id;
    runtime.executor().run_once().await.unwrap();
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::Sent);
    assert_eq!(e.response_body.map(|b| b.len()), Some(4096));
    let log = runtime.attempts(id).await.unwrap();
    assert_eq!(log[0].response_body.as_ref().map(String::len), Some(4096));
}

async fn a_missing_variable_dead_letters_with_its_name<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let (runtime, _) = setup(store, &receiver).await;
    let id = NeedsEnv { n: 1 }.trigger(&runtime).await.unwrap().id;
    runtime.executor().run_once().await.unwrap();
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::DeadLetter);
    assert_eq!(
        e.error_message.as_deref(),
        Some("environment variable `UNSET_API_KEY` is not set (permanent: not retried)")
    );
    assert!(
        receiver.received().is_empty(),
        "nothing is sent without its credentials"
    );

    // A URL that cannot be resolved is dead on arrival, with the template kept, not a guess.
    let id = NeedsDomain { n: 1 }.trigger(&runtime).await.unwrap().id;
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::DeadLetter);
    assert_eq!(e.target_url, "https://{UNSET_DOMAIN}/hook");
    assert!(
        e.error_message
            .unwrap()
            .starts_with("environment variable `UNSET_DOMAIN` is not set")
    );
}

async fn startup_lists_every_missing_variable<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let err = Runtime::builder(store)
        .env(test_env(&receiver))
        .build()
        .err()
        .expect("unset variables stop the start");
    let message = err.to_string();
    assert!(
        message.contains("`UNSET_API_KEY` is not set (needed by NeedsEnv)"),
        "{message}"
    );
    assert!(
        message.contains("`UNSET_DOMAIN` is not set (needed by NeedsDomain)"),
        "{message}"
    );
    assert_eq!(err.problems.len(), 1, "{message}");
}

async fn stripe_targets_get_bracketed_form_bodies<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let (runtime, _) = setup(store, &receiver).await;
    let payment = StripeLike {
        amount: 2000,
        currency: "usd".into(),
        metadata: [("order_id".to_owned(), "42".to_owned())].into(),
        expand: vec!["customer".into(), "latest_charge".into()],
        customer: None,
    };
    payment.trigger(&runtime).await.unwrap();
    runtime.executor().run_once().await.unwrap();
    let [request] = receiver.received().try_into().expect("one request");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = String::from_utf8(request.body.to_vec()).unwrap();
    let mut pairs: Vec<&str> = body.split('&').collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [
            "amount=2000",
            "currency=usd",
            "expand[0]=customer",
            "expand[1]=latest_charge",
            "metadata[order_id]=42"
        ]
    );
}

async fn twilio_targets_get_lists_as_repeated_keys<S: Backend>(store: S) {
    let receiver = Receiver::answering(201).await;
    let (runtime, _) = setup(store, &receiver).await;
    let media = [
        "https://demo.twilio.com/owl.png",
        "https://demo.twilio.com/cat.png?s=1&t=2",
    ];
    TwilioLike {
        to: "+15558675310".into(),
        media_url: media.map(str::to_owned).to_vec(),
    }
    .trigger(&runtime)
    .await
    .unwrap();
    runtime.executor().run_once().await.unwrap();
    let [request] = receiver.received().try_into().expect("one request");
    // Read back as any form parser reads it (the way Twilio's does): one key, each value in order.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    assert_eq!(
        pairs,
        [
            ("To".to_owned(), "+15558675310".to_owned()),
            ("MediaUrl".to_owned(), media[0].to_owned()),
            ("MediaUrl".to_owned(), media[1].to_owned()),
        ]
    );
}

async fn a_2xx_body_that_is_not_the_declared_response_is_recorded_and_never_retried<S: Backend>(
    store: S,
) {
    let receiver = Receiver::answering(200).await;
    receiver.script(|_, n| Reply::Full {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: if n == 0 {
            r#"{"id": "ch_1", "amount": 500}"#.into()
        } else {
            r#"{"id": "ch_2", "amount": "five hundred"}"#.into()
        },
    });
    let (runtime, clock) = setup(store, &receiver).await;
    let good = Charge { amount: 500 }.trigger(&runtime).await.unwrap();
    runtime.executor().run_once().await.unwrap();
    let bad = Charge { amount: 500 }.trigger(&runtime).await.unwrap();
    runtime.executor().run_once().await.unwrap();
    let good = execution(&runtime, good.id).await;
    assert_eq!((good.status, good.error_message), (Status::Sent, None));
    // The provider did what was asked: sent, once, with why its answer is not a `ChargeCreated`.
    let bad = execution(&runtime, bad.id).await;
    assert_eq!((bad.status, bad.attempts), (Status::Sent, 1));
    let error = bad.error_message.unwrap();
    assert!(
        error.contains("did not parse as `ChargeCreated`") && error.contains("amount"),
        "{error}"
    );
    clock.advance(std::time::Duration::from_secs(3600));
    runtime.executor().run_once().await.unwrap();
    assert_eq!(receiver.received().len(), 2, "never retried");
}

async fn typed_handlers_get_the_payload_and_the_answer_or_the_refusal_typed<S: Backend>(store: S) {
    // Amounts under 1000 are charged; others refused, in the declared error's shape.
    let receiver = Receiver::start(|r, _| {
        let amount = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["amount"]
            .as_u64()
            .unwrap();
        if amount < 1000 {
            Reply::Full {
                status: 200,
                headers: vec![],
                body: format!(r#"{{"id": "ch_{amount}", "amount": {amount}}}"#),
            }
        } else if amount == 7777 {
            Reply::Full {
                status: 400,
                headers: vec![],
                body: "<html>Bad Request</html>".into(),
            }
        } else {
            Reply::Full {
                status: 402,
                headers: vec![],
                body: r#"{"error": {"type": "card_error", "message": "Your card was declined."}}"#
                    .into(),
            }
        }
    })
    .await;
    let clock = ManualClock::new(t0());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (charged, refused) = (seen.clone(), seen.clone());
    let runtime = runtime_with(store, test_env(&receiver), &clock, |b| {
        b.on_success::<Charge, _, _>(move |_, charge, created| {
            let seen = charged.clone();
            async move {
                let created = created?;
                seen.lock().unwrap().push(format!(
                    "charged {} as {} ({})",
                    charge.amount, created.id, created.amount
                ));
                Ok(())
            }
        })
        .on_failure::<Charge, _, _>(move |event, charge, refusal| {
            let seen = refused.clone();
            async move {
                let why = refusal.map_or("not in the declared shape".to_owned(), |r| {
                    format!("{} {}", r.error.kind, r.error.message)
                });
                seen.lock().unwrap().push(format!(
                    "refused {} ({}): {why}",
                    charge.amount,
                    event.response_status.unwrap(),
                ));
                Ok(())
            }
        })
    })
    .await;
    Charge { amount: 500 }.trigger(&runtime).await.unwrap();
    Charge { amount: 5000 }.trigger(&runtime).await.unwrap();
    Charge { amount: 7777 }.trigger(&runtime).await.unwrap();
    runtime.executor().run_once().await.unwrap();
    assert_eq!(runtime.dispatch_outcomes().await.unwrap(), 3);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            "charged 500 as ch_500 (500)",
            "refused 5000 (402): card_error Your card was declined.",
            "refused 7777 (400): not in the declared shape"
        ]
    );
}

/// The seed's fallback: a refused charge goes to another provider, triggered from the handler
/// through `Handled::runtime`. The handler fails once after triggering (as a crash would), so the
/// event comes back; the idempotency key keeps the fallback to one.
async fn a_typed_handler_triggers_its_fallback_through_its_runtime_once<S: Backend>(store: S) {
    let receiver = Receiver::start(|r, _| {
        if r.path == "/v1/charges" {
            Reply::Full {
                status: 402,
                headers: vec![],
                body: r#"{"error": {"type": "card_error", "message": "Declined."}}"#.into(),
            }
        } else {
            Reply::Status(200)
        }
    })
    .await;
    let clock = ManualClock::new(t0());
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let runtime = runtime_with(store, test_env(&receiver), &clock, |b| {
        b.on_failure::<Charge, _, _>(move |handled, charge, refusal| {
            let calls = counted.clone();
            async move {
                let refusal = refusal.ok_or("the refusal is in the declared shape")?;
                assert_eq!(refusal.error.kind, "card_error");
                ChargeElsewhere {
                    amount: charge.amount,
                }
                .trigger(handled.runtime())
                .idempotency_key(format!("fallback-{}", handled.execution_id))
                .correlation_id(handled.correlation_id.expect("set at trigger time"))
                .await?;
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err("the process died after triggering".into());
                }
                Ok(())
            }
        })
    })
    .await;
    let order = uuid::Uuid::now_v7();
    Charge { amount: 5000 }
        .trigger(&runtime)
        .correlation_id(order)
        .await
        .unwrap();
    runtime.executor().run_once().await.unwrap();
    assert_eq!(runtime.dispatch_outcomes().await.unwrap(), 1);
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        runtime.dispatch_outcomes().await.unwrap(),
        1,
        "handed over again"
    );
    assert_eq!(
        runtime.dispatch_outcomes().await.unwrap(),
        0,
        "acknowledged"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    runtime.executor().run_once().await.unwrap();
    let elsewhere: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.path == "/elsewhere")
        .collect();
    assert_eq!(elsewhere.len(), 1, "one fallback");
    assert_eq!(elsewhere[0].json()["amount"], 5000);
    let fallbacks = runtime
        .store()
        .executions(&buildamp::ExecutionFilter::newest(10).webhook_type("ChargeElsewhere"))
        .await
        .unwrap();
    assert_eq!(fallbacks.len(), 1);
    assert_eq!(
        (fallbacks[0].status, fallbacks[0].correlation_id),
        (Status::Sent, Some(order))
    );
}

async fn multipart_uploads_arrive_byte_exact<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let (runtime, _) = setup(store, &receiver).await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    Upload {
        data: bytes.clone(),
        name: "photo.png".into(),
        tags: vec!["cats".into(), "hats".into()],
    }
    .trigger(&runtime)
    .await
    .unwrap();
    runtime.executor().run_once().await.unwrap();
    let [request] = receiver.received().try_into().expect("one request");
    let expected_auth = format!("Basic {}", base64_of(&format!("{UPLOAD_KEY}:")));
    assert_eq!(request.header("authorization"), Some(&*expected_auth));
    let boundary = multer::parse_boundary(request.header("content-type").unwrap()).unwrap();
    let body = request.body.clone();
    let stream = futures_stream(body);
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.unwrap() {
        let name = field.name().unwrap().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        parts.push((name, file_name, field.bytes().await.unwrap().to_vec()));
    }
    let file = parts.iter().find(|p| p.0 == "file").expect("a file part");
    assert_eq!(file.1.as_deref(), Some("file"));
    assert!(file.2 == bytes, "the file arrives byte for byte");
    let tags: Vec<&[u8]> = parts
        .iter()
        .filter(|p| p.0 == "tags")
        .map(|p| p.2.as_slice())
        .collect();
    assert_eq!(tags, [b"cats".as_slice(), b"hats".as_slice()]);
    let name: Vec<&[u8]> = parts
        .iter()
        .filter(|p| p.0 == "name")
        .map(|p| p.2.as_slice())
        .collect();
    assert_eq!(name, [b"photo.png".as_slice()]);
}

fn futures_stream(
    body: axum::body::Bytes,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> {
    futures_util::stream::once(async move { Ok(body) })
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn get_sends_the_payload_as_a_query_string<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let (runtime, _) = setup(store, &receiver).await;
    Search {
        q: "rust & elm".into(),
        page: 2,
    }
    .trigger(&runtime)
    .await
    .unwrap();
    runtime.executor().run_once().await.unwrap();
    let [request] = receiver.received().try_into().expect("one request");
    assert_eq!(request.method, "GET");
    assert!(request.body.is_empty());
    let query = request.query.unwrap();
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["page=2", "q=rust%20%26%20elm", "source=buildamp"]);
}

async fn a_repeated_idempotency_key_returns_the_first_execution<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let (runtime, _) = setup(store, &receiver).await;
    let first = email()
        .trigger(&runtime)
        .idempotency_key("welcome-ada")
        .await
        .unwrap();
    let second = email()
        .trigger(&runtime)
        .idempotency_key("welcome-ada")
        .await
        .unwrap();
    assert!(!first.deduplicated);
    assert!(second.deduplicated);
    assert_eq!(first.id, second.id);
    // The key is per application: another tenant may use it.
    let other = email()
        .trigger(&runtime)
        .idempotency_key("welcome-ada")
        .application("other")
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    runtime.executor().run_once().await.unwrap();
    assert_eq!(receiver.received().len(), 2);
}

async fn transactional_enqueue_follows_the_callers_transaction<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let (runtime, _) = setup(store, &receiver).await;
    let rolled_back = S::enqueue_in_transaction(&runtime, &email(), false).await;
    assert!(runtime.execution(rolled_back).await.unwrap().is_none());
    assert_eq!(runtime.executor().run_once().await.unwrap(), 0);

    let committed = S::enqueue_in_transaction(&runtime, &email(), true).await;
    assert_eq!(runtime.executor().run_once().await.unwrap(), 1);
    assert_eq!(execution(&runtime, committed).await.status, Status::Sent);
    assert_eq!(receiver.received().len(), 1);
}

async fn bulk_dead_letter_retry_delivers_each_exactly_once<S: Backend>(store: S) {
    let receiver = Receiver::answering(500).await;
    // Twenty failures in a row would open the host's circuit (and the retries by hand would wait
    // for its cool-down, as they should): this test is about the retries, so it keeps it closed.
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(store, test_env(&receiver), &clock, |b| {
        b.breaker(buildamp::protect::BreakerPolicy {
            failures: 1000,
            ..Default::default()
        })
    })
    .await;
    let payloads: Vec<OnceHook> = (0..20).map(|n| OnceHook { n }).collect();
    let ids: Vec<ExecutionId> = runtime
        .trigger_batch(&payloads, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let delivered = email().trigger(&runtime).await.unwrap().id; // not a dead letter: untouched
    receiver.script(|r, _| Reply::Status(if r.path == "/email" { 200 } else { 500 }));
    while runtime.executor().run_once().await.unwrap() > 0 {}
    for id in &ids {
        assert_eq!(execution(&runtime, *id).await.status, Status::DeadLetter);
    }

    receiver.script(|_, _| Reply::Status(200));
    let filter = DeadLetterFilter::all().webhook_type("OnceHook");
    // Two operators retry at once: each dead letter moves once.
    let (a, b) = tokio::join!(
        runtime.retry_dead_letters(&filter),
        runtime.retry_dead_letters(&filter)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 20);
    while runtime.executor().run_once().await.unwrap() > 0 {}

    let retried: Vec<_> = receiver.received().into_iter().skip(21).collect();
    assert_eq!(
        retried.len(),
        20,
        "each dead letter is sent once more, no more"
    );
    let mut keys: Vec<String> = retried
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 20);
    for id in &ids {
        let e = execution(&runtime, *id).await;
        // The count goes on (attempt numbers stay unique); the retry had a fresh budget.
        assert_eq!((e.status, e.attempts, e.max_attempts), (Status::Sent, 2, 2));
    }
    assert_eq!(execution(&runtime, delivered).await.status, Status::Sent);

    // One at a time, too: a second retry of the same row does nothing.
    assert!(!runtime.retry_dead_letter(ids[0]).await.unwrap());
}

async fn a_crashed_executors_rows_are_delivered_by_another_after_the_lease<S: Backend>(store: S) {
    // The first request hangs (the executor "crashes" while it is in flight); later ones succeed.
    let receiver = Receiver::start(|_, n| {
        if n == 0 {
            Reply::Hang
        } else {
            Reply::Status(200)
        }
    })
    .await;
    let (runtime, clock) = setup(store, &receiver).await;
    let id = email().trigger(&runtime).await.unwrap().id;

    let crashed = tokio::spawn(runtime.executor().run(CancellationToken::new()));
    receiver.wait_for(1).await;
    crashed.abort(); // no cleanup, no release: as if the process died
    let _ = crashed.await;
    assert_eq!(execution(&runtime, id).await.status, Status::Sending);

    // Before the lease ends, nothing is rescued and nobody else may take the row.
    assert_eq!(runtime.rescue().await.unwrap(), 0);
    assert_eq!(runtime.executor().run_once().await.unwrap(), 0);

    clock.advance(Duration::from_secs(601));
    assert_eq!(runtime.rescue().await.unwrap(), 1);
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::Failed);
    assert!(e.error_message.unwrap().contains("lease expired"));
    // The lost attempt counts as a failure: due again after the target's backoff (1 s, plus up to
    // 20 % jitter), not at once, so a target that kills executors is not hammered.
    let now = clock.now();
    assert!(
        e.next_retry_at >= now + chrono::Duration::seconds(1)
            && e.next_retry_at <= now + chrono::Duration::milliseconds(1200),
        "due at {}, rescued at {now}",
        e.next_retry_at
    );
    assert_eq!(runtime.executor().run_once().await.unwrap(), 0);

    clock.advance(Duration::from_millis(1200));
    assert_eq!(runtime.executor().run_once().await.unwrap(), 1);
    let e = execution(&runtime, id).await;
    assert_eq!((e.status, e.attempts), (Status::Sent, 2));
    // At least once: the receiver saw the same idempotency key twice and can deduplicate.
    assert_eq!(receiver.count_by("idempotency-key")[&id.to_string()], 2);
}

async fn two_executors_deliver_every_row_exactly_once<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let clock = ManualClock::new(t0());
    let configure = |b: buildamp::RuntimeBuilder<S>| {
        let mut config = buildamp::Config::default();
        config.batch_size = 16;
        config.concurrency = 8;
        b.config(config)
    };
    let first = runtime_with(store.clone(), test_env(&receiver), &clock, configure).await;
    let second = runtime_with(store, test_env(&receiver), &clock, configure).await;
    const N: usize = 300;
    let payloads: Vec<Email> = (0..N)
        .map(|n| Email {
            to: format!("user{n}@example.com"),
            subject: "hi".into(),
        })
        .collect();
    first
        .trigger_batch(&payloads, &Default::default())
        .await
        .unwrap();

    let stop = CancellationToken::new();
    let a = tokio::spawn(first.executor().run(stop.clone()));
    let b = tokio::spawn(second.executor().run(stop.clone()));
    receiver.wait_for(N).await;
    stop.cancel();
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());

    assert_eq!(a.claimed + b.claimed, N as u64);
    assert!(
        a.claimed > 0 && b.claimed > 0,
        "both executors took part: {a:?} {b:?}"
    );
    assert_eq!(a.completed + b.completed, N as u64);
    let counts = receiver.count_by("idempotency-key");
    assert_eq!(counts.len(), N);
    assert!(
        counts.values().all(|c| *c == 1),
        "a row was delivered twice"
    );
    let sent = first.store().count_sent().await;
    assert_eq!(sent, N as i64);
}

async fn no_secret_is_stored_anywhere<S: Backend>(store: S) {
    let receiver =
        Receiver::start(|r, _| Reply::Status(if r.path == "/email" { 200 } else { 401 })).await;
    let (runtime, _) = setup(store.clone(), &receiver).await;
    email().trigger(&runtime).await.unwrap();
    StripeLike {
        amount: 1,
        currency: "usd".into(),
        metadata: BTreeMap::new(),
        expand: vec![],
        customer: None,
    }
    .trigger(&runtime)
    .await
    .unwrap();
    Upload {
        data: vec![1, 2, 3],
        name: "a".into(),
        tags: vec![],
    }
    .trigger(&runtime)
    .await
    .unwrap();
    runtime.executor().run_once().await.unwrap();
    assert_eq!(receiver.received().len(), 3, "the secrets were used");
    let email_request = receiver
        .received()
        .into_iter()
        .find(|r| r.path == "/email")
        .expect("the email was sent");
    assert_eq!(email_request.header("x-tenant"), Some(TENANT_SECRET));

    // Every column of every table, as text.
    let rows = store.every_row_as_text().await;
    assert!(rows.iter().any(|(table, _)| table == "webhook_executions"));
    assert!(rows.iter().any(|(table, _)| table == "webhook_attempts"));
    for (table, row) in rows {
        for secret in [
            API_KEY,
            TENANT_SECRET,
            UPLOAD_KEY,
            &base64_of(&format!("{UPLOAD_KEY}:")),
        ] {
            assert!(!row.contains(secret), "{table} stores a secret: {row}");
        }
        assert!(!row.contains("SECRET"), "{table} stores a secret: {row}");
    }
}

async fn delivered_rows_are_pruned_after_the_retention_period<S: Backend>(store: S) {
    let receiver =
        Receiver::start(|r, _| Reply::Status(if r.path == "/email" { 200 } else { 400 })).await;
    let (runtime, clock) = setup(store, &receiver).await;
    let sent = email().trigger(&runtime).await.unwrap().id;
    let dead = OnceHook { n: 1 }.trigger(&runtime).await.unwrap().id;
    runtime.executor().run_once().await.unwrap();

    clock.advance(Duration::from_secs(167 * 3600));
    assert_eq!(
        runtime.prune().await.unwrap(),
        0,
        "kept for the retention period"
    );
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(runtime.prune().await.unwrap(), 1);
    assert!(runtime.execution(sent).await.unwrap().is_none());
    assert!(
        runtime.attempts(sent).await.unwrap().is_empty(),
        "its attempt log goes with it"
    );
    assert_eq!(
        execution(&runtime, dead).await.status,
        Status::DeadLetter,
        "dead letters stay"
    );
}

async fn outcome_handlers_get_every_event_at_least_once_across_a_restart<S: Backend>(store: S) {
    let receiver =
        Receiver::start(|r, _| Reply::Status(if r.path == "/email" { 202 } else { 400 })).await;
    let clock = ManualClock::new(t0());
    let seen: Arc<Mutex<Vec<(OutcomeKind, ExecutionId, u32)>>> = Arc::default();

    // The first process's handler records the event, then fails (as if it crashed before the ack).
    let first_seen = seen.clone();
    let first = runtime_with(store.clone(), test_env(&receiver), &clock, |b| {
        b.on_outcome(move |event| {
            let seen = first_seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push((event.kind, event.execution_id, event.delivery));
                Err("the process died before acknowledging".into())
            }
        })
    })
    .await;
    let ok = email()
        .trigger(&first)
        .correlation_id(uuid::Uuid::nil())
        .await
        .unwrap()
        .id;
    let bad = OnceHook { n: 1 }.trigger(&first).await.unwrap().id;
    first.executor().run_once().await.unwrap();
    assert_eq!(first.dispatch_outcomes().await.unwrap(), 2);
    drop(first);

    // A new process with a working handler gets both events again, after their backoff.
    let second_seen = seen.clone();
    let second = runtime_with(store, test_env(&receiver), &clock, |b| {
        b.on_outcome(move |event| {
            let seen = second_seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push((event.kind, event.execution_id, event.delivery));
                Ok(())
            }
        })
    })
    .await;
    assert_eq!(
        second.dispatch_outcomes().await.unwrap(),
        0,
        "not offered again before the backoff"
    );
    clock.advance(Duration::from_secs(3));
    assert_eq!(second.dispatch_outcomes().await.unwrap(), 2);
    assert_eq!(
        second.dispatch_outcomes().await.unwrap(),
        0,
        "acknowledged events are gone"
    );

    // Each round holds both events, in whichever order their attempts ended.
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by_key(|(kind, _, delivery)| (*delivery, *kind != OutcomeKind::WebhookSuccess));
    assert_eq!(
        seen,
        [
            (OutcomeKind::WebhookSuccess, ok, 1),
            (OutcomeKind::WebhookFailed, bad, 1),
            (OutcomeKind::WebhookSuccess, ok, 2),
            (OutcomeKind::WebhookFailed, bad, 2),
        ]
    );
}

async fn a_handler_can_trigger_a_fallback_webhook<S: Backend>(store: S) {
    let receiver =
        Receiver::start(|r, _| Reply::Status(if r.path == "/email" { 200 } else { 400 })).await;
    let clock = ManualClock::new(t0());
    let runtime_cell: Arc<OnceLock<Runtime<S>>> = Arc::default();
    let cell = runtime_cell.clone();
    let runtime = runtime_with(store, test_env(&receiver), &clock, |b| {
        b.on_outcome(move |event| {
            let runtime = cell.get().expect("set after build").clone();
            async move {
                // The fallback-provider pattern: when the primary fails, send through another.
                if event.kind == OutcomeKind::WebhookFailed && event.webhook_type == "OnceHook" {
                    email()
                        .trigger(&runtime)
                        .correlation_id(event.correlation_id.unwrap_or_default())
                        .await?;
                }
                Ok(())
            }
        })
    })
    .await;
    runtime_cell.set(runtime.clone()).ok().unwrap();
    let correlation = uuid::Uuid::now_v7();
    OnceHook { n: 1 }
        .trigger(&runtime)
        .correlation_id(correlation)
        .await
        .unwrap();
    runtime.executor().run_once().await.unwrap();
    runtime.dispatch_outcomes().await.unwrap();
    runtime.executor().run_once().await.unwrap();
    let paths: Vec<String> = receiver.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/once", "/email"]);
}

/// Postgres only: SQLite serves one process, so there is no other process to hear from.
#[sqlx::test(migrations = false)]
async fn a_started_runtime_wakes_on_another_processes_notify(pool: sqlx::PgPool) {
    let store = buildamp::PgStore::from_pool(pool);
    let receiver = Receiver::answering(200).await;
    let clock = ManualClock::new(t0());
    let slow_polling = |b: buildamp::RuntimeBuilder<buildamp::PgStore>| {
        let mut config = buildamp::Config::default();
        config.poll_interval = Duration::from_secs(3600);
        b.config(config)
    };
    let worker = runtime_with(store.clone(), test_env(&receiver), &clock, slow_polling).await;
    // `start` returns once LISTEN is registered; a NOTIFY that comes before the executor waits is
    // kept as a permit, so no sleep is needed here.
    let running = worker.start().await.unwrap();
    // Another process (its own store: no shared in-process signal) triggers.
    let producer = runtime_with(store, test_env(&receiver), &clock, |b| b).await;
    let id = email().trigger(&producer).await.unwrap().id;
    receiver.wait_for(1).await; // an hour of polling interval: only the NOTIFY can explain this
    let stats = running.shutdown().await.unwrap();
    assert_eq!((stats.claimed, stats.completed), (1, 1));
    assert_eq!(execution(&producer, id).await.status, Status::Sent);
}

async fn shutdown_releases_deliveries_that_outlast_the_grace_period<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, _| Reply::Hang).await;
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(store, test_env(&receiver), &clock, |b| {
        let mut config = buildamp::Config::default();
        config.shutdown_grace = Duration::from_millis(100);
        b.config(config)
    })
    .await;
    let id = email().trigger(&runtime).await.unwrap().id;
    let running = runtime.start().await.unwrap();
    receiver.wait_for(1).await;

    let stats = running.shutdown().await.unwrap();
    assert_eq!((stats.claimed, stats.completed, stats.released), (1, 0, 1));
    let e = execution(&runtime, id).await;
    // The request had started, so the attempt counts; the row is due again at once.
    assert_eq!((e.status, e.attempts), (Status::Failed, 1));
    assert_eq!(e.next_retry_at, clock.now());
    assert!(
        e.error_message
            .unwrap()
            .contains("interrupted by executor shutdown")
    );

    receiver.script(|_, _| Reply::Status(200));
    assert_eq!(runtime.executor().run_once().await.unwrap(), 1);
    assert_eq!(execution(&runtime, id).await.status, Status::Sent);
}

async fn if_env_takes_url_and_auth_from_the_branch_chosen_when_triggered<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let clock = ManualClock::new(t0());
    let vars = |development: bool| {
        let mut vars = test_env(&receiver);
        vars.insert("DEV_KEY".into(), "dev_key".into());
        vars.insert("PROD_KEY".into(), "prod_SECRET_key".into());
        if development {
            vars.insert("DEVELOPMENT".into(), "1".into());
        }
        vars
    };
    // The process that triggers and the executor disagree about `DEVELOPMENT`, both ways.
    for (trigger_in_development, expected_path, expected_auth) in [
        (true, "/dev", "Bearer dev_key"),
        (false, "/prod", "Bearer prod_SECRET_key"),
    ] {
        let triggering =
            runtime_with(store.clone(), vars(trigger_in_development), &clock, |b| b).await;
        let executing =
            runtime_with(store.clone(), vars(!trigger_in_development), &clock, |b| b).await;
        Branchy { n: 1 }.trigger(&triggering).await.unwrap();
        assert_eq!(executing.executor().run_once().await.unwrap(), 1);
        let request = receiver.received().pop().unwrap();
        assert_eq!(
            (request.path.as_str(), request.header("authorization")),
            (expected_path, Some(expected_auth)),
            "the credentials go where the URL went"
        );
    }
}

async fn outcome_events_are_recorded_by_an_executor_without_handlers<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let clock = ManualClock::new(t0());
    // This process delivers and has no handlers; another process handles outcomes.
    let delivering = runtime_with(store.clone(), test_env(&receiver), &clock, |b| b).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handled = seen.clone();
    let handling = runtime_with(store, test_env(&receiver), &clock, |b| {
        b.on_outcome(move |event| {
            let handled = handled.clone();
            async move {
                handled
                    .lock()
                    .unwrap()
                    .push((event.kind, event.execution_id));
                Ok(())
            }
        })
    })
    .await;
    let id = email().trigger(&delivering).await.unwrap().id;
    assert_eq!(delivering.executor().run_once().await.unwrap(), 1);
    assert_eq!(handling.dispatch_outcomes().await.unwrap(), 1);
    assert_eq!(*seen.lock().unwrap(), [(OutcomeKind::WebhookSuccess, id)]);
}

async fn the_rescuer_runs_as_a_service_that_signals_each_pass<S: Backend>(store: S) {
    let receiver = Receiver::start(|_, n| {
        if n == 0 {
            Reply::Hang
        } else {
            Reply::Status(200)
        }
    })
    .await;
    let (runtime, clock) = setup(store, &receiver).await;
    let id = email().trigger(&runtime).await.unwrap().id;
    let crashed = tokio::spawn(runtime.executor().run(CancellationToken::new()));
    receiver.wait_for(1).await;
    crashed.abort();
    let _ = crashed.await;
    clock.advance(Duration::from_secs(601));

    // Started, the rescuer makes a pass at once and says so; the test waits on that signal.
    let running = runtime.start().await.unwrap();
    let names: Vec<&str> = running.services().iter().map(|s| s.name()).collect();
    // The outcome dispatcher runs without the app's handlers: transactions hear every outcome.
    assert_eq!(
        names,
        [
            "outcome dispatcher",
            "transaction sweeper",
            "alert evaluator",
            "rescuer",
            "replayer",
            "pruner"
        ],
    );
    let mut passes = running.services()[3].passes();
    passes.wait_for(|n| *n >= 1).await.unwrap();
    let e = execution(&runtime, id).await;
    assert_eq!(e.status, Status::Failed);
    assert!(e.error_message.unwrap().contains("lease expired"));
    running.shutdown().await.unwrap();
}

async fn concurrent_triggers_share_commits_and_a_refused_row_fails_alone<S: Backend>(store: S) {
    let receiver = Receiver::answering(200).await;
    let (runtime, _clock) = setup(store, &receiver).await;
    // 60 callers at once, every third repeating a key another one uses; one payload holds a NUL
    // character, which Postgres refuses in JSON (SQLite takes it).
    let calls = (0..60).map(|i| {
        let runtime = runtime.clone();
        async move {
            let subject = if i == 7 {
                "nul \u{0}".to_owned()
            } else {
                format!("n{i}")
            };
            let email = Email {
                to: "ada@example.com".into(),
                subject,
            };
            let key = format!("k{}", if i % 3 == 0 { 0 } else { i });
            email.trigger(&runtime).idempotency_key(key).await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    // Exactly the NUL row is refused where the database refuses it; its neighbours, inserted in
    // the same statement, are not.
    let refused: Vec<usize> = (0..results.len())
        .filter(|i| results[*i].is_err())
        .collect();
    let expected: &[usize] = if S::REFUSES_NUL_IN_JSON { &[7] } else { &[] };
    assert_eq!(refused, expected);
    // Every key made one execution; the repeats got it back, marked as such.
    let accepted: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let first = accepted.iter().filter(|e| !e.deduplicated).count();
    let keyed_zero: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(_, r)| r.as_ref().unwrap().id)
        .collect();
    assert!(keyed_zero.iter().all(|id| *id == keyed_zero[0]));
    assert_eq!(first, accepted.len() - (keyed_zero.len() - 1));
    for e in &accepted {
        assert!(execution(&runtime, e.id).await.status == Status::Pending);
    }
}
