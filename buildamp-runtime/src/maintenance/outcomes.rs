//! The outcome dispatcher: `WebhookSuccess` when an execution is delivered, `WebhookFailed` when
//! it lands in dead letter. The events are written in the same statement as the outcome itself,
//! by whichever executor delivered it, then handed to the app's handlers at least once (again
//! after a crash or a handler error), so an app can update its records or trigger a fallback
//! webhook.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::dispatch::{Dispatcher, EventHandler, Outbox};
pub use crate::error::HandlerError;
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
pub type Handler = EventHandler<OutcomeEvent>;

/// The outcome events of a store (`webhook_outcomes`), as an [`Outbox`].
pub struct Outcomes<S>(pub(crate) S);

impl<S: OutcomeStore + 'static> Outbox for Outcomes<S> {
    type Event = OutcomeEvent;
    const NAME: &'static str = "outcome dispatcher";

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(i64, OutcomeEvent)>, StoreError> {
        let rows = self.0.claim_outcomes(now, lease_until, limit).await?;
        Ok(rows.into_iter().map(|r| (r.id, r.into())).collect())
    }

    async fn ack(&self, id: i64) -> Result<(), StoreError> {
        self.0.ack_outcome(id).await
    }

    async fn retry(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.retry_outcome(id, at).await
    }

    fn delivery(event: &OutcomeEvent) -> u32 {
        event.delivery
    }

    fn describe(event: &OutcomeEvent) -> String {
        format!("{} of {}", event.webhook_type, event.execution_id)
    }
}

/// Hands outcome events to the app's handlers.
pub type OutcomeDispatcher<S> = Dispatcher<Outcomes<S>>;
