//! The inbound events concern (`inbound_events`): providers' events about what we sent, recorded
//! durably before they are acknowledged, then handed to the app's handlers with a lease (like
//! outcome events), and kept after handling so a provider's repeat is recognised.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::queue::ExecutionId;

/// An inbound event to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundRecord {
    /// Who sent it: `twilio`, `resend`.
    pub provider: String,
    /// The event's id: a repeat carries the same one.
    pub event_id: String,
    /// What it reported, like `delivered` or `email.bounced`.
    pub kind: String,
    /// The execution it is about.
    pub execution_id: Option<ExecutionId>,
    /// The typed event the handlers get, as JSON.
    pub event: serde_json::Value,
}

/// A recorded inbound event waiting for handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundRow {
    /// Who sent it.
    pub provider: String,
    /// The event's id.
    pub event_id: String,
    /// The typed event, as JSON.
    pub event: serde_json::Value,
    /// How many times handlers have been given it, this time included.
    pub deliveries: i32,
}

/// Inbound events: recorded once, leased to handlers, kept for deduplication.
pub trait InboundStore: Send + Sync {
    /// Records an event, leased to the caller until `lease_until` (it hands the event to the
    /// handlers at once; if it stops first, [`Self::claim_inbound`] hands it over after the
    /// lease). `false` when it was recorded already (a repeat), and then nothing changes.
    fn record_inbound(
        &self,
        event: &InboundRecord,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Claims up to `limit` unhandled events that are due (oldest first) until `lease_until`,
    /// counting the delivery.
    fn claim_inbound(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<InboundRow>, StoreError>> + Send;

    /// Marks an event handled: it is never handed over again, and stays for deduplication until
    /// it is pruned.
    fn handled_inbound(
        &self,
        provider: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Offers an unhandled event again at `at` (a handler failed).
    fn retry_inbound(
        &self,
        provider: &str,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The events recorded about `execution`, oldest first (handled or not), each with when it
    /// was received: the message's delivery timeline.
    fn inbound_of(
        &self,
        execution: ExecutionId,
    ) -> impl Future<Output = Result<Vec<(DateTime<Utc>, serde_json::Value)>, StoreError>> + Send;

    /// Deletes up to `limit` handled events received before `before`. Unhandled events are kept.
    fn prune_inbound(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
