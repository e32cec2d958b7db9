//! What the queue holds now, for metrics and operators (`StatsStore`): read with the indexes the
//! queue already has, never a scan of delivered rows.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::queue::Status;

/// The queue and its backlogs, now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Executions not delivered, by status and webhook (event type, for endpoints'
    /// deliveries): pending, sending, failed (waiting for a retry) and dead letters.
    pub by_status: Vec<(Status, String, u64)>,
    /// When the longest-waiting claimable execution was due.
    pub oldest_due: Option<DateTime<Utc>>,
    /// Outcome events no handler has taken yet.
    pub outcome_backlog: u64,
    /// Providers' events not handed to the handlers yet.
    pub inbound_backlog: u64,
    /// Circuits that are not closed: key (`endpoint:<id>`, `host:<name>`), state, failures.
    pub circuits: Vec<(String, String, u32)>,
}

/// Reading the queue's state for metrics.
pub trait StatsStore {
    /// The queue now.
    fn queue_stats(&self) -> impl Future<Output = Result<QueueStats, StoreError>> + Send;
}
