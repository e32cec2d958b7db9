//! Transactions (`transactions`, `transaction_messages`): messages grouped under a customer's
//! callback endpoint. The store keeps a transaction's state as the JSON it is given and writes a
//! new one only over the version it was decided from, publishing that decision's callbacks in the
//! same database transaction; it never decides a status, a count or a callback itself.

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{EndpointRow, NewEvent, NewRow, StoreError};
use crate::queue::Status;

/// A transaction as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionRow {
    /// Its id (its messages' correlation id).
    pub id: Uuid,
    /// The endpoint its callbacks go to.
    pub endpoint_id: Uuid,
    /// What Rust decided: status, counts, timings, summary.
    pub state: serde_json::Value,
    /// When it completes even if some messages' fate is still unknown.
    pub deadline: DateTime<Utc>,
    /// When it completed (`None` while open).
    pub completed_at: Option<DateTime<Utc>>,
    /// The fence: each write adds one.
    pub version: i64,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One message's delivery state, as its timeline adds up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageState {
    /// The transaction.
    pub transaction_id: Uuid,
    /// The message (its execution).
    pub execution_id: Uuid,
    /// The state's name (`delivered`, `opened`, ...).
    pub state: String,
    /// Whether the message's fate is known.
    pub is_final: bool,
    /// How many timeline events it was computed from (0: from its outcome): a write from fewer
    /// is stale and dropped.
    pub events: i32,
}

/// What a transaction's messages add up to, read in one go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionCounts {
    /// Its executions by queue status.
    pub by_status: Vec<(Status, u64)>,
    /// Its messages' delivery states: name, whether final, how many.
    pub by_state: Vec<(String, bool, u64)>,
}

/// A callback to publish with a decision: the event, and which delivery it makes for an endpoint.
pub type Callback<'a> = (
    NewEvent,
    &'a (dyn Fn(&EndpointRow) -> Option<NewRow> + Send + Sync),
);

/// Storage of transactions. Every backend passes the same tests.
pub trait TransactionStore {
    /// Stores a new transaction and publishes `callbacks` (its `ACCEPT`) in the same database
    /// transaction.
    fn insert_transaction(
        &self,
        row: &TransactionRow,
        callbacks: Vec<Callback<'_>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One transaction.
    fn transaction(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<TransactionRow>, StoreError>> + Send;

    /// What transaction `id`'s executions (by correlation id) and messages add up to.
    fn transaction_counts(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<TransactionCounts, StoreError>> + Send;

    /// Writes `row` (its `version` one more than `seen`) if the stored version is still `seen`,
    /// and publishes `callbacks` in the same database transaction; `false` (and nothing
    /// written) when another writer got there first: read again and decide again.
    fn advance_transaction(
        &self,
        row: &TransactionRow,
        seen: i64,
        callbacks: Vec<Callback<'_>>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a message's state (unless one computed from more timeline events is stored: its
    /// outcome counts as none) and publishes `callback` in the same database transaction. A callback whose event
    /// id was published already stores nothing, the state included: `false`.
    fn track_message(
        &self,
        state: &MessageState,
        now: DateTime<Utc>,
        callback: Option<Callback<'_>>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Up to `limit` open transactions whose deadline is at or before `now`.
    fn overdue_transactions(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Uuid>, StoreError>> + Send;

    /// Deletes up to `limit` transactions completed before `before`, with their messages'
    /// states and their callback endpoints (a callback still queued for one dead-letters, as
    /// for any deleted endpoint). Open transactions are never pruned.
    fn prune_transactions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
