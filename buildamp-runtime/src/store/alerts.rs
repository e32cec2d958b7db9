//! Alerts (`alerts`, `alert_events`): one row per incident, and the outbox of the app's alert
//! handlers. The store writes what the alert rules decided ([`crate::alerts::decide`]); the only
//! thing it enforces is that a key has one open incident at a time, which is what lets several
//! processes evaluate the same rules without alerting twice.

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Callback, StoreError};

/// An incident as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRow {
    /// Its id.
    pub id: Uuid,
    /// The rule and subject it is about (`failure_rate/endpoint:…`): one open incident per key.
    pub key: String,
    /// The rule's name (`failure_rate`, `slow_responses`, ...).
    pub rule: String,
    /// What it is about (`endpoint:<id>`, `webhook:<name>`, `host:<host>`, `queue`).
    pub subject: String,
    /// What it says, in a sentence.
    pub summary: String,
    /// The figures it fired on.
    pub detail: serde_json::Value,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
    /// When it cleared (`None` while open).
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An alert's firing or resolution waiting for the app's handlers.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertEventRow {
    /// Its id (the outbox's order).
    pub id: i64,
    /// `fired` or `resolved`.
    pub change: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The incident, as it is now.
    pub alert: AlertRow,
    /// How many times handlers have been given it, this time included.
    pub deliveries: i32,
}

/// Storage of alerts. Every backend passes the same tests.
pub trait AlertStore {
    /// Every open incident.
    fn open_alerts(&self) -> impl Future<Output = Result<Vec<AlertRow>, StoreError>> + Send;

    /// The `limit` incidents that fired last, newest first.
    fn recent_alerts(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AlertRow>, StoreError>> + Send;

    /// Opens incident `alert` (its `resolved_at` is ignored), logs its firing for the handlers
    /// and publishes `callbacks`, in one database transaction; `false` (nothing written) when
    /// its key has an open incident already.
    fn fire_alert(
        &self,
        alert: &AlertRow,
        callbacks: Vec<Callback<'_>>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Closes open incident `id` at `at`, logs its resolution and publishes `callbacks`, in one
    /// database transaction; `false` (nothing written) when it was closed already.
    fn resolve_alert(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        callbacks: Vec<Callback<'_>>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Claims up to `limit` firings and resolutions no handler has taken yet (oldest first)
    /// until `lease_until`, counting the delivery.
    fn claim_alert_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AlertEventRow>, StoreError>> + Send;

    /// Marks one as taken by every handler.
    fn ack_alert_event(&self, id: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Offers one again at `at` (a handler failed).
    fn retry_alert_event(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes up to `limit` incidents resolved before `before`, with their events.
    fn prune_alerts(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The columns of an [`AlertRow`], in its field order.
pub(super) const ALERT_COLUMNS: &str =
    "id, key, rule, subject, summary, detail, fired_at, resolved_at";
