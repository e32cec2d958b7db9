//! The executor: claims due rows in batches, delivers them concurrently, and records the results
//! in batches.
//!
//! Guarantees, and how they are kept:
//! - **No transaction spans an HTTP call.** A claim is one statement that marks rows `sending`
//!   with a lease; results are written later by another statement.
//! - **Bounded work.** At most `concurrency` deliveries are in flight; a claim never asks for more
//!   rows than there are free slots. Completions queue in a bounded channel, so a slow database
//!   slows claiming instead of growing memory.
//! - **Several executors, one database.** `FOR UPDATE SKIP LOCKED` gives each row to one claimer;
//!   completions are fenced on `(id, attempt)`, so a late worker cannot overwrite a row that was
//!   rescued and claimed again.
//! - **Crashes lose nothing.** A crashed executor's rows keep their lease until it expires; the
//!   rescuer then returns them to the queue.
//! - **Graceful shutdown.** Claiming stops, in-flight deliveries get `shutdown_grace` to finish,
//!   the rest are released to the queue (their attempt uncounted unless the request had started).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::breaker::{Breakers, Key};
use super::delivery::Deliverer;
use super::limits::{self, Admitted, Turns};
use super::registry::{self, Registration};
use crate::clock::{Clock, Jitter};
use crate::config::Config;
use crate::env::Env;
use crate::error::error_chain;
use crate::protect::{Destination, Limits, breaker};
use crate::queue::{
    self, AttemptResult, Event, ExecutionId, Progress, RetryPolicy, RetryRules, Status, Write,
};
use crate::service::deliver::{self as endpoint_delivery, Delivery};
use crate::service::endpoint::{Endpoint, EndpointStatus};
use crate::service::state::ServiceState;
use crate::store::{AttemptReport, Claimed, Move, Store, StoreError};

/// Rows written per completion statement at most.
const COMPLETION_BATCH: usize = 1024;

/// What an executor works with: given by the runtime, shared by its executors.
pub(crate) struct Context<S> {
    pub(crate) store: S,
    pub(crate) env: Arc<dyn Env + Send + Sync>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    pub(crate) deliverer: Deliverer,
    /// Turns of destinations whose limits the store refused (see `limits`).
    pub(crate) turns: Turns,
    /// The circuits of destinations, as this process knows them (see `breaker`).
    pub(crate) breakers: Breakers,
    pub(crate) jitter: Arc<Jitter>,
    /// The webhooks service: secret keys and endpoint caches.
    pub(crate) service: ServiceState,
}

/// One executor of a runtime. Several may run against one database, in one process or many.
pub struct Executor<S: Store> {
    inner: Arc<Context<S>>,
    id: Uuid,
}

/// What [`Executor::run`] did before it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutorStats {
    /// Rows claimed.
    pub claimed: u64,
    /// Results recorded (fenced-out ones are not counted).
    pub completed: u64,
    /// Rows given back at shutdown.
    pub released: u64,
}

/// A delivery in flight, so shutdown knows what to give back.
struct InFlight {
    attempt: i32,
    max_attempts: i32,
    rules: RetryRules<'static>,
    started: Arc<AtomicBool>,
}

impl InFlight {
    fn progress(&self) -> Progress {
        Progress {
            attempts: self.attempt,
            max_attempts: self.max_attempts,
        }
    }
}

impl<S: Store> Executor<S> {
    pub(crate) fn new(inner: Arc<Context<S>>) -> Self {
        Executor {
            inner,
            id: Uuid::now_v7(),
        }
    }

    /// This executor's id, recorded in `claimed_by`.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Claims one batch of due rows, delivers them (at most `concurrency` at once) and records the
    /// results. Returns how many rows it claimed. For tests and tools; [`Executor::run`] is the
    /// long-running loop.
    ///
    /// # Errors
    /// The database failed; claimed rows then come back after their lease.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.inner.clock.now();
        let rows = self
            .inner
            .store
            .claim(
                self.id,
                now,
                self.lease_until(now),
                self.inner.config.batch_size,
            )
            .await?;
        let claimed = rows.len();
        let permits = Arc::new(Semaphore::new(self.inner.config.concurrency));
        let mut tasks = JoinSet::new();
        for row in rows {
            let inner = self.inner.clone();
            let permits = permits.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("never closed");
                let registration = registration_of(&row);
                deliver(&inner, &row, registration, &AtomicBool::new(false)).await
            });
        }
        let mut moves = Vec::with_capacity(claimed);
        while let Some(done) = tasks.join_next().await {
            moves.push(done.expect("a delivery task panicked"));
        }
        self.inner
            .store
            .record(self.inner.clock.now(), &moves)
            .await?;
        Ok(claimed)
    }

    /// Runs until `shutdown` is cancelled, then drains and releases as described in the module
    /// docs.
    ///
    /// # Errors
    /// Releasing rows at shutdown failed (they come back after their lease instead).
    pub async fn run(self, shutdown: CancellationToken) -> Result<ExecutorStats, StoreError> {
        let inner = self.inner.clone();
        let config = &inner.config;
        let permits = Arc::new(Semaphore::new(config.concurrency));
        let in_flight: Arc<Mutex<HashMap<ExecutionId, InFlight>>> = Arc::default();
        let (done_tx, done_rx) = mpsc::channel::<Done>(config.concurrency * 2);
        let completer = tokio::spawn(complete_loop(inner.clone(), done_rx));
        let signal = inner.store.work_signal();
        let mut tasks = JoinSet::new();
        let mut stats = ExecutorStats::default();
        // Claim in batches: while busy, wait until a quarter of the slots are free rather than
        // claiming a row or two each time one delivery ends.
        let refill = (config.concurrency / 4).clamp(1, config.batch_size);

        while !shutdown.is_cancelled() {
            // Reap finished tasks so the set does not grow.
            while tasks.try_join_next().is_some() {}
            let free = permits.available_permits();
            if free < refill {
                tokio::select! {
                    permits = permits.clone().acquire_many_owned(refill as u32) => drop(permits),
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            let limit = free.min(config.batch_size);
            let now = inner.clock.now();
            let rows = match inner
                .store
                .claim(self.id, now, self.lease_until(now), limit)
                .await
            {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "claiming failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(config.poll_interval) => {}
                        () = shutdown.cancelled() => break,
                    }
                    continue;
                }
            };
            stats.claimed += rows.len() as u64;
            let full = rows.len() == limit;
            for row in rows {
                let permit = permits
                    .clone()
                    .try_acquire_owned()
                    .expect("claimed no more than free slots");
                let started = Arc::new(AtomicBool::new(false));
                // Looked up once: the delivery uses its target, a release its retry rules.
                let registration = registration_of(&row);
                in_flight.lock().expect("in-flight lock").insert(
                    row.id,
                    InFlight {
                        attempt: row.attempt,
                        max_attempts: row.max_attempts,
                        rules: registration
                            .map_or(RetryRules::DEFAULT, |r| r.target().retry_rules()),
                        started: started.clone(),
                    },
                );
                let (inner, done_tx, in_flight) =
                    (inner.clone(), done_tx.clone(), in_flight.clone());
                tasks.spawn(async move {
                    // Every log line of a delivery names its execution.
                    let span = tracing::info_span!(
                        "delivery",
                        execution = %row.id,
                        webhook = %row.webhook_type,
                        attempt = row.attempt
                    );
                    let completion = tracing::Instrument::instrument(
                        deliver(&inner, &row, registration, &started),
                        span,
                    )
                    .await;
                    // The completer runs until every sender is gone, so this fails only if it
                    // panicked; the row then comes back after its lease.
                    let done = Done {
                        ordered: row.ordering.is_some(),
                        completion,
                    };
                    let _ = done_tx.send(done).await;
                    in_flight.lock().expect("in-flight lock").remove(&row.id);
                    drop(permit);
                });
            }
            if full {
                continue; // More may be due: claim again at once.
            }
            // Never spin: a row due now but held by another executor is not ours to claim.
            let floor = Duration::from_millis(20).min(config.poll_interval);
            let wait = match inner.store.next_due().await {
                Ok(Some(due)) => until(due, inner.clock.now()).clamp(floor, config.poll_interval),
                _ => config.poll_interval,
            };
            tokio::select! {
                () = signal.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
        }

        // Drain: in-flight deliveries get the grace period, then are aborted and released.
        let drained = tokio::time::timeout(config.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        drop(done_tx);
        stats.completed = completer.await.unwrap_or(0);
        let now = inner.clock.now();
        let releases: Vec<Move> = in_flight
            .lock()
            .expect("in-flight lock")
            .iter()
            .map(|(id, f)| {
                let event = Event::Released {
                    started: f.started.load(Ordering::SeqCst),
                };
                Move {
                    id: *id,
                    attempt: f.attempt,
                    from: event.from_status(),
                    to: queue::decide(f.progress(), event, f.rules, now, inner.jitter.sample()),
                    report: None,
                }
            })
            .collect();
        if !releases.is_empty() {
            stats.released = inner.store.record(now, &releases).await?;
        }
        Ok(stats)
    }

    fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.inner.config.lease).unwrap_or(chrono::Duration::MAX)
    }
}

/// A delivery's completion, and whether its row was an ordered endpoint's.
struct Done {
    completion: Move,
    ordered: bool,
}

/// Writes completions in batches: whatever has arrived when the previous write finishes. A failed
/// write is retried until it succeeds or shutdown closes the channel; rows not written come back
/// after their lease (at least once, never lost).
async fn complete_loop<S: Store>(inner: Arc<Context<S>>, mut done: mpsc::Receiver<Done>) -> u64 {
    let mut written = 0;
    let mut batch = Vec::with_capacity(COMPLETION_BATCH);
    let wake = inner.store.work_signal();
    while let Some(first) = done.recv().await {
        let mut ordered = first.ordered;
        batch.push(first.completion);
        while batch.len() < COMPLETION_BATCH {
            match done.try_recv() {
                Ok(c) => {
                    ordered |= c.ordered;
                    batch.push(c.completion);
                }
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            match inner.store.record(inner.clock.now(), &batch).await {
                Ok(n) => {
                    written += n;
                    // An ordered row that moved may have let the next one of its key through:
                    // this process's executors look now (others at their next poll).
                    if ordered {
                        wake.notify_one();
                    }
                    break;
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), rows = batch.len(), "recording results failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        batch.clear();
    }
    written
}

/// The registered webhook type of a `#[target]` row; an endpoint's row has none (its settings
/// are the endpoint's), so the registry is not searched for it.
fn registration_of(row: &Claimed) -> Option<&'static Registration> {
    row.endpoint_id
        .is_none()
        .then(|| registry::find(&row.webhook_type))
        .flatten()
}

/// How the attempt's failures are retried: a target's static rules, or an endpoint's policy.
enum Rules {
    Static(RetryRules<'static>),
    Endpoint(RetryPolicy),
}

impl Rules {
    fn get(&self) -> RetryRules<'_> {
        match self {
            Rules::Static(rules) => *rules,
            Rules::Endpoint(policy) => Endpoint::retry_rules(policy),
        }
    }
}

/// What became of a claimed row: an attempt was made (or could not be), or it waits.
enum Attempted {
    Made(AttemptResult, Rules),
    Deferred {
        until: DateTime<Utc>,
        reason: &'static str,
    },
}

/// How long a paused endpoint's deliveries wait before they look again.
const PAUSED_RECHECK: chrono::Duration = chrono::Duration::seconds(30);

/// Makes one attempt of `row` (whose webhook type is `registration`, if this process knows it; or
/// which goes to a customer's endpoint) and decides what follows. `started` turns true when the
/// request is about to be sent (after the target's limits let it through).
async fn deliver<S: Store>(
    inner: &Context<S>,
    row: &Claimed,
    registration: Option<&'static Registration>,
    started: &AtomicBool,
) -> Move {
    let started_at = inner.clock.now();
    let timer = std::time::Instant::now();
    let attempted = match row.endpoint_id {
        Some(endpoint) => to_endpoint(inner, row, endpoint, started).await,
        None => to_target(inner, row, registration, started).await,
    };
    let progress = Progress {
        attempts: row.attempt,
        max_attempts: row.max_attempts,
    };
    let (result, rules) = match attempted {
        Attempted::Made(result, rules) => (result, rules),
        Attempted::Deferred { until, reason } => {
            let event = Event::Deferred { until, reason };
            return Move {
                id: row.id,
                attempt: row.attempt,
                from: event.from_status(),
                to: queue::decide(progress, event, RetryRules::DEFAULT, inner.clock.now(), 0.0),
                report: None,
            };
        }
    };
    let from = Event::Attempted(&result).from_status();
    let to = queue::decide(
        progress,
        Event::Attempted(&result),
        rules.get(),
        inner.clock.now(),
        inner.jitter.sample(),
    );
    crate::telemetry::attempt(
        &row.webhook_type,
        row.endpoint_id,
        to.status,
        timer.elapsed(),
    );
    if to.status == Status::DeadLetter {
        // Personal data in the payload is masked; secrets never reach a log line.
        tracing::warn!(
            webhook = %row.webhook_type,
            execution = %row.id,
            reason = match &to.error {
                Write::Set(Some(reason)) => reason.as_str(),
                _ => "",
            },
            payload = %crate::telemetry::preview(&row.payload, 300),
            "dead-lettered"
        );
    }
    let (response_status, response_body, external_id) = match result {
        AttemptResult::Response {
            status,
            body,
            external_id,
            ..
        } => (Some(i32::from(status)), Some(body), external_id),
        _ => (None, None, None),
    };
    Move {
        id: row.id,
        attempt: row.attempt,
        from,
        report: Some(AttemptReport {
            started_at,
            duration_ms: i32::try_from(timer.elapsed().as_millis()).unwrap_or(i32::MAX),
            response_status,
            response_body,
            external_id: external_id.filter(|_| to.status == Status::Sent),
        }),
        to,
    }
}

/// One attempt to a `#[target]` webhook's target.
async fn to_target<S: Store>(
    inner: &Context<S>,
    row: &Claimed,
    registration: Option<&'static Registration>,
    started: &AtomicBool,
) -> Attempted {
    let Some(registration) = registration else {
        // Nothing can be sent: dead letter at once (retrying in this process cannot help).
        return Attempted::Made(
            AttemptResult::Invalid(format!(
                "webhook type `{}` is not registered in this executor: deploy the code that declares it, then retry this dead letter",
                row.webhook_type
            )),
            Rules::Static(RetryRules::DEFAULT),
        );
    };
    let target = registration.target();
    // The circuit of the target's host first (an open one takes no slot), then the limits.
    let circuit = Key::new(|| host_of(&row.target_url).map(|h| Destination::Host(h).as_stored()));
    let now = inner.clock.now();
    let probing = match inner
        .breakers
        .gate(&inner.store, &circuit, row.id, now, lease_from(inner, now))
        .await
    {
        Ok(probe) => probe,
        Err(held) => {
            return Attempted::Deferred {
                until: held.until,
                reason: held.reason,
            };
        }
    };
    let limits = Limits {
        max_concurrency: target.max_concurrency,
        rate: target.rate_limit,
    };
    let key = || Destination::Target(row.webhook_type.clone());
    let slot = match admission(inner, limits, key, row, probing.then_some(&circuit)).await {
        Ok(slot) => slot,
        Err(wait) => return wait,
    };
    started.store(true, Ordering::SeqCst);
    let result = inner
        .deliverer
        .attempt(row, target, &*inner.env, inner.clock.now())
        .await;
    let ended = inner.clock.now();
    if slot {
        limits::release(&inner.store, row, ended).await;
    }
    inner
        .breakers
        .observe(&inner.store, &circuit, row.id, &result, ended, probing)
        .await;
    if let (
        Some(wanted),
        AttemptResult::Response {
            status: 200..=299,
            external_id: None,
            ..
        },
    ) = (target.external_id, &result)
    {
        tracing::warn!(
            webhook = row.webhook_type,
            execution = %row.id,
            external_id = ?wanted,
            "delivered, but the answer held no provider id where `external_id` says: its status events cannot be mapped by id"
        );
    }
    Attempted::Made(result, Rules::Static(target.retry_rules()))
}

/// One attempt of an event's delivery to a customer's endpoint, from the endpoint's current
/// settings (its URL, secrets and policy as they are now, not as they were at publish).
async fn to_endpoint<S: Store>(
    inner: &Context<S>,
    row: &Claimed,
    endpoint: Uuid,
    started: &AtomicBool,
) -> Attempted {
    let unreachable = |reason: String| {
        Attempted::Made(
            AttemptResult::Unreachable(reason),
            Rules::Static(RetryRules::DEFAULT),
        )
    };
    let endpoint = match inner.service.for_delivery(&inner.store, endpoint).await {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => {
            return Attempted::Made(
                AttemptResult::Invalid(format!(
                    "endpoint {endpoint} was deleted, so this delivery cannot be sent"
                )),
                Rules::Static(RetryRules::DEFAULT),
            );
        }
        Err(error) => {
            return unreachable(format!(
                "could not read endpoint {endpoint}: {}",
                error_chain(&error)
            ));
        }
    };
    let rules = Rules::Endpoint(endpoint.retry_policy());
    match endpoint.status {
        EndpointStatus::Enabled => {}
        EndpointStatus::Paused => {
            return Attempted::Deferred {
                until: inner.clock.now() + PAUSED_RECHECK,
                reason: "the endpoint is paused: delivery waits until it is enabled",
            };
        }
        EndpointStatus::Disabled => {
            let why = endpoint
                .config
                .disabled_reason
                .as_deref()
                .map_or_else(String::new, |r| format!(" ({r})"));
            return Attempted::Made(
                AttemptResult::Invalid(format!(
                    "the endpoint is disabled{why}: enable it, then retry this dead letter"
                )),
                rules,
            );
        }
    }
    let delivery = Delivery {
        execution_id: row.id.0,
        envelope: &row.payload,
        attempt: row.attempt,
        ordering: row.ordering.as_ref().map(|(key, n)| (key.as_str(), *n)),
    };
    // The circuit first (an open one takes no slot), then the limits.
    let circuit = Key::new(|| Some(Destination::Endpoint(endpoint.id.0).as_stored()));
    let now = inner.clock.now();
    let failover;
    let mut probing = false;
    let to: &Endpoint = match inner
        .breakers
        .gate(&inner.store, &circuit, row.id, now, lease_from(inner, now))
        .await
    {
        Ok(probe) => {
            probing = probe;
            &endpoint
        }
        Err(held) => match &endpoint.config.failover_url {
            Some(url) if held.circuit_open => {
                failover = Endpoint {
                    url: url.clone(),
                    ..(*endpoint).clone()
                };
                &failover
            }
            _ => {
                return Attempted::Deferred {
                    until: held.until,
                    reason: held.reason,
                };
            }
        },
    };
    let limits = endpoint.config.limits.limits();
    let key = || Destination::Endpoint(endpoint.id.0);
    let slot = match admission(inner, limits, key, row, probing.then_some(&circuit)).await {
        Ok(slot) => slot,
        Err(wait) => return wait,
    };
    let now = inner.clock.now();
    let result = match endpoint_delivery::prepare(to, delivery, now) {
        Ok(prepared) => {
            started.store(true, Ordering::SeqCst);
            inner.deliverer.send(prepared, now).await
        }
        Err(reason) => AttemptResult::Invalid(reason),
    };
    let ended = inner.clock.now();
    if slot {
        limits::release(&inner.store, row, ended).await;
    }
    // A failover's answers say nothing about the endpoint's own URL.
    if std::ptr::eq(to, &*endpoint) {
        let observed = inner
            .breakers
            .observe(&inner.store, &circuit, row.id, &result, ended, probing)
            .await;
        let status = match &result {
            AttemptResult::Response { status, .. } => Some(*status),
            _ => None,
        };
        let circuit = observed.map(|(c, _)| c);
        if let Some(reason) =
            breaker::disable_reason(status, circuit.as_ref(), ended, &inner.breakers.policy)
        {
            match inner
                .service
                .disable(&inner.store, endpoint.id, &reason, ended)
                .await
            {
                Ok(true) => {
                    tracing::warn!(endpoint = %endpoint.id.0, reason, "endpoint disabled");
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), endpoint = %endpoint.id.0, "disabling the endpoint failed");
                }
            }
        }
    }
    Attempted::Made(result, rules)
}

/// The lease of an attempt that starts at `now`.
fn lease_from<S: Store>(inner: &Context<S>, now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(inner.config.lease).unwrap_or(chrono::Duration::MAX)
}

/// Asks the destination's shared limits whether `row` may start now: `Ok(true)` with a slot to
/// release after the request, `Ok(false)` when the destination has no limits, or the deferral
/// (which gives back the probe of `probe`'s circuit, when `row` held it).
async fn admission<S: Store, F: Fn() -> Option<String> + Sync>(
    inner: &Context<S>,
    limits: Limits,
    key: impl FnOnce() -> Destination,
    row: &Claimed,
    probe: Option<&Key<F>>,
) -> Result<bool, Attempted> {
    let now = inner.clock.now();
    let lease_until = lease_from(inner, now);
    match limits::admit(
        &inner.store,
        &inner.turns,
        limits,
        key,
        row,
        now,
        lease_until,
    )
    .await
    {
        Admitted::Go(slot) => Ok(slot),
        Admitted::Wait { until, reason } => {
            if let Some(circuit) = probe {
                let now = inner.clock.now();
                inner
                    .breakers
                    .give_back(&inner.store, circuit, row.id, now)
                    .await;
            }
            Err(Attempted::Deferred { until, reason })
        }
    }
}

/// The host and port `target` sends to under `env` (its circuit's destination), `None` while a
/// variable of its URL is unset.
pub(crate) fn target_host(
    target: &crate::target::Target,
    env: &(dyn Env + Send + Sync),
) -> Option<String> {
    let branches = target.branches(env);
    host_of(
        &target
            .url
            .select_recorded(&branches, env)
            .resolve(env)
            .ok()?,
    )
}

/// The host and port a `#[target]` row goes to: its circuit's destination.
fn host_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port_or_known_default().unwrap_or(0)
    ))
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}
