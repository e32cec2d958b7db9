//! Alerts: rules over the delivery figures, the circuits and the queue ([`AlertRules`]: failure
//! rate, slow responses, endpoint down, retries exhausted, backlog), checked by the alert
//! evaluator every [`AlertRules::interval`]. A condition that starts to hold opens one incident
//! (one per rule and subject, however many processes evaluate) and a condition that stops
//! resolves it. Each firing and resolution is written with the incident, in one database
//! transaction:
//!
//! - as an event for the app's alert handlers ([`crate::RuntimeBuilder::on_alert`]), handed over
//!   at least once;
//! - as a published event (`buildamp.alert.fired`, `buildamp.alert.resolved`) to the endpoints
//!   of the [`OPERATORS`] application, e.g. a Slack incoming webhook
//!   ([`operator_endpoint`]): its body is Slack's shape, `{"text": …}`, with the alert beside.

pub mod decide;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Digest;
use uuid::Uuid;

pub use decide::{AlertRules, Backlog, FailureRate, Firing, Observed, Plan, Rule, SlowResponses};

use crate::analytics::Figures;
use crate::maintenance::{Dispatcher, EventHandler, Outbox, Service};
use crate::outbound::executor::Context;
use crate::queue::Status;
use crate::service::EventId;
use crate::service::endpoint::{BodyShape, EndpointSpec};
use crate::service::event::{ALERT_FIRED, ALERT_RESOLVED};
use crate::service::publish::{EventToPublish, PublishOptions, plan};
use crate::store::{
    AlertEventRow, AlertRow, AlertStore, Callback, EndpointRow, StatsGrouping, Store, StoreError,
};

/// The application whose endpoints receive every alert: create an operator's endpoint in it
/// (see [`operator_endpoint`]).
pub const OPERATORS: &str = "buildamp:operators";

/// The spec of an endpoint that receives every alert's firing and resolution at `url`, in order,
/// as Slack's incoming webhooks expect (`{"text": "…", "alert": {…}}`). Create it with
/// `runtime.endpoints().create(spec)`; set its `environment` to `development` for an `http://`
/// URL.
pub fn operator_endpoint(url: impl Into<String>) -> EndpointSpec {
    EndpointSpec {
        url: Some(url.into()),
        description: Some("operators: BuildAmp's alerts".to_owned()),
        application: Some(OPERATORS.to_owned()),
        subscriptions: Some(vec![ALERT_FIRED.to_owned(), ALERT_RESOLVED.to_owned()]),
        body: Some(BodyShape::Data),
        ordered: Some(true),
        ..EndpointSpec::default()
    }
}

/// An incident: a rule's condition about one subject, from when it fired to when it cleared.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Alert {
    /// Its id.
    pub id: Uuid,
    /// The rule.
    pub rule: Rule,
    /// What it is about: `endpoint:<id>`, `webhook:<name>` (a `#[target]` webhook),
    /// `host:<host>` (a target host's circuit) or `queue`.
    pub subject: String,
    /// What it says, in a sentence.
    pub summary: String,
    /// The figures it fired on.
    pub detail: Value,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
    /// When it cleared (`None` while open).
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Alert {
    /// The incident a stored row holds.
    ///
    /// # Errors
    /// The row names an unknown rule.
    pub fn of(row: AlertRow) -> Result<Alert, StoreError> {
        Ok(Alert {
            id: row.id,
            rule: Rule::parse(&row.rule)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown alert rule `{}`", row.rule)))?,
            subject: row.subject,
            summary: row.summary,
            detail: row.detail,
            fired_at: row.fired_at,
            resolved_at: row.resolved_at,
        })
    }
}

/// What happened to an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertChange {
    /// It fired.
    Fired,
    /// It cleared.
    Resolved,
}

impl AlertChange {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertChange::Fired => "fired",
            AlertChange::Resolved => "resolved",
        }
    }

    fn event_type(self) -> &'static str {
        match self {
            AlertChange::Fired => ALERT_FIRED,
            AlertChange::Resolved => ALERT_RESOLVED,
        }
    }
}

/// A firing or resolution, as handed to alert handlers.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AlertEvent {
    /// The event's id: the same each time it is handed over (handlers deduplicate on it).
    pub id: i64,
    /// Fired, or resolved.
    pub change: AlertChange,
    /// The incident.
    pub alert: Alert,
    /// 1 the first time handlers see this event, more when it is handed over again.
    pub delivery: u32,
}

impl AlertEvent {
    fn of(row: AlertEventRow) -> Result<Self, StoreError> {
        let change = match row.change.as_str() {
            "fired" => AlertChange::Fired,
            "resolved" => AlertChange::Resolved,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown alert change `{other}`"
                )));
            }
        };
        Ok(AlertEvent {
            id: row.id,
            change,
            alert: Alert::of(row.alert)?,
            delivery: u32::try_from(row.deliveries).unwrap_or(0),
        })
    }
}

/// An alert handler, as registered with `RuntimeBuilder::on_alert`.
pub type AlertHandler = EventHandler<AlertEvent>;

/// The alert events of a store, as an [`Outbox`].
pub struct AlertEvents<S>(pub(crate) S);

impl<S: AlertStore + Send + Sync + 'static> Outbox for AlertEvents<S> {
    type Event = AlertEvent;
    const NAME: &'static str = "alert dispatcher";

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(i64, AlertEvent)>, StoreError> {
        let rows = self.0.claim_alert_events(now, lease_until, limit).await?;
        rows.into_iter()
            .map(|r| Ok((r.id, AlertEvent::of(r)?)))
            .collect()
    }

    async fn ack(&self, id: i64) -> Result<(), StoreError> {
        self.0.ack_alert_event(id).await
    }

    async fn retry(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.retry_alert_event(id, at).await
    }

    fn delivery(event: &AlertEvent) -> u32 {
        event.delivery
    }

    fn describe(event: &AlertEvent) -> String {
        format!(
            "{}/{} {}",
            event.alert.rule.as_str(),
            event.alert.subject,
            event.change.as_str()
        )
    }
}

/// Hands alerts' firings and resolutions to the app's alert handlers.
pub type AlertDispatcher<S> = Dispatcher<AlertEvents<S>>;

/// What one evaluation changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// Incidents it opened.
    pub fired: Vec<Alert>,
    /// Incidents it resolved.
    pub resolved: Vec<Alert>,
}

/// The alerts of a runtime: `runtime.alerts()`.
pub struct Alerts<S: Store> {
    inner: Arc<Context<S>>,
    rules: Arc<AlertRules>,
}

impl<S: Store> Clone for Alerts<S> {
    fn clone(&self) -> Self {
        Alerts {
            inner: self.inner.clone(),
            rules: self.rules.clone(),
        }
    }
}

/// The event id of an incident's `change`: the same however often it is decided.
fn event_id(alert: Uuid, change: AlertChange) -> String {
    let digest = sha2::Sha256::digest(format!("alert/{alert}/{}", change.as_str()).as_bytes());
    format!("evt_{}", hex::encode(&digest[..16]))
}

/// The text an operator's chat shows.
fn text(alert: &Alert, change: AlertChange) -> String {
    match change {
        AlertChange::Fired => format!("[BuildAmp] {}", alert.summary),
        AlertChange::Resolved => format!(
            "[BuildAmp] Resolved after {}: {}",
            humanize(
                alert
                    .resolved_at
                    .unwrap_or(alert.fired_at)
                    .signed_duration_since(alert.fired_at)
            ),
            alert.summary
        ),
    }
}

fn humanize(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

impl<S: Store> Alerts<S> {
    pub(crate) fn new(inner: Arc<Context<S>>, rules: Arc<AlertRules>) -> Self {
        Alerts { inner, rules }
    }

    /// The rules in force.
    pub fn rules(&self) -> &AlertRules {
        &self.rules
    }

    /// Every open incident, oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn open(&self) -> Result<Vec<Alert>, StoreError> {
        let rows = self.inner.store.open_alerts().await?;
        rows.into_iter().map(Alert::of).collect()
    }

    /// The `limit` incidents that fired last, open or resolved, newest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn recent(&self, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let rows = self.inner.store.recent_alerts(limit).await?;
        rows.into_iter().map(Alert::of).collect()
    }

    /// Reads what the rules look at, now by the runtime's clock.
    ///
    /// # Errors
    /// The store failed.
    pub async fn observe(&self) -> Result<Observed, StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let mut observed = Observed::default();
        // Whole minutes (the rollup's), the current one included.
        let until =
            DateTime::from_timestamp(now.timestamp().div_euclid(60) * 60 + 60, 0).unwrap_or(now);
        for window in self.rules.windows() {
            let since = until - chrono::Duration::from_std(window).unwrap_or_default();
            // Endpoints by id; `#[target]` webhooks (no endpoint) by name.
            let group = |webhook, endpoint| StatsGrouping {
                period_secs: None,
                webhook,
                endpoint,
            };
            let mut subjects = Vec::new();
            for row in store
                .delivery_stats(since, until, group(false, true))
                .await?
            {
                if let Some(id) = row.endpoint.as_ref().filter(|e| !e.is_empty()) {
                    subjects.push((format!("endpoint:{id}"), Figures::of(&row)));
                }
            }
            for row in store
                .delivery_stats(since, until, group(true, true))
                .await?
            {
                if row.endpoint.as_ref().is_some_and(|e| e.is_empty())
                    && let Some(name) = &row.webhook_type
                {
                    subjects.push((format!("webhook:{name}"), Figures::of(&row)));
                }
            }
            observed.windows.insert(window, subjects);
        }
        let queue = store.queue_stats().await?;
        observed.waiting = queue
            .by_status
            .iter()
            .filter(|(s, _, _)| *s != Status::DeadLetter)
            .map(|(_, _, n)| n)
            .sum();
        observed.oldest_due_age = queue
            .oldest_due
            .map(|due| now.signed_duration_since(due).to_std().unwrap_or_default());
        observed.circuits = queue.circuits;
        Ok(observed)
    }

    /// Checks the rules once: fires the conditions that started to hold, resolves the incidents
    /// whose condition stopped (the alert evaluator's pass; tests call it under a manual clock).
    ///
    /// # Errors
    /// The store failed; what was written before stays written, and the next pass goes on.
    pub async fn evaluate(&self) -> Result<Evaluation, StoreError> {
        let observed = self.observe().await?;
        let holding = decide::evaluate(&self.rules, &observed);
        let open = self.inner.store.open_alerts().await?;
        let plan = decide::decide(&open, holding);
        let now = crate::endpoints::micros(self.inner.clock.now());
        let mut done = Evaluation::default();
        for firing in plan.fire {
            let row = AlertRow {
                id: Uuid::now_v7(),
                key: firing.key(),
                rule: firing.rule.as_str().to_owned(),
                subject: firing.subject,
                summary: firing.summary,
                detail: firing.detail,
                fired_at: now,
                resolved_at: None,
            };
            let alert = Alert::of(row.clone())?;
            if self.write(&row, &alert, AlertChange::Fired, now).await? {
                done.fired.push(alert);
            }
        }
        for row in plan.resolve {
            let mut alert = Alert::of(row.clone())?;
            alert.resolved_at = Some(now);
            if self.write(&row, &alert, AlertChange::Resolved, now).await? {
                done.resolved.push(alert);
            }
        }
        for alert in &done.fired {
            tracing::warn!(rule = alert.rule.as_str(), subject = %alert.subject, "alert: {}", alert.summary);
        }
        for alert in &done.resolved {
            tracing::info!(rule = alert.rule.as_str(), subject = %alert.subject, "alert resolved: {}", alert.summary);
        }
        Ok(done)
    }

    /// Writes `change` of incident `row` (`alert`, as it is after the change) with the
    /// operators' event, in one database transaction; `false` when another evaluator wrote it
    /// first.
    async fn write(
        &self,
        row: &AlertRow,
        alert: &Alert,
        change: AlertChange,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let data = json!({
            "text": text(alert, change),
            "change": change,
            "alert": alert,
            "at": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        let planned = plan(
            EventToPublish {
                event_type: change.event_type(),
                version: "1",
                data,
                options: PublishOptions {
                    id: Some(EventId(event_id(alert.id, change))),
                    application: Some(OPERATORS.to_owned()),
                    occurred_at: Some(now),
                    ordering_key: Some("alerts".to_owned()),
                    ..PublishOptions::default()
                },
            },
            now,
        );
        let deliveries = planned.deliveries;
        let route = |endpoint: &EndpointRow| deliveries.route(&self.inner.service, endpoint, now);
        let callbacks: Vec<Callback<'_>> = vec![(planned.event, &route)];
        let store = &self.inner.store;
        match change {
            AlertChange::Fired => store.fire_alert(row, callbacks).await,
            AlertChange::Resolved => store.resolve_alert(row.id, now, callbacks).await,
        }
    }

    /// The evaluator, as a maintenance service (started by `runtime.start()`).
    pub fn evaluator(&self) -> AlertEvaluator<S> {
        AlertEvaluator(self.clone())
    }
}

/// Checks the alert rules every [`AlertRules::interval`].
pub struct AlertEvaluator<S: Store>(Alerts<S>);

impl<S: Store> Service for AlertEvaluator<S> {
    const NAME: &'static str = "alert evaluator";

    fn interval(&self) -> Duration {
        self.0.rules.interval
    }

    async fn run_once(&self) -> Result<u64, StoreError> {
        let done = self.0.evaluate().await?;
        Ok((done.fired.len() + done.resolved.len()) as u64)
    }
}
