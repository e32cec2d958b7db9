//! Outcome events: `WebhookSuccess` when an execution is delivered, `WebhookFailed` when it lands
//! in dead letter. They are written in the same statement as the outcome itself, then handed to
//! the app's handlers at least once (again after a crash or a handler error), so an app can
//! update its records or trigger a fallback webhook.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::executor::error_chain;
use crate::runtime::Inner;
use crate::store::{OutcomeRow, Store, StoreError};
use crate::trigger::ExecutionId;

/// Which outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Delivered (2xx).
    WebhookSuccess,
    /// Dead-lettered: a permanent failure, or attempts spent.
    WebhookFailed,
}

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
            kind: if row.success {
                OutcomeKind::WebhookSuccess
            } else {
                OutcomeKind::WebhookFailed
            },
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

/// What a handler returns when it could not take an event: the event is offered again later.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) type Handler = Arc<
    dyn Fn(OutcomeEvent) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>
        + Send
        + Sync,
>;

/// How long handlers may hold a batch before it is offered again.
const LEASE: Duration = Duration::from_secs(60);
const BATCH: usize = 100;

/// Hands one batch of due events to every handler. An event is removed once every handler took
/// it; if one fails, the event is offered again later to all of them (handlers must tolerate
/// repeats: that is what at-least-once means).
pub(crate) async fn dispatch_once<S: Store>(inner: &Inner<S>) -> Result<usize, StoreError> {
    let now = inner.clock.now();
    let lease_until = now + chrono::Duration::from_std(LEASE).expect("in range");
    let events = inner.store.claim_outcomes(now, lease_until, BATCH).await?;
    let count = events.len();
    for row in events {
        let id = row.id;
        let event = OutcomeEvent::from(row);
        let mut failure = None;
        for handler in &inner.handlers {
            if let Err(error) = handler(event.clone()).await {
                failure = Some(error);
                break;
            }
        }
        match failure {
            None => inner.store.ack_outcome(id).await?,
            Some(error) => {
                let delay = Duration::from_secs(2u64.saturating_pow(event.delivery.min(8)));
                tracing::warn!(
                    execution = %event.execution_id,
                    webhook = %event.webhook_type,
                    error = %error_chain(&*error),
                    retry_in_secs = delay.as_secs(),
                    "an outcome handler failed; the event will be offered again"
                );
                let at = inner.clock.now() + chrono::Duration::from_std(delay).expect("in range");
                inner.store.retry_outcome(id, at).await?;
            }
        }
    }
    Ok(count)
}
