//! Handing an outbox's events to the app's handlers, at least once: the loop the outcome
//! dispatcher and the health dispatcher share. An [`Outbox`] is a table whose rows are written in
//! the transaction that makes what they tell, then claimed with a lease, acknowledged once every
//! handler took them, or offered again later when one failed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Service, redelivery_delay};
use crate::clock::Clock;
use crate::error::{HandlerError, error_chain};
use crate::store::StoreError;

/// A handler of `E`, as registered with [`crate::RuntimeBuilder::on_outcome`] or
/// [`crate::RuntimeBuilder::on_health`].
pub type EventHandler<E> =
    Arc<dyn Fn(E) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>> + Send + Sync>;

/// Events waiting for the app's handlers, leased to one dispatcher at a time.
pub trait Outbox: Send + Sync + 'static {
    /// The event handlers receive.
    type Event: Clone + Send + Sync + 'static;

    /// The dispatcher's name, for logs.
    const NAME: &'static str;

    /// Claims up to `limit` due events until `lease_until`, oldest first, with their ids.
    fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(i64, Self::Event)>, StoreError>> + Send;

    /// Every handler took event `id`.
    fn ack(&self, id: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A handler failed: offer event `id` again at `at`.
    fn retry(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many times handlers have been given `event`, this time included.
    fn delivery(event: &Self::Event) -> u32;

    /// What `event` is about, for the log line of a failed handler.
    fn describe(event: &Self::Event) -> String;
}

/// Hands an outbox's events to the app's handlers.
pub struct Dispatcher<O: Outbox> {
    outbox: O,
    clock: Arc<dyn Clock>,
    handlers: Arc<[EventHandler<O::Event>]>,
    interval: Duration,
}

impl<O: Outbox> Dispatcher<O> {
    /// How long handlers may hold a batch before it is offered again.
    const LEASE: Duration = Duration::from_secs(60);
    /// Events claimed at once.
    const BATCH: usize = 100;

    pub(crate) fn new(
        outbox: O,
        clock: Arc<dyn Clock>,
        handlers: Arc<[EventHandler<O::Event>]>,
        interval: Duration,
    ) -> Self {
        Dispatcher {
            outbox,
            clock,
            handlers,
            interval,
        }
    }

    /// Hands one batch of due events to every handler. Returns how many events it took. An
    /// event is acknowledged once every handler took it; if one fails, the event is offered
    /// again later to all of them (handlers must tolerate repeats: that is what at-least-once
    /// means).
    ///
    /// # Errors
    /// The store failed; events not acknowledged come back after their lease.
    pub async fn dispatch_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let lease_until = now + chrono::Duration::from_std(Self::LEASE).expect("in range");
        let events = self.outbox.claim(now, lease_until, Self::BATCH).await?;
        let count = events.len();
        for (id, event) in events {
            let mut failure = None;
            for handler in self.handlers.iter() {
                if let Err(error) = handler(event.clone()).await {
                    failure = Some(error);
                    break;
                }
            }
            match failure {
                None => self.outbox.ack(id).await?,
                Some(error) => {
                    let delay = redelivery_delay(O::delivery(&event));
                    tracing::warn!(
                        dispatcher = O::NAME,
                        event = O::describe(&event),
                        error = %error_chain(&*error),
                        retry_in_secs = delay.as_secs(),
                        "a handler failed; the event will be offered again"
                    );
                    let at =
                        self.clock.now() + chrono::Duration::from_std(delay).expect("in range");
                    self.outbox.retry(id, at).await?;
                }
            }
        }
        Ok(count)
    }
}

impl<O: Outbox> Service for Dispatcher<O> {
    const NAME: &'static str = O::NAME;

    fn interval(&self) -> Duration {
        self.interval
    }

    /// Dispatches until no event is due.
    async fn run_once(&self) -> Result<u64, StoreError> {
        super::until_empty(|| self.dispatch_once()).await
    }
}
