//! The outcome dispatcher: `WebhookSuccess` when an execution is delivered, `WebhookFailed` when
//! it lands in dead letter. The events are written in the same statement as the outcome itself,
//! by whichever executor delivered it, then handed to the app's handlers at least once (again
//! after a crash or a handler error), so an app can update its records or trigger a fallback
//! webhook.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Service, redelivery_delay};
use crate::clock::Clock;
pub use crate::error::HandlerError;
use crate::error::error_chain;
use crate::queue::{ExecutionId, OutcomeKind};
use crate::store::{OutcomeRow, OutcomeStore, StoreError};

/// An execution's final outcome, as handed to handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeEvent {
    /// Success or failure.
    pub kind: OutcomeKind,
    /// The execution.
    pub execution_id: ExecutionId,
    /// The webhook's name.
    pub webhook_type: String,
    /// The correlation id given at trigger time.
    pub correlation_id: Option<Uuid>,
    /// The last response's status, if there was a response.
    pub response_status: Option<u16>,
    /// The last response's body, truncated.
    pub response_body: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When the outcome happened.
    pub occurred_at: DateTime<Utc>,
    /// 1 the first time handlers see this event, more when it is handed over again.
    pub delivery: u32,
}

impl From<OutcomeRow> for OutcomeEvent {
    fn from(row: OutcomeRow) -> Self {
        OutcomeEvent {
            kind: row.kind,
            execution_id: row.execution_id,
            webhook_type: row.webhook_type,
            correlation_id: row.correlation_id,
            response_status: row.response_status.and_then(|s| u16::try_from(s).ok()),
            response_body: row.response_body,
            error: row.error_message,
            occurred_at: row.created_at,
            delivery: u32::try_from(row.deliveries).unwrap_or(0),
        }
    }
}

/// An outcome handler, as registered with `RuntimeBuilder::on_outcome`.
pub type Handler = Arc<
    dyn Fn(OutcomeEvent) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>
        + Send
        + Sync,
>;

/// Hands outcome events to the app's handlers.
pub struct OutcomeDispatcher<S> {
    store: S,
    clock: Arc<dyn Clock>,
    handlers: Arc<[Handler]>,
    interval: Duration,
}

impl<S: OutcomeStore> OutcomeDispatcher<S> {
    /// How long handlers may hold a batch before it is offered again.
    const LEASE: Duration = Duration::from_secs(60);
    /// Events claimed at once.
    const BATCH: usize = 100;

    pub(crate) fn new(
        store: S,
        clock: Arc<dyn Clock>,
        handlers: Arc<[Handler]>,
        interval: Duration,
    ) -> Self {
        OutcomeDispatcher {
            store,
            clock,
            handlers,
            interval,
        }
    }

    /// Hands one batch of due events to every handler. Returns how many events it took. An
    /// event is removed once every handler took it; if one fails, the event is offered again
    /// later to all of them (handlers must tolerate repeats: that is what at-least-once means).
    ///
    /// # Errors
    /// The store failed; events not acknowledged come back after their lease.
    pub async fn dispatch_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let lease_until = now + chrono::Duration::from_std(Self::LEASE).expect("in range");
        let events = self
            .store
            .claim_outcomes(now, lease_until, Self::BATCH)
            .await?;
        let count = events.len();
        for row in events {
            let id = row.id;
            let event = OutcomeEvent::from(row);
            let mut failure = None;
            for handler in self.handlers.iter() {
                if let Err(error) = handler(event.clone()).await {
                    failure = Some(error);
                    break;
                }
            }
            match failure {
                None => self.store.ack_outcome(id).await?,
                Some(error) => {
                    let delay = redelivery_delay(event.delivery);
                    tracing::warn!(
                        execution = %event.execution_id,
                        webhook = %event.webhook_type,
                        error = %error_chain(&*error),
                        retry_in_secs = delay.as_secs(),
                        "an outcome handler failed; the event will be offered again"
                    );
                    let at =
                        self.clock.now() + chrono::Duration::from_std(delay).expect("in range");
                    self.store.retry_outcome(id, at).await?;
                }
            }
        }
        Ok(count)
    }
}

impl<S: OutcomeStore + 'static> Service for OutcomeDispatcher<S> {
    const NAME: &'static str = "outcome dispatcher";

    fn interval(&self) -> Duration {
        self.interval
    }

    /// Dispatches until no event is due.
    async fn run_once(&self) -> Result<u64, StoreError> {
        super::until_empty(|| self.dispatch_once()).await
    }
}
