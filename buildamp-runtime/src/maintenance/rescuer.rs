//! The rescuer: executions still `sending` after their lease expired (their executor crashed or
//! lost its database) are moved on by the queue's state machine: back to `failed` with the
//! target's (or the endpoint's) backoff, or to dead letter when that was the last attempt. Fenced on the attempt, so
//! a late worker and a second rescuer change nothing.

use std::sync::Arc;
use std::time::Duration;

use super::Service;
use crate::clock::{Clock, Jitter};
use crate::outbound::rules::RowRules;
use crate::queue::{self, Event, Progress};
use crate::store::{EndpointStore, ExecutionStore, Move, StoreError};

/// The rescuer's settings.
#[derive(Clone, Copy, Debug)]
pub struct RescuerConfig {
    /// Time between passes (default 30 s).
    pub interval: Duration,
    /// Rows moved per statement (default 1,000).
    pub batch: usize,
}

impl Default for RescuerConfig {
    fn default() -> Self {
        RescuerConfig {
            interval: Duration::from_secs(30),
            batch: 1000,
        }
    }
}

/// Returns executions with expired leases to the queue.
pub struct Rescuer<S> {
    store: S,
    clock: Arc<dyn Clock>,
    jitter: Arc<Jitter>,
    config: RescuerConfig,
}

impl<S: ExecutionStore + EndpointStore> Rescuer<S> {
    pub(crate) fn new(
        store: S,
        clock: Arc<dyn Clock>,
        jitter: Arc<Jitter>,
        config: RescuerConfig,
    ) -> Self {
        Rescuer {
            store,
            clock,
            jitter,
            config,
        }
    }

    /// Moves every execution whose lease expired. Returns how many moved.
    ///
    /// # Errors
    /// The store failed; what moved before stays moved.
    pub async fn rescue(&self) -> Result<u64, StoreError> {
        let mut moved = 0;
        loop {
            let now = self.clock.now();
            let expired = self.store.expired_leases(now, self.config.batch).await?;
            let full = expired.len() == self.config.batch;
            let rules = RowRules::load(&self.store, &expired).await?;
            let moves: Vec<Move> = expired
                .iter()
                .map(|row| {
                    let progress = Progress {
                        attempts: row.attempts,
                        max_attempts: row.max_attempts,
                    };
                    let event = Event::LeaseExpired;
                    Move {
                        id: row.id,
                        attempt: row.attempts,
                        from: event.from_status(),
                        to: queue::decide(
                            progress,
                            event,
                            rules.rules(row),
                            now,
                            self.jitter.sample(),
                        ),
                        report: None,
                    }
                })
                .collect();
            let n = self.store.record(now, &moves).await?;
            moved += n;
            // Stop when the batch was not full, or when nothing in it could move (rows another
            // rescuer moved first), so a pass always ends.
            if !full || n == 0 {
                return Ok(moved);
            }
        }
    }
}

impl<S: ExecutionStore + EndpointStore + 'static> Service for Rescuer<S> {
    const NAME: &'static str = "rescuer";

    fn interval(&self) -> Duration {
        self.config.interval
    }

    async fn run_once(&self) -> Result<u64, StoreError> {
        self.rescue().await
    }
}
