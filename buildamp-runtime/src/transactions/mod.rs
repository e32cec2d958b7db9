//! Transactions (seed 000's callback flow): messages an app sends for one request of its
//! customer (a campaign), grouped under the customer's `callback_url`. The customer receives, in
//! order and signed:
//!
//! - `status_change` callbacks: ACCEPT when opened, PROCESSING as the app reports progress,
//!   SCHEDULED when it says every message is in, SENT once every message left the queue, and
//!   COMPLETED (with the [`Summary`]) once every sent message's fate is known or the deadline
//!   passed;
//! - `delivery_event` callbacks: each message sent (or dead-lettered), then every provider event
//!   about it (delivered, bounced, opened, clicked, complained), with the state it adds up to.
//!
//! A transaction is a row with its decided state ([`decide()`]), and an ordered endpoint of its own
//! (application `transaction:<id>`) whose ordering key is the transaction's id: callbacks are
//! numbered from 1 without gaps (`sequence`, `X-Sequence`) and each waits for the one before it.
//! Its messages carry its id as their correlation id. Every move is fenced on the version it was
//! decided from and publishes its callbacks in the same database transaction, so a callback is
//! sent once per move, and a crash between the two loses neither.
//!
//! What feeds it: the runtime's outcome events (built in), the app's reports
//! ([`Transactions::processing`], [`Transactions::scheduled`]), the providers' events
//! ([`Transactions::inbound_handler`], given to [`crate::inbound::receive::Inbound::on_event`]),
//! and the [`Sweeper`] for deadlines.

pub mod decide;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use uuid::Uuid;

pub use decide::{
    CallbackEvent, DELIVERY_EVENT, Decision, Facts, Report, STATUS_CHANGE, Summary, Timings,
    TransactionState, TransactionStatus, decide,
};

use crate::endpoints::{Endpoints, TestSend};
use crate::error::HandlerError;
use crate::maintenance::{OutcomeEvent, Service};
use crate::outbound::executor::Context;
use crate::queue::OutcomeKind;
use crate::service::endpoint::{
    BodyShape, Dur, EndpointAuth, EndpointId, EndpointSpec, Environment, InvalidEndpoint,
    RetrySpec, SigningScheme,
};
use crate::service::publish::{Deliveries, EventToPublish, PublishOptions, plan};
use crate::service::secrets::Secret;
use crate::service::state::ServiceError;
use crate::store::{
    Callback, EndpointRow, MessageState, NewEvent, NewRow, Store, StoreError, TransactionRow,
};
use crate::tracking::InboundEvent;
use crate::tracking::timeline::{self, DeliveryStatus, delivery_state};

/// A transaction's id: a UUIDv7, its messages' correlation id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransactionId(pub Uuid);

impl TransactionId {
    /// A fresh id.
    pub fn new() -> Self {
        TransactionId(Uuid::now_v7())
    }
}

impl Default for TransactionId {
    fn default() -> Self {
        Self::new()
    }
}

/// The correlation id its messages carry: `.correlation_id(transaction.into())`.
impl From<TransactionId> for Uuid {
    fn from(id: TransactionId) -> Uuid {
        id.0
    }
}

impl std::fmt::Display for TransactionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How long a transaction waits for its messages' fate before it completes anyway, by default.
pub const DEFAULT_COMPLETE_WITHIN: Duration = Duration::from_secs(72 * 3600);

/// How callbacks are retried by default: 12 attempts, 1 s doubling up to 5 min (about 25
/// minutes in all), so a receiver that is down for a while still gets every callback, in order.
pub fn default_callback_retry() -> RetrySpec {
    RetrySpec {
        max_attempts: 12,
        initial: Dur(Duration::from_secs(1)),
        multiplier: 2,
        max: Dur(Duration::from_secs(300)),
        schedule: None,
    }
}

/// A transaction to open. Only `callback_url` is required.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TransactionSpec {
    /// Where callbacks go: `https://` (plain `http://` only outside production),
    /// never an address inside the network unless `BUILDAMP_ALLOW_NETWORKS` allows it.
    pub callback_url: String,
    /// Which callbacks the customer wants (default both): `status_change`, `delivery_event`
    /// (`delivery_events` is read as the same).
    #[serde(default)]
    pub callback_events: Option<Vec<CallbackEvent>>,
    /// How BuildAmp authenticates to the callback URL, beside its signature.
    #[serde(default)]
    pub callback_auth: Option<EndpointAuth>,
    /// How callbacks are signed (default Standard Webhooks; `x_signature_sha256` for seed 000's
    /// `X-Signature: sha256=` receivers).
    #[serde(default)]
    pub signing: Option<SigningScheme>,
    /// The signing secret (`whsec_…`; one is generated otherwise and returned once).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// How many messages it will hold, when the app knows.
    #[serde(default)]
    pub message_count: Option<u64>,
    /// The app's own fields, echoed in every status change.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Where the callback URL runs (default production: https only).
    #[serde(default)]
    pub environment: Option<Environment>,
    /// How long until it completes even if some messages' fate is unknown (default 72 h).
    #[serde(default)]
    pub complete_within: Option<Dur>,
    /// How callbacks are retried (default [`default_callback_retry`]).
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    /// Send a signed `buildamp.test` to the callback URL first, and refuse the transaction
    /// unless it answers 2xx.
    #[serde(default)]
    pub test: bool,
}

impl TransactionSpec {
    /// A spec with `callback_url` and every default.
    pub fn new(callback_url: impl Into<String>) -> Self {
        TransactionSpec {
            callback_url: callback_url.into(),
            ..TransactionSpec::default()
        }
    }

    /// Sets the number of messages.
    pub fn message_count(mut self, n: u64) -> Self {
        self.message_count = Some(n);
        self
    }

    /// Sets which callbacks are sent.
    pub fn callback_events(mut self, events: impl IntoIterator<Item = CallbackEvent>) -> Self {
        self.callback_events = Some(events.into_iter().collect());
        self
    }

    /// Sets the signing scheme.
    pub fn signing(mut self, scheme: SigningScheme) -> Self {
        self.signing = Some(scheme);
        self
    }

    /// Sets the callback URL's environment.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// Adds `key: value` to the metadata.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the deadline, from opening.
    pub fn complete_within(mut self, within: Duration) -> Self {
        self.complete_within = Some(Dur(within));
        self
    }

    /// Sets how BuildAmp authenticates to the callback URL.
    pub fn callback_auth(mut self, auth: EndpointAuth) -> Self {
        self.callback_auth = Some(auth);
        self
    }

    /// Sets the signing secret (`whsec_…`) instead of a generated one.
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Sets the callbacks' retry policy.
    pub fn retry(mut self, retry: RetrySpec) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Asks for a test ping before opening.
    pub fn test_ping(mut self) -> Self {
        self.test = true;
        self
    }
}

/// Why a transaction could not be opened, read or moved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// Its callback endpoint: a field is not valid (its path, in the spec's terms), the secret
    /// key is missing, or the store failed.
    #[error(transparent)]
    Callback(#[from] ServiceError),
    /// The store failed.
    #[error("the transaction store failed")]
    Store(#[from] StoreError),
    /// No such transaction.
    #[error("no transaction has id {0}")]
    NotFound(TransactionId),
    /// The callback URL did not answer the test ping with a 2xx.
    #[error("the callback URL did not accept the test ping: {reason}")]
    TestFailed {
        /// What it answered.
        reason: String,
        /// The whole answer.
        answer: Box<TestSend>,
    },
    /// A stored transaction could not be read.
    #[error("transaction {id} is stored in a form this version cannot read: {reason}")]
    Corrupt {
        /// The transaction.
        id: TransactionId,
        /// What is wrong.
        reason: String,
    },
    /// It kept changing under a read-decide-write.
    #[error("transaction {0} changed while it was being updated; try again")]
    Conflict(TransactionId),
}

/// A transaction as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransactionView {
    /// Its id.
    pub id: TransactionId,
    /// The endpoint its callbacks go to (its deliveries, health and resends are the endpoint's).
    pub endpoint_id: EndpointId,
    /// Its state.
    #[serde(flatten)]
    pub state: TransactionState,
    /// Its messages now: `linked`, `queued`, `sent`, `dead_letter`, and the sent ones by state.
    pub counts: Value,
    /// When it completes even if some fates are unknown.
    pub deadline: DateTime<Utc>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last moved.
    pub updated_at: DateTime<Utc>,
}

/// An opened transaction, with its callbacks' signing secret: the only time it is returned.
#[derive(Debug)]
pub struct Opened {
    /// The transaction.
    pub transaction: TransactionView,
    /// The secret its callbacks are signed with.
    pub secret: Secret,
}

/// The transactions of a runtime's store: `runtime.transactions()`.
pub struct Transactions<S: Store> {
    inner: Arc<Context<S>>,
}

impl<S: Store> Clone for Transactions<S> {
    fn clone(&self) -> Self {
        Transactions {
            inner: self.inner.clone(),
        }
    }
}

/// The application a transaction's callback endpoint belongs to: its own, so no other event
/// reaches it.
/// What the application of every transaction's callback endpoint starts with (then its id).
pub const APPLICATION_PREFIX: &str = "transaction:";

fn application(id: TransactionId) -> String {
    format!("{APPLICATION_PREFIX}{id}")
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An event id for a callback: stable for what it tells, so telling it twice publishes it once.
fn callback_id(id: TransactionId, what: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{id}/{what}").as_bytes());
    format!("evt_{}", hex::encode(&digest[..16]))
}

/// The spec's errors name its own fields, not the endpoint's.
fn renamed(error: ServiceError) -> ServiceError {
    match error {
        ServiceError::Invalid(mut invalid) => {
            invalid.path = match invalid.path.as_str() {
                "url" => "callback_url".to_owned(),
                "subscriptions" => "callback_events".to_owned(),
                "auth" => "callback_auth".to_owned(),
                other if other.starts_with("auth.") => format!("callback_{other}"),
                _ => invalid.path,
            };
            ServiceError::Invalid(invalid)
        }
        other => other,
    }
}

/// Decides, for the transaction's endpoint, the delivery row of one callback.
type RouteFn<'a> = Box<dyn Fn(&EndpointRow) -> Option<NewRow> + Send + Sync + 'a>;

/// The callbacks of `events`, each routed by its own route.
fn callbacks<'a>(events: Vec<NewEvent>, routes: &'a [RouteFn<'a>]) -> Vec<Callback<'a>> {
    events
        .into_iter()
        .zip(routes.iter())
        .map(|(event, route)| (event, &**route as _))
        .collect()
}

impl<S: Store> Transactions<S> {
    pub(crate) fn new(inner: Arc<Context<S>>) -> Self {
        Transactions { inner }
    }

    fn now(&self) -> DateTime<Utc> {
        crate::endpoints::micros(self.inner.clock.now())
    }

    /// Plans the publish of callback `data` of `event_type` to transaction `id`'s endpoint.
    fn plan(
        &self,
        id: TransactionId,
        event_type: &'static str,
        event_id: String,
        data: Value,
        now: DateTime<Utc>,
    ) -> (NewEvent, Deliveries) {
        let options = PublishOptions {
            id: Some(crate::service::EventId(event_id)),
            application: Some(application(id)),
            occurred_at: Some(now),
            ordering_key: Some(id.to_string()),
            ..PublishOptions::default()
        };
        let planned = plan(
            EventToPublish {
                event_type,
                version: "1",
                data,
                options,
            },
            now,
        );
        (planned.event, planned.deliveries)
    }

    /// The routes of `deliveries` at `now`.
    fn routes<'a>(&'a self, deliveries: &'a [Deliveries], now: DateTime<Utc>) -> Vec<RouteFn<'a>> {
        deliveries
            .iter()
            .map(|d| {
                Box::new(move |row: &EndpointRow| d.route(&self.inner.service, row, now))
                    as RouteFn<'a>
            })
            .collect()
    }

    /// Opens a transaction: checks the callback URL (scheme, SSRF guard; a test ping when
    /// asked), creates its endpoint and sends ACCEPT. Trigger its messages with
    /// `.correlation_id(opened.transaction.id.into())`.
    ///
    /// # Errors
    /// [`TransactionError::Callback`] naming the field (`callback_url`, `callback_events`),
    /// [`TransactionError::TestFailed`], or the store failed.
    pub async fn open(&self, spec: TransactionSpec) -> Result<Opened, TransactionError> {
        let id = TransactionId::new();
        let within = spec
            .complete_within
            .map_or(DEFAULT_COMPLETE_WITHIN, |d| d.0);
        let retention = self.inner.config.retention;
        if within.is_zero() || within >= retention {
            return Err(ServiceError::Invalid(InvalidEndpoint {
                path: "complete_within".into(),
                message: format!(
                    "between 1s and the retention period ({}h, BUILDAMP_RETENTION_HOURS): delivered messages are pruned after it",
                    retention.as_secs() / 3600
                ),
            })
            .into());
        }
        let events = spec
            .callback_events
            .clone()
            .unwrap_or_else(|| vec![CallbackEvent::StatusChange, CallbackEvent::DeliveryEvent]);
        let endpoints = Endpoints::new(self.inner.clone());
        let created = endpoints
            .create(EndpointSpec {
                url: Some(spec.callback_url.clone()),
                description: Some(format!("callbacks of transaction {id}")),
                application: Some(application(id)),
                environment: spec.environment,
                subscriptions: Some(events.iter().map(|e| e.as_str().to_owned()).collect()),
                retry: Some(spec.retry.clone().unwrap_or_else(default_callback_retry)),
                ordered: Some(true),
                body: Some(BodyShape::Data),
                signing: spec.signing,
                secret: spec.secret.clone(),
                auth: spec.callback_auth.clone(),
                ..EndpointSpec::default()
            })
            .await
            .map_err(renamed)?;
        let endpoint = created.endpoint.id;
        match self.accept(id, endpoint, &spec, events, &endpoints).await {
            Ok(transaction) => Ok(Opened {
                transaction,
                secret: created.secret,
            }),
            Err(error) => {
                // Nothing was accepted: the endpoint goes too.
                let _ = endpoints.delete(endpoint).await;
                Err(error)
            }
        }
    }

    async fn accept(
        &self,
        id: TransactionId,
        endpoint: EndpointId,
        spec: &TransactionSpec,
        callback_events: Vec<CallbackEvent>,
        endpoints: &Endpoints<S>,
    ) -> Result<TransactionView, TransactionError> {
        if spec.test {
            let answer = endpoints.test(endpoint).await?;
            if !answer.delivered {
                return Err(TransactionError::TestFailed {
                    reason: answer.error.clone().unwrap_or_default(),
                    answer: Box::new(answer),
                });
            }
        }
        let now = self.now();
        let state = TransactionState {
            status: TransactionStatus::Accept,
            callback_url: spec.callback_url.clone(),
            callback_events,
            message_count: spec.message_count,
            processed_count: 0,
            progress_reports: 0,
            metadata: spec.metadata.clone(),
            timings: Timings {
                accepted_at: Some(now),
                ..Timings::default()
            },
            summary: None,
        };
        let within = spec
            .complete_within
            .map_or(DEFAULT_COMPLETE_WITHIN, |d| d.0);
        let row = TransactionRow {
            id: id.0,
            endpoint_id: endpoint.0,
            state: serde_json::to_value(&state).expect("a state serializes"),
            deadline: now + chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX),
            completed_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let facts = Facts::default();
        let payload = decide::status_payload(id.0, &state, TransactionStatus::Accept, &facts, now);
        let (event, deliveries) =
            self.plan(id, STATUS_CHANGE, callback_id(id, "accept"), payload, now);
        let deliveries = [deliveries];
        let routes = self.routes(&deliveries, now);
        self.inner
            .store
            .insert_transaction(&row, callbacks(vec![event], &routes))
            .await?;
        Ok(view(id, &row, state, &facts))
    }

    /// The transaction `id`, with its messages' counts now.
    ///
    /// # Errors
    /// [`TransactionError::NotFound`], or the store failed.
    pub async fn get(&self, id: TransactionId) -> Result<TransactionView, TransactionError> {
        let (row, state) = self.read(id).await?;
        let counts = self.inner.store.transaction_counts(id.0).await?;
        Ok(view(id, &row, state, &Facts::of(&counts)))
    }

    async fn read(
        &self,
        id: TransactionId,
    ) -> Result<(TransactionRow, TransactionState), TransactionError> {
        let row = self
            .inner
            .store
            .transaction(id.0)
            .await?
            .ok_or(TransactionError::NotFound(id))?;
        let state =
            serde_json::from_value(row.state.clone()).map_err(|e| TransactionError::Corrupt {
                id,
                reason: e.to_string(),
            })?;
        Ok((row, state))
    }

    /// The app loaded `processed_count` messages (of `message_count`, when it now knows): a
    /// PROCESSING callback, unless it said so already.
    ///
    /// # Errors
    /// As [`Transactions::get`].
    pub async fn processing(
        &self,
        id: TransactionId,
        processed_count: u64,
        message_count: Option<u64>,
    ) -> Result<TransactionView, TransactionError> {
        self.apply(
            id,
            Report::Processing {
                processed_count,
                message_count,
            },
        )
        .await
    }

    /// Every message is triggered (`message_count` of them, when given; else those triggered):
    /// a SCHEDULED callback, and SENT follows once they have all left the queue.
    ///
    /// # Errors
    /// As [`Transactions::get`].
    pub async fn scheduled(
        &self,
        id: TransactionId,
        message_count: Option<u64>,
    ) -> Result<TransactionView, TransactionError> {
        self.apply(id, Report::Scheduled { message_count }).await
    }

    /// Looks at the transaction's messages again and moves it if they say so (SENT, COMPLETED,
    /// the deadline). The runtime does this on its own; calling it is harmless.
    ///
    /// # Errors
    /// As [`Transactions::get`].
    pub async fn refresh(&self, id: TransactionId) -> Result<TransactionView, TransactionError> {
        self.apply(id, Report::Refresh).await
    }

    /// Reads, decides and writes with the decision's callbacks, fenced on the version read.
    async fn apply(
        &self,
        id: TransactionId,
        report: Report,
    ) -> Result<TransactionView, TransactionError> {
        for _ in 0..16 {
            let (row, state) = self.read(id).await?;
            let counts = self.inner.store.transaction_counts(id.0).await?;
            let facts = Facts::of(&counts);
            let now = self.now();
            let Some(decision) = decide(&state, report, &facts, now, row.deadline) else {
                return Ok(view(id, &row, state, &facts));
            };
            let next = TransactionRow {
                state: serde_json::to_value(&decision.state).expect("a state serializes"),
                completed_at: (decision.state.status == TransactionStatus::Completed)
                    .then_some(now),
                version: row.version + 1,
                updated_at: now,
                ..row.clone()
            };
            let wanted = decision
                .state
                .callback_events
                .contains(&CallbackEvent::StatusChange);
            let (events, deliveries): (Vec<_>, Vec<_>) = decision
                .changes
                .iter()
                .filter(|_| wanted)
                .map(|(status, suffix)| {
                    let data = decide::status_payload(id.0, &decision.state, *status, &facts, now);
                    self.plan(id, STATUS_CHANGE, callback_id(id, suffix), data, now)
                })
                .unzip();
            let routes = self.routes(&deliveries, now);
            if self
                .inner
                .store
                .advance_transaction(&next, row.version, callbacks(events, &routes))
                .await?
            {
                for (status, _) in &decision.changes {
                    tracing::info!(transaction = %id, status = status.as_str(), "transaction moved");
                }
                return Ok(view(id, &next, decision.state, &facts));
            }
        }
        Err(TransactionError::Conflict(id))
    }

    /// The transaction execution `id` belongs to, if it belongs to one.
    async fn of_execution(
        &self,
        correlation_id: Option<Uuid>,
    ) -> Result<Option<(TransactionId, TransactionState)>, TransactionError> {
        let Some(id) = correlation_id.map(TransactionId) else {
            return Ok(None);
        };
        match self.read(id).await {
            Ok((_, state)) => Ok(Some((id, state))),
            Err(TransactionError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What an outcome event tells a transaction: a message was sent (or dead-lettered), called
    /// back as a `delivery_event`, and maybe every message has now left the queue. The runtime
    /// calls this for every outcome, before the app's handlers.
    ///
    /// # Errors
    /// The store failed: the outcome comes back later.
    pub async fn on_outcome(&self, event: &OutcomeEvent) -> Result<(), TransactionError> {
        let Some((id, state)) = self.of_execution(event.correlation_id).await? else {
            return Ok(());
        };
        let now = self.now();
        let wanted = state
            .callback_events
            .contains(&CallbackEvent::DeliveryEvent);
        let sent = event.kind == OutcomeKind::WebhookSuccess;
        let status = if sent {
            DeliveryStatus::Sent
        } else {
            DeliveryStatus::Failed
        };
        let data = json!({
            "transaction_id": id,
            "event_type": status.as_str(),
            "message_id": event.execution_id,
            "webhook": event.webhook_type,
            "timestamp": stamp(event.occurred_at),
            "message_status": status.as_str(),
            "detail": event.error,
        });
        let what = format!("{}/{}", event.execution_id, status.as_str());
        let (planned, deliveries) =
            self.plan(id, DELIVERY_EVENT, callback_id(id, &what), data, now);
        let deliveries = [deliveries];
        let routes = self.routes(&deliveries, now);
        let mut callback = callbacks(vec![planned], &routes);
        // Tracked from its outcome alone (no provider event counts yet): a dead letter is final.
        let message = MessageState {
            transaction_id: id.0,
            execution_id: event.execution_id.0,
            state: if sent {
                status.as_str()
            } else {
                decide::DEAD_LETTER
            }
            .to_owned(),
            is_final: !sent,
            events: 0,
        };
        let callback = callback.pop().filter(|_| wanted);
        self.inner
            .store
            .track_message(&message, now, callback)
            .await?;
        if state.status < TransactionStatus::Sent {
            self.refresh(id).await?;
        }
        Ok(())
    }

    /// What a provider's event tells a transaction: the message's state as its whole timeline
    /// adds up to (a late `delivered` after `opened` does not move it back), a `delivery_event`
    /// callback (a provider's repeat of an event is not called back twice), and maybe the
    /// transaction's completion.
    ///
    /// # Errors
    /// The store failed: the event is handed over again later.
    pub async fn on_inbound(&self, event: &InboundEvent) -> Result<(), TransactionError> {
        let store = &self.inner.store;
        let Some(execution) = store.execution(event.execution).await? else {
            return Ok(());
        };
        let Some((id, state)) = self.of_execution(execution.correlation_id).await? else {
            return Ok(());
        };
        let now = self.now();
        let timeline = timeline::read(store, event.execution).await?;
        let reached = delivery_state(&timeline);
        let this = timeline::DeliveryEvent::of(event, now);
        let message = MessageState {
            transaction_id: id.0,
            execution_id: event.execution.0,
            state: reached.unwrap_or(DeliveryStatus::Sent).as_str().to_owned(),
            is_final: reached.is_some_and(DeliveryStatus::is_final),
            events: i32::try_from(timeline.len()).unwrap_or(i32::MAX),
        };
        let data = json!({
            "transaction_id": id,
            "event_type": this.status.as_str(),
            "message_id": event.execution,
            "recipient": this.recipients.first(),
            "timestamp": stamp(this.at),
            "provider": event.provider.as_str(),
            "provider_message_id": event.external_id,
            "message_status": message.state,
            "detail": this.detail,
        });
        let what = format!("{}/{}", event.provider.as_str(), event.event_id);
        let (planned, deliveries) =
            self.plan(id, DELIVERY_EVENT, callback_id(id, &what), data, now);
        let deliveries = [deliveries];
        let routes = self.routes(&deliveries, now);
        let wanted = state
            .callback_events
            .contains(&CallbackEvent::DeliveryEvent);
        let callback = callbacks(vec![planned], &routes).pop().filter(|_| wanted);
        store.track_message(&message, now, callback).await?;
        if state.status == TransactionStatus::Sent {
            self.refresh(id).await?;
        }
        Ok(())
    }

    /// A handler for [`crate::inbound::receive::Inbound::on_event`] that tells transactions
    /// what providers report: `Inbound::new(store, config).on_event(runtime.transactions().inbound_handler())`.
    #[allow(clippy::type_complexity)]
    pub fn inbound_handler(
        &self,
    ) -> impl Fn(InboundEvent) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>
    + Send
    + Sync
    + 'static {
        let this = self.clone();
        move |event| {
            let this = this.clone();
            Box::pin(async move { Ok(this.on_inbound(&event).await?) })
        }
    }

    /// The service that completes transactions whose deadline passed.
    pub fn sweeper(&self) -> Sweeper<S> {
        Sweeper {
            transactions: self.clone(),
            interval: self.inner.config.rescue_interval,
        }
    }
}

/// The view of `row` with `state` and `facts`.
fn view(
    id: TransactionId,
    row: &TransactionRow,
    state: TransactionState,
    facts: &Facts,
) -> TransactionView {
    TransactionView {
        id,
        endpoint_id: EndpointId(row.endpoint_id),
        state,
        counts: json!({
            "linked": facts.linked,
            "queued": facts.queued,
            "sent": facts.sent,
            "dead_letter": facts.dead_letter,
            "states": facts.states.iter().map(|(s, n)| (s.as_str().to_owned(), json!(n))).collect::<Map<_, _>>(),
        }),
        deadline: row.deadline,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Completes transactions whose deadline passed (started by [`crate::Runtime::start`]).
pub struct Sweeper<S: Store> {
    transactions: Transactions<S>,
    interval: Duration,
}

impl<S: Store> Sweeper<S> {
    /// Transactions looked at per pass.
    const BATCH: usize = 100;

    /// Completes up to one batch of overdue transactions. Returns how many it completed.
    ///
    /// # Errors
    /// The store failed.
    pub async fn sweep_once(&self) -> Result<u64, StoreError> {
        let t = &self.transactions;
        let overdue = t
            .inner
            .store
            .overdue_transactions(t.now(), Self::BATCH)
            .await?;
        let mut done = 0;
        for id in overdue {
            match t.refresh(TransactionId(id)).await {
                Ok(_) => done += 1,
                Err(TransactionError::Store(e)) => return Err(e),
                Err(error) => {
                    tracing::warn!(transaction = %id, %error, "an overdue transaction could not be completed");
                }
            }
        }
        Ok(done)
    }
}

impl<S: Store> Service for Sweeper<S> {
    const NAME: &'static str = "transaction sweeper";

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<u64, StoreError> {
        self.sweep_once().await
    }
}
