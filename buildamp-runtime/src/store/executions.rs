//! The executions concern: the queue's rows (`webhook_executions`), their attempt log
//! (`webhook_attempts`) and the providers' ids for what they delivered (`message_external_ids`).

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::StoreError;
use crate::queue::{ExecutionId, Status, Transition, Write};

/// A row to insert: a trigger after its target was resolved (no secret in it).
#[derive(Clone, Debug)]
pub struct NewRow {
    /// The execution's id.
    pub id: ExecutionId,
    /// The webhook's name.
    pub webhook_type: &'static str,
    /// The resolved URL (placeholders filled; never credentials).
    pub target_url: String,
    /// The payload.
    pub payload: serde_json::Value,
    /// Headers whose values are literal in the model (an object of strings).
    pub headers: serde_json::Value,
    /// The `if_env!` branches chosen when the trigger was stored (an object of variable name to
    /// truthiness), so the request is built from the same branch as its URL.
    pub branches: serde_json::Value,
    /// `Pending`, or `DeadLetter` when the trigger can never be delivered (with `error_message`).
    pub status: Status,
    /// Why the row is dead on arrival, if it is.
    pub error_message: Option<String>,
    /// Attempts in all.
    pub max_attempts: i32,
    /// When the first attempt is due.
    pub due_at: DateTime<Utc>,
    /// Ties the execution to the app's flow.
    pub correlation_id: Option<Uuid>,
    /// The tenant application (`""` when none).
    pub application: String,
    /// The tenant host (`""` when none).
    pub host: String,
    /// Deduplicates triggers of one webhook per application.
    pub idempotency_key: Option<String>,
    /// The customer endpoint it is delivered to (an event's fan-out), or `None` for a
    /// `#[target]` webhook.
    pub endpoint_id: Option<Uuid>,
    /// The published event it delivers, for an endpoint's row.
    pub event_id: Option<String>,
    /// The event's ordering key, for an ordered endpoint's row: the store numbers it within its
    /// endpoint and key (gap-free, from 1), and it is claimed only after the previous one settled.
    pub ordering_key: Option<String>,
}

impl NewRow {
    /// The execution this row becomes when inserted at `now` (what the store writes for it), so a
    /// caller that just inserted it need not read it back.
    pub fn into_execution(self, now: DateTime<Utc>) -> Execution {
        Execution {
            id: self.id,
            webhook_type: self.webhook_type.to_owned(),
            target_url: self.target_url,
            payload: self.payload,
            headers: self.headers,
            status: self.status,
            response_status: None,
            response_body: None,
            error_message: self.error_message,
            attempts: 0,
            max_attempts: self.max_attempts,
            next_retry_at: self.due_at,
            created_at: now,
            updated_at: now,
            sent_at: None,
            correlation_id: self.correlation_id,
            application: self.application,
            host: self.host,
            idempotency_key: self.idempotency_key,
            endpoint_id: self.endpoint_id,
            event_id: self.event_id,
            // Numbered by the store when inserted: only an ordered endpoint's rows have one.
            ordering_key: self.ordering_key,
            sequence: None,
        }
    }
}

/// The result of inserting one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The execution's id.
    pub id: ExecutionId,
    /// `true` when the idempotency key had been used already for this webhook and application:
    /// `id` is the earlier execution's and nothing new was enqueued.
    pub deduplicated: bool,
}

/// A row an executor claimed: everything needed to build the request, minus secrets.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The execution's id.
    pub id: ExecutionId,
    /// The webhook's name, to find its target in the registry.
    pub webhook_type: String,
    /// The resolved URL.
    pub target_url: String,
    /// The payload.
    pub payload: serde_json::Value,
    /// The stored (literal) headers.
    pub headers: serde_json::Value,
    /// The `if_env!` branches chosen at trigger time.
    pub branches: serde_json::Value,
    /// This attempt's number, from 1; also the fence for recording it.
    pub attempt: i32,
    /// Attempts in all.
    pub max_attempts: i32,
    /// The correlation id.
    pub correlation_id: Option<Uuid>,
    /// When it was triggered.
    pub created_at: DateTime<Utc>,
    /// The customer endpoint it goes to, for an event's delivery.
    pub endpoint_id: Option<Uuid>,
    /// Its ordering key and sequence number, on an ordered endpoint.
    pub ordering: Option<(String, i64)>,
}

/// An execution some decision is about to move (a lease that expired, a dead letter to retry):
/// what [`crate::queue::decide`] reads, and the fence to apply its answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The execution.
    pub id: ExecutionId,
    /// The webhook's name, to find its retry rules.
    pub webhook_type: String,
    /// Attempts counted.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// The customer endpoint, for an event's delivery (its retry rules are the endpoint's).
    pub endpoint_id: Option<Uuid>,
}

/// What an attempt reported, kept with the execution and in its attempt log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptReport {
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i32,
    /// The response status, when there was a response.
    pub response_status: Option<i32>,
    /// The response body, truncated.
    pub response_body: Option<String>,
    /// The provider's id for what was delivered, recorded in `message_external_ids`.
    pub external_id: Option<String>,
}

/// A decided move to apply: the queue's [`Transition`], fenced on the execution's id, attempt
/// number and starting state, so a late or repeated move changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// The execution.
    pub id: ExecutionId,
    /// The attempt number the row must still have.
    pub attempt: i32,
    /// The state the row must still be in.
    pub from: Status,
    /// What the queue decided.
    pub to: Transition,
    /// The attempt's report, when the move follows an attempt (otherwise the response columns
    /// keep their values and no attempt is logged).
    pub report: Option<AttemptReport>,
}

impl Move {
    /// The error the attempt log records for this move.
    pub fn logged_error(&self) -> Option<&str> {
        match &self.to.error {
            Write::Set(error) => error.as_deref(),
            Write::Keep => None,
        }
    }
}

/// Which executions to list, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecutionFilter {
    /// Only this webhook.
    pub webhook_type: Option<String>,
    /// Only in this state.
    pub status: Option<Status>,
    /// Only with this correlation id.
    pub correlation_id: Option<Uuid>,
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<Uuid>,
    /// Only deliveries to customers' endpoints (of any endpoint), no `#[target]` executions.
    pub endpoint_deliveries: bool,
    /// Only created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// At most this many (the store caps it at 500).
    pub limit: usize,
}

impl ExecutionFilter {
    /// The newest `limit` executions (at most 500), of any kind.
    pub fn newest(limit: usize) -> Self {
        ExecutionFilter {
            limit,
            ..Self::default()
        }
    }

    /// Only deliveries to this endpoint.
    pub fn endpoint(mut self, id: Uuid) -> Self {
        self.endpoint_id = Some(id);
        self
    }

    /// Only deliveries to customers' endpoints.
    pub fn endpoint_deliveries(mut self) -> Self {
        self.endpoint_deliveries = true;
        self
    }

    /// Only in this state.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// Only of this webhook (or event) type.
    pub fn webhook_type(mut self, webhook_type: impl Into<String>) -> Self {
        self.webhook_type = Some(webhook_type.into());
        self
    }
}

/// One execution as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Execution {
    /// The execution's id.
    pub id: ExecutionId,
    /// The webhook's name.
    pub webhook_type: String,
    /// The resolved URL.
    pub target_url: String,
    /// The payload.
    pub payload: serde_json::Value,
    /// The stored (literal) headers.
    pub headers: serde_json::Value,
    /// Where it stands.
    pub status: Status,
    /// The last response's status.
    pub response_status: Option<i32>,
    /// The last response's body, truncated.
    pub response_body: Option<String>,
    /// The last error, or why it was dead-lettered.
    pub error_message: Option<String>,
    /// Attempts made (counted at claim).
    pub attempts: i32,
    /// Attempts in all.
    pub max_attempts: i32,
    /// When it is due (pending, failed).
    pub next_retry_at: DateTime<Utc>,
    /// When it was triggered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was delivered.
    pub sent_at: Option<DateTime<Utc>>,
    /// The correlation id.
    pub correlation_id: Option<Uuid>,
    /// The tenant application.
    pub application: String,
    /// The tenant host.
    pub host: String,
    /// The idempotency key.
    pub idempotency_key: Option<String>,
    /// The customer endpoint, for an event's delivery.
    pub endpoint_id: Option<Uuid>,
    /// The event delivered, for an event's delivery.
    pub event_id: Option<String>,
    /// The ordering key, on an ordered endpoint.
    pub ordering_key: Option<String>,
    /// Its number within its endpoint and ordering key, from 1.
    pub sequence: Option<i64>,
}

/// One row of the attempt log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The attempt number, from 1.
    pub attempt: i32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i32,
    /// The response status, if any.
    pub response_status: Option<i32>,
    /// What went wrong, if anything.
    pub error_message: Option<String>,
    /// The response body, truncated.
    pub response_body: Option<String>,
}

/// Which dead letters to retry in bulk. Empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DeadLetterFilter {
    /// Only this webhook.
    pub webhook_type: Option<String>,
    /// Only this application.
    pub application: Option<String>,
    /// Only those triggered at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only those triggered before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Only those whose reason contains this text.
    pub error_contains: Option<String>,
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<Uuid>,
    /// Only deliveries of this published event.
    pub event_id: Option<String>,
}

impl DeadLetterFilter {
    /// Every dead letter.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only dead letters of `webhook_type`.
    pub fn webhook_type(mut self, webhook_type: impl Into<String>) -> Self {
        self.webhook_type = Some(webhook_type.into());
        self
    }

    /// Only dead letters of `application`.
    pub fn application(mut self, application: impl Into<String>) -> Self {
        self.application = Some(application.into());
        self
    }

    /// Only dead letters whose reason contains `text`.
    pub fn error_contains(mut self, text: impl Into<String>) -> Self {
        self.error_contains = Some(text.into());
        self
    }

    /// Only dead letters triggered in `[after, before)`.
    pub fn created_between(mut self, after: DateTime<Utc>, before: DateTime<Utc>) -> Self {
        self.created_after = Some(after);
        self.created_before = Some(before);
        self
    }

    /// Only deliveries to endpoint `id`.
    pub fn endpoint(mut self, id: Uuid) -> Self {
        self.endpoint_id = Some(id);
        self
    }

    /// Only deliveries of the published event `id`.
    pub fn event(mut self, id: impl Into<String>) -> Self {
        self.event_id = Some(id.into());
        self
    }
}

/// The queue's rows. Every backend passes the same per-method conformance tests.
///
/// All times come from the caller's clock, never the database's, so tests drive time by hand.
/// The store decides nothing: the queue's state machine decides every move, and [`Self::record`]
/// writes it.
pub trait ExecutionStore: Send + Sync {
    /// Inserts rows in one statement, skipping those whose idempotency key the same webhook and
    /// application used already. Returns, in input order, each row's id, or the earlier
    /// execution's id for a repeated key.
    fn insert(
        &self,
        now: DateTime<Utc>,
        rows: Vec<NewRow>,
    ) -> impl Future<Output = Result<Vec<Enqueued>, StoreError>> + Send;

    /// Claims up to `limit` due rows (oldest due first) for `executor` until `lease_until`,
    /// counting the attempt, in one statement that skips rows other executors hold.
    fn claim(
        &self,
        executor: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Claimed>, StoreError>> + Send;

    /// Applies decided moves in one statement: each row changes only if it still has the move's
    /// attempt number and starting state. Writes the attempt log and the external id of moves
    /// with a report, and the outcome event of moves that emit one, in the same statement.
    /// Returns how many rows moved.
    fn record(
        &self,
        now: DateTime<Utc>,
        moves: &[Move],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Up to `limit` rows still `sending` whose lease expired before `now`, for the rescuer.
    fn expired_leases(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Candidate>, StoreError>> + Send;

    /// Up to `limit` dead letters matching `filter` with an id after `after`, in id order (so a
    /// bulk retry visits each once).
    fn dead_letters(
        &self,
        filter: &DeadLetterFilter,
        after: Option<ExecutionId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Candidate>, StoreError>> + Send;

    /// When the next claimable row is due, if any.
    fn next_due(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// One execution.
    fn execution(
        &self,
        id: ExecutionId,
    ) -> impl Future<Output = Result<Option<Execution>, StoreError>> + Send;

    /// The executions among `ids` that exist, in no particular order (one statement for many:
    /// the status watcher behind every event stream).
    fn executions_by_id(
        &self,
        ids: &[ExecutionId],
    ) -> impl Future<Output = Result<Vec<Execution>, StoreError>> + Send;

    /// Executions matching `filter`, newest first.
    fn executions(
        &self,
        filter: &ExecutionFilter,
    ) -> impl Future<Output = Result<Vec<Execution>, StoreError>> + Send;

    /// An execution's attempt log, oldest first.
    fn attempts(
        &self,
        id: ExecutionId,
    ) -> impl Future<Output = Result<Vec<Attempt>, StoreError>> + Send;

    /// Deletes up to `limit` rows delivered before `before` (with their attempt log and external
    /// ids).
    fn prune_delivered(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The execution a provider's id belongs to (`message_external_ids`, the database strategy).
    fn find_external_id(
        &self,
        external_id: &str,
    ) -> impl Future<Output = Result<Option<ExecutionId>, StoreError>> + Send;

    /// The execution an id embedded in a provider's metadata names (the embedded strategy): the
    /// execution with that id, or else the newest with that correlation id.
    fn find_embedded_id(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<ExecutionId>, StoreError>> + Send;
}
