//! The queue's storage: the only place that knows SQL. One trait per concern, one file per
//! concern per backend:
//!
//! - [`ExecutionStore`] (`executions.rs`): the queue's rows, their attempt log, providers' ids;
//! - [`OutcomeStore`] (`outcomes.rs`): outcome events for the app's handlers;
//! - [`InboundStore`] (`inbound.rs`): providers' events, recorded before they are acknowledged;
//! - [`EndpointStore`] (`endpoints.rs`): customers' endpoints, and events with their fan-out;
//! - [`LimitStore`] (`limits.rs`): destinations' admitted slots, shared by every executor;
//! - [`CircuitStore`] (`circuits.rs`): destinations' circuit breakers and the log of their health
//!   changes, handed to the app's health handlers;
//! - [`ReplayStore`] (`replays.rs`): replay jobs over dead letters, resumable, each row once;
//! - [`StatsStore`] (`stats.rs`): what the queue holds now, for metrics;
//! - [`AlertStore`] (`alerts.rs`): alert incidents, one open per rule and subject, and the
//!   outbox of the app's alert handlers;
//! - [`TransactionStore`] (`transactions.rs`): transactions' decided state, fenced by version,
//!   with the callbacks each decision publishes, and their messages' delivery states.
//!
//! [`Store`] is all of them plus the schema and the wake-up signal. [`PgStore`] is the Postgres
//! backend (production, many executor processes), [`SqliteStore`] the embedded one (development,
//! one executor process). The store decides nothing: every status, due time, attempt budget and
//! message it writes was decided by [`crate::queue::decide`] (or, for a new row, by the outbound
//! side that prepared it). It imports nothing above it.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Notify;

mod alerts;
mod circuits;
mod endpoints;
mod executions;
mod inbound;
mod limits;
mod outcomes;
mod postgres;
mod replays;
mod sqlite;
mod stats;
mod transactions;

pub use alerts::{AlertEventRow, AlertRow, AlertStore};
pub use circuits::{ChangeCircuit, CircuitStore, HealthEventRow, HealthRecord};
pub use endpoints::{EndpointRow, EndpointStore, NewEvent, Published, Route};
pub use executions::{
    Attempt, AttemptReport, Candidate, Claimed, DeadLetterFilter, Enqueued, Execution,
    ExecutionFilter, ExecutionStore, Move, NewRow,
};
pub use inbound::{InboundRecord, InboundRow, InboundStore};
pub use limits::{Decide, LimitStore, SlotRequest};
pub use outcomes::{OutcomeRow, OutcomeStore};
pub use postgres::PgStore;
pub use replays::{ReplayRow, ReplayStore};
pub use sqlite::SqliteStore;
pub use stats::{
    BUCKETS, LATENCY_BOUNDS_MS, LastSuccess, QueueStats, SPANS, StatsGrouping, StatsRow,
    StatsStore, Tally, ranges, tally,
};
pub use transactions::{
    Callback, MessageState, TransactionCounts, TransactionRow, TransactionStore,
};

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

/// The SQL literal of `statuses` (`'pending', 'failed'`), written into a statement's text rather
/// than bound: only then can the planner use the partial indexes whose predicates name the same
/// states (claims, rescues and pruning depend on them). The states still come from
/// [`crate::queue::Status`], never from a literal of the store's own.
fn status_list(statuses: &[crate::queue::Status]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ordering rule, as a claim's condition on its candidate row `c`: a delivery with an
/// ordering key is claimable only while no earlier delivery of its endpoint and key is unsettled
/// ([`crate::queue::Status::UNSETTLED`]); a row without one is never held back. Both backends
/// claim with this text (and `next_due` looks only at rows it lets through).
fn ordered_head(c: &str) -> String {
    format!(
        "({c}.ordering_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM webhook_executions p
             WHERE p.endpoint_id = {c}.endpoint_id AND p.ordering_key = {c}.ordering_key
               AND p.sequence < {c}.sequence AND p.status IN ({unsettled})))",
        unsettled = status_list(&crate::queue::Status::UNSETTLED)
    )
}

impl From<crate::queue::UnknownStatus> for StoreError {
    fn from(error: crate::queue::UnknownStatus) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

/// A storage backend: every concern, the schema and the wake-up signal. Every backend passes the
/// same per-method conformance tests (`tests/store.rs`) and the end-to-end suite.
pub trait Store:
    ExecutionStore
    + OutcomeStore
    + InboundStore
    + EndpointStore
    + LimitStore
    + CircuitStore
    + ReplayStore
    + TransactionStore
    + StatsStore
    + AlertStore
    + Clone
    + 'static
{
    /// Creates or updates the schema.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

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
