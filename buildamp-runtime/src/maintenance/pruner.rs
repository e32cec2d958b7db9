//! The pruner: what the retention period has passed leaves the database, in batches: delivered
//! executions (with their attempt log and external ids), handled inbound events (kept until then
//! to recognise a provider's repeat), outcome events no handler ever took (an app with no
//! outcome handler anywhere), published events (their deliveries carry their own envelope),
//! protection state nothing reads any more (see `LimitStore::prune_protection`), and
//! transactions completed that long ago, with their callback endpoints, and the per-minute
//! delivery rollup (the hourly one is kept 400 days, for analytics), and alerts resolved that
//! long ago.
//! Dead letters and unhandled events are never pruned.

use std::sync::Arc;
use std::time::Duration;

use super::Service;
use crate::clock::Clock;
use crate::store::{SPANS, Store, StoreError};

/// The pruner's settings.
#[derive(Clone, Copy, Debug)]
pub struct PrunerConfig {
    /// How long delivered rows and handled events are kept (default 7 days).
    pub retention: Duration,
    /// Rows deleted per statement (default 1,000).
    pub batch: usize,
    /// Time between passes (default 60 s).
    pub interval: Duration,
}

impl Default for PrunerConfig {
    fn default() -> Self {
        PrunerConfig {
            retention: Duration::from_secs(7 * 24 * 3600),
            batch: 1000,
            interval: Duration::from_secs(60),
        }
    }
}

/// What one pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Delivered executions.
    pub executions: u64,
    /// Handled inbound events.
    pub inbound_events: u64,
    /// Outcome events no handler took.
    pub outcome_events: u64,
    /// Published events (the webhooks service's).
    pub events: u64,
    /// Protection state nothing reads any more: ended limit slots, old circuit changes, clean
    /// circuits, idle ordering counters.
    pub protection: u64,
    /// Completed transactions, with their callback endpoints.
    pub transactions: u64,
    /// Rollup rows: per minute after the retention period, per hour after
    /// [`HOURLY_STATS_RETENTION`].
    pub stats: u64,
    /// Resolved alerts, with their events.
    pub alerts: u64,
}

/// How long the hourly delivery rollup is kept (what analytics read beyond the retention
/// period): 400 days.
pub const HOURLY_STATS_RETENTION: Duration = Duration::from_secs(400 * 24 * 3600);

/// Deletes what the retention period has passed.
pub struct Pruner<S> {
    store: S,
    clock: Arc<dyn Clock>,
    config: PrunerConfig,
}

impl<S: Store> Pruner<S> {
    pub(crate) fn new(store: S, clock: Arc<dyn Clock>, config: PrunerConfig) -> Self {
        Pruner {
            store,
            clock,
            config,
        }
    }

    /// Deletes everything older than the retention period, in batches.
    ///
    /// # Errors
    /// The store failed; what was deleted stays deleted.
    pub async fn prune(&self) -> Result<Pruned, StoreError> {
        let before = self.clock.now()
            - chrono::Duration::from_std(self.config.retention).unwrap_or(chrono::Duration::MAX);
        let batch = self.config.batch;
        let store = &self.store;
        let retention = self.config.retention.max(HOURLY_STATS_RETENTION);
        let hours_before = self.clock.now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        Ok(Pruned {
            inbound_events: drain(batch, || store.prune_inbound(before, batch)).await?,
            outcome_events: drain(batch, || store.prune_outcomes(before, batch)).await?,
            executions: drain(batch, || store.prune_delivered(before, batch)).await?,
            events: drain(batch, || store.prune_events(before, batch)).await?,
            protection: drain(batch, || store.prune_protection(before, batch)).await?,
            transactions: drain(batch, || store.prune_transactions(before, batch)).await?,
            stats: drain(batch, || store.prune_stats(SPANS[0], before, batch)).await?
                + drain(batch, || store.prune_stats(SPANS[1], hours_before, batch)).await?,
            alerts: drain(batch, || store.prune_alerts(before, batch)).await?,
        })
    }
}

/// Repeats `delete` until a batch comes back short.
async fn drain<F, Fut>(batch: usize, delete: F) -> Result<u64, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let n = delete().await?;
        total += n;
        if n < batch as u64 {
            return Ok(total);
        }
    }
}

impl<S: Store> Service for Pruner<S> {
    const NAME: &'static str = "pruner";

    fn interval(&self) -> Duration {
        self.config.interval
    }

    async fn run_once(&self) -> Result<u64, StoreError> {
        let pruned = self.prune().await?;
        Ok(pruned.executions
            + pruned.inbound_events
            + pruned.outcome_events
            + pruned.events
            + pruned.protection
            + pruned.transactions
            + pruned.stats
            + pruned.alerts)
    }
}
