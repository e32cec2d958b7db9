//! Maintenance: the named services that keep the queue moving beside the executor, each written
//! the way River writes its maintenance services (`internal/maintenance/job_rescuer.go`): its own
//! configuration with defaults, one pass as a method ([`Service::run_once`], which tests call
//! directly), and a runner ([`start`]) that repeats it until a graceful stop, signalling each
//! finished pass so tests wait on signals, never on timers.
//!
//! - [`Rescuer`]: executions whose executor stopped (expired lease) go back to the queue, with the
//!   backoff, or to dead letter;
//! - [`Pruner`]: delivered rows, handled inbound events and untaken outcome events leave after
//!   the retention period;
//! - [`OutcomeDispatcher`]: outcome events reach the app's handlers, at least once;
//! - [`HealthDispatcher`]: destinations' health changes (circuits, endpoints disabled and
//!   enabled again) reach the app's health handlers, at least once (both are a [`Dispatcher`]);
//! - [`Replayer`]: replay jobs (every dead letter a filter matches) run to their end, each row
//!   retried once, resumed by any process after a stop.

mod dispatch;
mod health;
mod outcomes;
mod pruner;
mod replayer;
mod rescuer;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::error_chain;
use crate::store::StoreError;

pub use dispatch::{Dispatcher, EventHandler, Outbox};
pub use health::{HealthChanges, HealthDispatcher, HealthEvent, HealthHandler};
pub use outcomes::{Handler, HandlerError, OutcomeDispatcher, OutcomeEvent, Outcomes};
pub use pruner::{HOURLY_STATS_RETENTION, Pruned, Pruner, PrunerConfig};
pub use replayer::{Replayer, ReplayerConfig};
pub use rescuer::{Rescuer, RescuerConfig};

/// How long an event a handler failed on waits before it is handed over again, after its
/// `delivery`-th hand-over: 2, 4, 8, … seconds, capped at 256 s.
pub fn redelivery_delay(delivery: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(delivery.clamp(1, 8)))
}

/// Repeats `batch` until it handles nothing; returns how many it handled in all (a dispatcher's
/// pass: everything due, batch by batch).
pub async fn until_empty<F, Fut>(batch: F) -> Result<u64, StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<usize, StoreError>>,
{
    let mut total = 0;
    loop {
        match batch().await? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// A maintenance service: one pass of work, repeated by [`start`].
pub trait Service: Send + Sync + 'static {
    /// The service's name, for logs.
    const NAME: &'static str;

    /// How long to wait between passes.
    fn interval(&self) -> Duration;

    /// One pass. Returns how many items it handled.
    ///
    /// # Errors
    /// The store failed; the runner logs it and tries again after the interval.
    fn run_once(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// A started service.
pub struct Running {
    name: &'static str,
    stop: CancellationToken,
    task: JoinHandle<()>,
    passes: watch::Receiver<u64>,
}

impl Running {
    /// The number of passes finished so far; it changes after each one (a test waits with
    /// `passes.changed().await`).
    pub fn passes(&self) -> watch::Receiver<u64> {
        self.passes.clone()
    }

    /// The service's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Stops after the pass under way (if any) has finished.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(service = self.name, %error, "a maintenance service panicked");
        }
    }
}

/// Runs `service` now and then every interval, until [`Running::stop`].
pub fn start<T: Service>(service: T) -> Running {
    let stop = CancellationToken::new();
    let (tx, passes) = watch::channel(0u64);
    let token = stop.clone();
    let task = tokio::spawn(async move {
        let mut done = 0u64;
        loop {
            if let Err(error) = service.run_once().await {
                tracing::warn!(service = T::NAME, error = %error_chain(&error), "a maintenance pass failed; will try again");
            }
            done += 1;
            tx.send_replace(done);
            tokio::select! {
                () = tokio::time::sleep(service.interval()) => {}
                () = token.cancelled() => return,
            }
        }
    });
    Running {
        name: T::NAME,
        stop,
        task,
        passes,
    }
}
