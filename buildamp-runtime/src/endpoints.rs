//! Managing customers' endpoints from Rust: `runtime.endpoints()`. The HTTP management routes
//! (`http::manage`) are a thin layer over this handle.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::outbound::breaker::Key;
use crate::outbound::executor::Context;
use crate::outbound::rules::RowRules;
use crate::protect::{CircuitState, Destination};
use crate::queue::{AttemptResult, ExecutionId, Status};
use crate::service::deliver::{Delivery, prepare};
use crate::service::endpoint::{
    Bounds, Endpoint, EndpointId, EndpointSpec, EndpointStatus, InvalidEndpoint, SigningSecret,
    blank, check_secret,
};
use crate::service::event::{
    BUILT_IN_EVENTS, EventId, TEST_EVENT, envelope, event_types, find_event_type,
};
use crate::service::secrets::Secret;
use crate::service::state::ServiceError;
use crate::signing::sign;
use crate::store::{Candidate, HealthRecord, Store};

/// A new endpoint, with its signing secret: the only time the secret is returned without asking.
#[derive(Debug)]
pub struct Created {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its signing secret.
    pub secret: Secret,
}

/// What an endpoint answered to a test event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestSend {
    /// The test event's id.
    pub event_id: String,
    /// The response's status, when there was one.
    pub status: Option<u16>,
    /// The response's body, truncated.
    pub body: Option<String>,
    /// Why there was no (successful) response.
    pub error: Option<String>,
    /// Whether the endpoint answered 2xx.
    pub delivered: bool,
    /// How long it took.
    pub duration_ms: u64,
    /// Whether the answer enabled an endpoint BuildAmp had disabled (a successful test is how
    /// an automatically disabled endpoint comes back).
    pub re_enabled: bool,
}

/// An endpoint's health: its circuit breaker, shared by every executor, and its recent changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointHealth {
    /// `closed` (deliveries go), `open` (they wait for the cool-down) or `half_open` (one probe
    /// is in flight).
    pub state: CircuitState,
    /// Consecutive failures.
    pub failures: u32,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    /// Open: when the cool-down ends; half-open: when the probe's lease ends.
    pub until: Option<DateTime<Utc>>,
    /// When the state last changed (`None`: it never failed).
    pub changed_at: Option<DateTime<Utc>>,
    /// Why BuildAmp disabled it, if it did.
    pub disabled_reason: Option<String>,
    /// The last 20 health changes (its circuit's, and its disabling and re-enabling), newest first.
    pub changes: Vec<HealthRecord>,
}

/// What [`Endpoints::resend`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Resend {
    /// Queued again, due now: the executor sends it as a new attempt of the same delivery (same
    /// delivery id and event id, a fresh budget of attempts, the attempt log goes on).
    Queued,
    /// It is still pending, being sent or waiting for a retry: it goes anyway, nothing was
    /// changed.
    Unsettled {
        /// Its state.
        status: Status,
    },
    /// Its endpoint is disabled (nothing was changed): enable it first.
    EndpointDisabled {
        /// Why, when BuildAmp disabled it.
        reason: Option<String>,
    },
    /// No endpoint delivery has this id, or its endpoint was deleted (a `#[target]` execution is
    /// triggered again instead).
    NotFound,
}

/// How long the old signing secret keeps signing after a rotation, by default.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The endpoints of a runtime's store.
pub struct Endpoints<S: Store> {
    inner: Arc<Context<S>>,
}

impl<S: Store> Clone for Endpoints<S> {
    fn clone(&self) -> Self {
        Endpoints {
            inner: self.inner.clone(),
        }
    }
}

/// `t` to the microsecond, as both stores keep times (the update fence compares them exactly).
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

fn invalid_url(path: &str, message: String) -> ServiceError {
    ServiceError::Invalid(InvalidEndpoint {
        path: path.to_owned(),
        message,
    })
}

/// Whether `name` is a registered event type or one BuildAmp publishes (`None` when the program
/// registers none: then any name is accepted).
fn known_event(name: &str) -> Option<bool> {
    if BUILT_IN_EVENTS.contains(&name) {
        Some(true)
    } else if event_types().is_empty() {
        None
    } else {
        Some(find_event_type(name).is_some())
    }
}

impl<S: Store> Endpoints<S> {
    pub(crate) fn new(inner: Arc<Context<S>>) -> Self {
        Endpoints { inner }
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            max_timeout: self.inner.service.max_timeout,
        }
    }

    /// Refuses a URL whose host is an address the SSRF guard refuses (a name is checked when a
    /// delivery connects, on the address it resolves to).
    fn check_reachable(&self, endpoint: &Endpoint) -> Result<(), ServiceError> {
        let failover = endpoint.config.failover_url.iter();
        for (path, url) in
            std::iter::once(("url", &endpoint.url)).chain(failover.map(|f| ("failover_url", f)))
        {
            let url = url::Url::parse(url).map_err(|e| invalid_url(path, e.to_string()))?;
            self.inner
                .deliverer
                .policy()
                .check_url(&url)
                .map_err(|refused| invalid_url(path, refused.to_string()))?;
        }
        Ok(())
    }

    fn now(&self) -> DateTime<Utc> {
        micros(self.inner.clock.now())
    }

    /// Creates an endpoint. Its signing secret is `spec.secret`, or a fresh one.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the field, a missing secret key, or the store failed.
    pub async fn create(&self, mut spec: EndpointSpec) -> Result<Created, ServiceError> {
        let now = self.now();
        let mut endpoint = blank(EndpointId::new(), now);
        let secret = match spec.secret.take() {
            Some(secret) => {
                check_secret(&secret)?;
                secret
            }
            None => Secret::new(sign::new_secret().map_err(|e| ServiceError::Corrupt {
                id: endpoint.id.0,
                reason: format!("no random source: {e}"),
            })?),
        };
        spec.apply(&mut endpoint, true, &self.bounds(), &known_event)?;
        self.check_reachable(&endpoint)?;
        endpoint.secrets = vec![SigningSecret {
            secret: secret.clone(),
            created_at: now,
            expires_at: None,
        }];
        let row = self.inner.service.seal(&endpoint)?;
        self.inner.store.insert_endpoint(&row).await?;
        Ok(Created { endpoint, secret })
    }

    /// One endpoint.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or it cannot be opened.
    pub async fn get(&self, id: EndpointId) -> Result<Endpoint, ServiceError> {
        self.inner.service.open(&self.row(id).await?)
    }

    /// The stored row of `id`.
    async fn row(&self, id: EndpointId) -> Result<crate::store::EndpointRow, ServiceError> {
        self.inner
            .store
            .endpoint(id.0)
            .await?
            .ok_or(ServiceError::NotFound(id))
    }

    /// Endpoints by id after `after`, of `application` when given, at most `limit` (capped at
    /// 500).
    ///
    /// # Errors
    /// The store failed, or an endpoint cannot be opened.
    pub async fn list(
        &self,
        application: Option<&str>,
        after: Option<EndpointId>,
        limit: usize,
    ) -> Result<Vec<Endpoint>, ServiceError> {
        let rows = self
            .inner
            .store
            .endpoints(application, after.map(|a| a.0), limit.clamp(1, 500))
            .await?;
        rows.iter().map(|r| self.inner.service.open(r)).collect()
    }

    /// Changes the fields `spec` sets.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the field, [`ServiceError::NotFound`], or the store
    /// failed.
    pub async fn update(
        &self,
        id: EndpointId,
        spec: EndpointSpec,
    ) -> Result<Endpoint, ServiceError> {
        let bounds = self.bounds();
        self.modify(id, |e| {
            spec.clone().apply(e, false, &bounds, &known_event)?;
            self.check_reachable(e)
        })
        .await
    }

    /// Enables, pauses or disables an endpoint.
    ///
    /// # Errors
    /// As [`Endpoints::update`].
    pub async fn set_status(
        &self,
        id: EndpointId,
        status: EndpointStatus,
    ) -> Result<Endpoint, ServiceError> {
        self.update(
            id,
            EndpointSpec {
                status: Some(status),
                ..EndpointSpec::default()
            },
        )
        .await
    }

    /// Deletes an endpoint. Deliveries still queued for it dead-letter with the reason.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or the store failed.
    pub async fn delete(&self, id: EndpointId) -> Result<(), ServiceError> {
        if !self.inner.store.delete_endpoint(id.0).await? {
            return Err(ServiceError::NotFound(id));
        }
        self.inner.service.forget(id.0);
        Ok(())
    }

    /// Starts signing with a fresh secret; the current one keeps signing (a second signature on
    /// every delivery) for `grace`, so receivers can switch without a failed delivery. Returns
    /// the new secret.
    ///
    /// # Errors
    /// As [`Endpoints::update`].
    pub async fn rotate_secret(
        &self,
        id: EndpointId,
        grace: Duration,
    ) -> Result<Secret, ServiceError> {
        let fresh = Secret::new(sign::new_secret().map_err(|e| ServiceError::Corrupt {
            id: id.0,
            reason: format!("no random source: {e}"),
        })?);
        let now = self.now();
        let until = now + chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let new = fresh.clone();
        self.modify(id, move |e| {
            e.secrets.retain(|s| s.active(now));
            for old in &mut e.secrets {
                old.expires_at = Some(old.expires_at.map_or(until, |at| at.min(until)));
            }
            e.secrets.insert(
                0,
                SigningSecret {
                    secret: new.clone(),
                    created_at: now,
                    expires_at: None,
                },
            );
            Ok(())
        })
        .await?;
        Ok(fresh)
    }

    /// The signing secrets that sign now, the current one first: for a receiver that lost its
    /// copy. Every reveal is logged (without the secret).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or it cannot be opened.
    pub async fn reveal_secrets(&self, id: EndpointId) -> Result<Vec<SigningSecret>, ServiceError> {
        let now = self.now();
        let endpoint = self.get(id).await?;
        tracing::info!(endpoint = %id, "signing secrets revealed");
        Ok(endpoint
            .secrets
            .into_iter()
            .filter(|s| s.active(now))
            .collect())
    }

    /// Sends a signed `buildamp.test` event to the endpoint now (not through the queue) and
    /// returns what it answered.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or it cannot be opened.
    pub async fn test(&self, id: EndpointId) -> Result<TestSend, ServiceError> {
        let endpoint = self.get(id).await?;
        let now = self.inner.clock.now();
        let event_id = EventId::new();
        let data = serde_json::json!({
            "message": "A test event from BuildAmp: if you can read this, your endpoint works.",
            "endpoint_id": endpoint.id,
        });
        let body = envelope(
            TEST_EVENT,
            &event_id,
            now,
            "1",
            &data,
            &serde_json::Map::new(),
            0,
        );
        let delivery = Delivery {
            execution_id: uuid::Uuid::now_v7(),
            envelope: &body,
            attempt: 1,
            ordering: None,
        };
        let timer = std::time::Instant::now();
        let result = match prepare(&endpoint, delivery, now) {
            Ok(prepared) => self.inner.deliverer.send(prepared, now).await,
            Err(reason) => AttemptResult::Invalid(reason),
        };
        let duration_ms = u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX);
        // An answer is news for the endpoint's circuit (it may close it); a 2xx also enables an
        // endpoint that BuildAmp disabled.
        let circuit = Key::new(|| Some(Destination::Endpoint(id.0).as_stored()));
        self.inner.breakers.refresh(&self.inner.store).await;
        self.inner
            .breakers
            .observe(
                &self.inner.store,
                &circuit,
                ExecutionId::new(),
                &result,
                self.inner.clock.now(),
                false,
            )
            .await;
        let answered_2xx = matches!(
            result,
            AttemptResult::Response {
                status: 200..=299,
                ..
            }
        );
        let re_enabled = answered_2xx
            && endpoint.status == EndpointStatus::Disabled
            && endpoint.config.disabled_reason.is_some()
            && self
                .modify(id, |e| {
                    if e.status == EndpointStatus::Disabled && e.config.disabled_reason.is_some() {
                        e.status = EndpointStatus::Enabled;
                        e.config.disabled_reason = None;
                    }
                    Ok(())
                })
                .await?
                .status
                == EndpointStatus::Enabled;
        Ok(match result {
            AttemptResult::Response { status, body, .. } => TestSend {
                event_id: event_id.0,
                status: Some(status),
                delivered: (200..300).contains(&status),
                error: (!(200..300).contains(&status))
                    .then(|| format!("the endpoint answered HTTP {status}")),
                body: Some(body),
                duration_ms,
                re_enabled,
            },
            AttemptResult::Unreachable(reason) | AttemptResult::Invalid(reason) => TestSend {
                event_id: event_id.0,
                status: None,
                body: None,
                error: Some(reason),
                delivered: false,
                duration_ms,
                re_enabled,
            },
        })
    }

    /// The endpoint's health: its circuit, as every executor shares it, and its recent changes.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or the store failed.
    pub async fn health(&self, id: EndpointId) -> Result<EndpointHealth, ServiceError> {
        let endpoint = self.get(id).await?;
        let key = Destination::Endpoint(id.0).as_stored();
        let circuit = self.inner.store.circuit(&key).await?;
        let changes = self.inner.store.health_changes(&key, 20).await?;
        Ok(EndpointHealth {
            state: circuit.map_or(CircuitState::Closed, |c| c.state),
            failures: circuit.map_or(0, |c| c.failures),
            failing_since: circuit.and_then(|c| c.failing_since),
            until: circuit.and_then(|c| c.until),
            changed_at: circuit.map(|c| c.changed_at),
            disabled_reason: endpoint.config.disabled_reason,
            changes,
        })
    }

    /// Sends one delivery of an event to its endpoint again: a delivered one (the receiver lost
    /// it, or wants it once more) or a dead letter. It goes back to the queue due now with a fresh
    /// budget of the endpoint's attempts, as the same delivery (the same `event_id`, so a
    /// receiver that deduplicates sees a repeat; the attempt numbers go on). On an ordered
    /// endpoint it keeps its number, and later deliveries of its key not yet delivered wait for
    /// it. Two resends at once queue it once.
    ///
    /// # Errors
    /// The store failed.
    pub async fn resend(&self, delivery: ExecutionId) -> Result<Resend, ServiceError> {
        let store = &self.inner.store;
        let Some(row) = store.execution(delivery).await? else {
            return Ok(Resend::NotFound);
        };
        let Some(endpoint_id) = row.endpoint_id else {
            return Ok(Resend::NotFound);
        };
        // Read as stored, not opened: resending needs no secret key (the `buildamp` command).
        let Some(endpoint) = store.endpoint(endpoint_id).await? else {
            return Ok(Resend::NotFound);
        };
        if EndpointStatus::parse(&endpoint.status) == Some(EndpointStatus::Disabled) {
            let reason = endpoint
                .config
                .get("disabled_reason")
                .and_then(|r| r.as_str());
            return Ok(Resend::EndpointDisabled {
                reason: reason.map(str::to_owned),
            });
        }
        let candidate = [Candidate {
            id: row.id,
            webhook_type: row.webhook_type,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            endpoint_id: row.endpoint_id,
        }];
        let now = self.inner.clock.now();
        let rules = RowRules::load(store, &candidate).await?;
        let moves = match row.status {
            Status::Sent => rules.resent(&candidate, now, &self.inner.jitter),
            Status::DeadLetter => rules.retried_by_hand(&candidate, now, &self.inner.jitter),
            status => return Ok(Resend::Unsettled { status }),
        };
        if store.record(now, &moves).await? == 1 {
            return Ok(Resend::Queued);
        }
        // Someone else moved it meanwhile (another resend, or the pruner).
        Ok(match store.execution(delivery).await? {
            Some(moved) => Resend::Unsettled {
                status: moved.status,
            },
            None => Resend::NotFound,
        })
    }

    /// Reads, changes with `change` and writes back, fenced on the version read (a concurrent
    /// change makes it read again).
    async fn modify(
        &self,
        id: EndpointId,
        change: impl Fn(&mut Endpoint) -> Result<(), ServiceError>,
    ) -> Result<Endpoint, ServiceError> {
        self.inner
            .service
            .modify(&self.inner.store, id, self.now(), change)
            .await
    }
}
