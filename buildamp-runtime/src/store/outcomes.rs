//! The outcome events concern (`webhook_outcomes`): `WebhookSuccess` / `WebhookFailed`, written by
//! [`super::ExecutionStore::record`] in the statement that makes an execution final, then handed
//! to the app's handlers with a lease, at least once.

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::queue::{ExecutionId, OutcomeKind};

/// An outcome event waiting for the app's handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeRow {
    /// The event's id (its delivery order).
    pub id: i64,
    /// The execution.
    pub execution_id: ExecutionId,
    /// Delivered or dead-lettered.
    pub kind: OutcomeKind,
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

/// Outcome events, leased to the app's handlers.
pub trait OutcomeStore: Send + Sync {
    /// Claims up to `limit` due outcome events (oldest first) until `lease_until`, counting the
    /// delivery; events other claimers hold are skipped.
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

    /// Deletes up to `limit` outcome events nobody took, or offered again, since `before` (an
    /// app with no outcome handler anywhere): an event's `available_at` is when it was written,
    /// or when its last lease ended, so one being handled is never pruned.
    fn prune_outcomes(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The stored `kind`, read back.
pub(super) fn outcome_kind(kind: &str) -> Result<OutcomeKind, StoreError> {
    [OutcomeKind::WebhookSuccess, OutcomeKind::WebhookFailed]
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown outcome kind `{kind}`")))
}
