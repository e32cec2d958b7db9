//! The queue's storage: the only place that knows SQL. [`Store`] is what the executor and the
//! runtime need from a backend; [`PgStore`] is the Postgres one (production, and many executor
//! processes), [`SqliteStore`] the embedded one (development, one executor process).

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::trigger::{Enqueued, ExecutionId};

mod postgres;
mod sqlite;

pub use postgres::{PgStore, PgTransactionQueue};
pub use sqlite::{SqliteStore, SqliteTransactionQueue};

/// Which backend a database URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://…` or `postgresql://…`: the production store, shared by many executors.
    Postgres(String),
    /// `sqlite://path` or `sqlite::memory:`: the embedded store, for one executor process.
    Sqlite(String),
}

impl DatabaseUrl {
    /// Where development tools (the quickstart, the `buildamp` command) keep their queue when
    /// `DATABASE_URL` is unset. Apps are never given a default: [`crate::Config::from_env`]
    /// requires `DATABASE_URL`.
    pub const DEVELOPMENT_DEFAULT: &'static str = "sqlite://.buildamp/buildamp.db";

    /// Reads which backend `url` names.
    ///
    /// # Errors
    /// The URL names neither backend.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else if url.starts_with("sqlite:") {
            Ok(DatabaseUrl::Sqlite(url.to_owned()))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::Setup(format!(
                "DATABASE_URL has scheme `{scheme}`: use postgres://… (production) or sqlite://path (one process)"
            )))
        }
    }

    /// `DATABASE_URL`, or [`DatabaseUrl::DEVELOPMENT_DEFAULT`] when it is unset; the flag says
    /// which, so a tool can say so once.
    ///
    /// # Errors
    /// `DATABASE_URL` names neither backend.
    pub fn from_env_or_development_default() -> Result<(Self, bool), StoreError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Ok((Self::parse(&url)?, false)),
            _ => Ok((Self::parse(Self::DEVELOPMENT_DEFAULT)?, true)),
        }
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        match self {
            DatabaseUrl::Postgres(url) | DatabaseUrl::Sqlite(url) => url,
        }
    }
}

/// Where an execution stands. Each is a node of the state machine:
///
/// ```text
/// pending ──claim──▶ sending ──2xx──────────────▶ sent
///    ▲                  │ ├──retryable, attempts left──▶ failed ──due──▶ sending …
///    │                  │ └──permanent, or attempts spent─▶ dead_letter
///    │                  └──lease expired (crash)──▶ failed | dead_letter
///    └────────── manual retry ◀──────────────────────────── dead_letter
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its first attempt, due at `next_retry_at`.
    Pending,
    /// Claimed by an executor, which holds a lease on it.
    Sending,
    /// Delivered: the target answered 2xx.
    Sent,
    /// A retryable failure; due again at `next_retry_at`.
    Failed,
    /// Given up, with the reason in `error_message`; retried only by hand.
    DeadLetter,
}

impl Status {
    /// The value stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::DeadLetter => "dead_letter",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => Status::Pending,
            "sending" => Status::Sending,
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            "dead_letter" => Status::DeadLetter,
            other => return Err(StoreError::Corrupt(format!("unknown status `{other}`"))),
        })
    }
}

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
    /// Deduplicates triggers per application.
    pub idempotency_key: Option<String>,
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
    /// This attempt's number, from 1; also the fence for completing it.
    pub attempt: i32,
    /// Attempts in all.
    pub max_attempts: i32,
    /// The correlation id.
    pub correlation_id: Option<Uuid>,
    /// When it was triggered.
    pub created_at: DateTime<Utc>,
}

/// How one attempt ended, as the executor decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Delivered.
    Sent,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// Give up.
    DeadLetter,
}

/// The result of one attempt, to record.
#[derive(Clone, Debug)]
pub struct Completion {
    /// The execution.
    pub id: ExecutionId,
    /// The attempt number it was claimed with: a completion whose row was rescued and claimed
    /// again since is ignored (fenced).
    pub attempt: i32,
    /// What happens next.
    pub resolution: Resolution,
    /// The response status, when there was a response.
    pub response_status: Option<i32>,
    /// The response body, truncated.
    pub response_body: Option<String>,
    /// What went wrong, when something did.
    pub error_message: Option<String>,
    /// The provider's id for what was delivered (`Sent` only), recorded in
    /// `message_external_ids`.
    pub external_id: Option<String>,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i32,
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
    /// At most this many (the store caps it at 500).
    pub limit: usize,
}

/// An inbound event, as recorded for deduplication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundRecord {
    /// Who sent it: `twilio`, `resend`.
    pub provider: String,
    /// The provider's id for this event (a repeat carries the same one).
    pub event_id: String,
    /// What it reported, like `delivered` or `email.bounced`.
    pub kind: String,
    /// The execution it is about.
    pub execution_id: Option<ExecutionId>,
}

/// A claimed row given back at shutdown.
#[derive(Clone, Copy, Debug)]
pub struct Release {
    /// The execution.
    pub id: ExecutionId,
    /// The attempt it was claimed with.
    pub attempt: i32,
    /// Whether its request had started (then the attempt counts, since the target may have seen it).
    pub started: bool,
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
#[derive(Clone, Debug, Default)]
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
}

/// Each webhook type's attempts per round, for dead-letter retries: (type, max attempts).
pub type AttemptBudgets = [(&'static str, i32)];

/// An outcome event waiting for the app's handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeRow {
    /// The event's id (its delivery order).
    pub id: i64,
    /// The execution.
    pub execution_id: ExecutionId,
    /// Delivered (`true`) or dead-lettered (`false`).
    pub success: bool,
    /// The webhook's name.
    pub webhook_type: String,
    /// The correlation id.
    pub correlation_id: Option<Uuid>,
    /// The last response's status.
    pub response_status: Option<i32>,
    /// The last response's body, truncated.
    pub response_body: Option<String>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// When the outcome happened.
    pub created_at: DateTime<Utc>,
    /// How many times handlers have been given it, this time included.
    pub deliveries: i32,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A migration could not be applied.
    #[error("cannot apply the database migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value made no sense.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The store could not be set up: a URL naming no backend, a path that cannot be created.
    #[error("{0}")]
    Setup(String),
}

/// What the runtime needs from a storage backend. Every backend passes the same conformance suite.
///
/// All times come from the caller's clock, never the database's, so tests drive time by hand.
pub trait Store: Clone + Send + Sync + 'static {
    /// Creates or updates the schema.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Inserts rows in one statement, skipping those whose idempotency key exists already.
    /// Returns, in input order, each row's id, or the existing execution's id for a duplicate key.
    fn insert(
        &self,
        now: DateTime<Utc>,
        rows: Vec<NewRow>,
    ) -> impl Future<Output = Result<Vec<Enqueued>, StoreError>> + Send;

    /// Claims up to `limit` due rows for `executor` until `lease_until`, counting the attempt, in
    /// one statement that skips rows other executors hold.
    fn claim(
        &self,
        executor: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Claimed>, StoreError>> + Send;

    /// Records attempt results in one statement, with their attempt log rows and (when
    /// `outcomes`) outcome events. Fenced: only rows still `sending` with the same attempt number
    /// change. Returns how many did.
    fn complete(
        &self,
        now: DateTime<Utc>,
        completions: &[Completion],
        outcomes: bool,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Gives claimed rows back (graceful shutdown): due now, an unstarted attempt uncounted.
    fn release(
        &self,
        now: DateTime<Utc>,
        rows: &[Release],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Returns rows whose lease expired (their executor stopped) to the queue, or to dead letter
    /// when no attempt is left. Returns how many.
    fn rescue(
        &self,
        now: DateTime<Utc>,
        outcomes: bool,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// When the next claimable row is due, if any.
    fn next_due(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// One execution.
    fn execution(
        &self,
        id: ExecutionId,
    ) -> impl Future<Output = Result<Option<Execution>, StoreError>> + Send;

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

    /// Puts one dead letter back in the queue with a fresh set of attempts: `budgets` gives each
    /// webhook type's attempts (3 for a type not listed). `attempts` keeps counting, so attempt
    /// numbers stay unique and the completion fence holds. `false` when it is not (or no longer) a
    /// dead letter, so two concurrent retries deliver it once.
    fn retry_dead_letter(
        &self,
        id: ExecutionId,
        now: DateTime<Utc>,
        budgets: &AttemptBudgets,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Puts every matching dead letter back, in one statement, as [`Store::retry_dead_letter`]
    /// does. Returns how many.
    fn retry_dead_letters(
        &self,
        filter: &DeadLetterFilter,
        now: DateTime<Utc>,
        budgets: &AttemptBudgets,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes up to `limit` rows delivered before `before` (and their attempt log).
    fn prune_delivered(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Claims up to `limit` outcome events for handlers until `lease_until`.
    fn claim_outcomes(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutcomeRow>, StoreError>> + Send;

    /// Removes an outcome event every handler has taken.
    fn ack_outcome(&self, id: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Offers an outcome event again at `at` (a handler failed).
    fn retry_outcome(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

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

    /// Records an inbound event as processed; `false` when it was recorded already (a repeat).
    fn record_inbound(
        &self,
        event: &InboundRecord,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets an inbound event (its processing failed, so the provider's retry is processed).
    fn forget_inbound(
        &self,
        provider: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes up to `limit` inbound event records received before `before`.
    fn prune_inbound(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Signalled when work may have arrived (a hint: executors poll as well).
    fn work_signal(&self) -> Arc<Notify>;

    /// Starts forwarding other processes' inserts to [`Store::work_signal`], if the backend can;
    /// returns the background task.
    fn listen(
        &self,
    ) -> impl Future<Output = Result<Option<tokio::task::JoinHandle<()>>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_names_its_backend_or_says_what_is_accepted() {
        for url in ["postgres://u@h/db", "postgresql://u@h/db"] {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap(),
                DatabaseUrl::Postgres(url.to_owned())
            );
        }
        for url in ["sqlite://.buildamp/buildamp.db", "sqlite::memory:"] {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap(),
                DatabaseUrl::Sqlite(url.to_owned())
            );
        }
        let err = DatabaseUrl::parse("mysql://u@h/db")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "DATABASE_URL has scheme `mysql`: use postgres://… (production) or sqlite://path (one process)"
        );
        assert!(matches!(
            DatabaseUrl::parse(DatabaseUrl::DEVELOPMENT_DEFAULT),
            Ok(DatabaseUrl::Sqlite(_))
        ));
    }
}
