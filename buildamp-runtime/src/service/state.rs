//! What one process keeps for the service: the secret keys, and caches of endpoints read from the
//! store (their routing, compiled once per version; their opened secrets, for deliveries).
//!
//! The caches never decide anything the store would contradict for long: a route is recompiled
//! when the row's `updated_at` changes (every publish reads the rows in its own transaction), and
//! an opened endpoint is read again after [`ServiceState::REFRESH`] (another process's changes
//! reach this executor's deliveries within that time; this process's own changes at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::endpoint::{Endpoint, EndpointConfig, EndpointId, EndpointStatus, Environment, Sealed};
use super::filter::{CompiledFilter, subscribed};
use super::secrets::{SecretError, SecretKeys};
use crate::protect::{Destination, HealthChange};
use crate::store::{EndpointRow, EndpointStore, HealthRecord, StoreError};

/// Why a service operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The store failed.
    #[error("the endpoint store failed")]
    Store(#[from] StoreError),
    /// Secrets could not be sealed or opened.
    #[error(transparent)]
    Secrets(#[from] SecretError),
    /// A field is not valid.
    #[error(transparent)]
    Invalid(#[from] super::endpoint::InvalidEndpoint),
    /// No such endpoint.
    #[error("no endpoint has id {0}")]
    NotFound(EndpointId),
    /// A stored endpoint could not be read.
    #[error("endpoint {id} is stored in a form this version cannot read: {reason}")]
    Corrupt {
        /// The endpoint.
        id: Uuid,
        /// What is wrong.
        reason: String,
    },
    /// The endpoint kept changing under a read-modify-write.
    #[error("endpoint {0} changed while it was being updated; try again")]
    Conflict(EndpointId),
}

/// How an endpoint takes events: what publishing reads, compiled once per version of the row.
#[derive(Debug)]
pub struct Routing {
    status: EndpointStatus,
    subscriptions: Vec<String>,
    filter: CompiledFilter,
    pub(crate) max_attempts: i32,
    pub(crate) url: String,
    /// Whether it receives each ordering key's events one at a time.
    pub(crate) ordered: bool,
}

impl Routing {
    /// Whether an event of `event_type` with this `envelope` goes to the endpoint: it is not
    /// disabled, it subscribes to the type, and its filter accepts the envelope. The one rule
    /// of fan-out, for every backend.
    pub fn receives(&self, event_type: &str, envelope: &serde_json::Value) -> bool {
        self.status != EndpointStatus::Disabled
            && self.subscriptions.iter().any(|p| subscribed(p, event_type))
            && self.filter.accepts(envelope)
    }
}

/// The service's state in one process.
pub(crate) struct ServiceState {
    keys: Option<SecretKeys>,
    /// The longest timeout an endpoint may have (below the executor's lease).
    pub(crate) max_timeout: Duration,
    /// Each endpoint's routing, with the `updated_at` it was compiled from.
    routes: Mutex<HashMap<Uuid, Versioned<Arc<Routing>>>>,
    /// Each endpoint opened for deliveries, with when it was read (`None`: it was deleted).
    opened: Mutex<HashMap<Uuid, Opened>>,
    /// One refresh at a time per endpoint: the deliveries that find it stale together wait for
    /// the one read instead of each reading the store.
    refreshing: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

/// An endpoint as read for deliveries, and when (`None`: it was deleted).
type Opened = (tokio::time::Instant, Option<Arc<Endpoint>>);

/// A value with the version of the row it came from.
type Versioned<T> = (DateTime<Utc>, T);

impl ServiceState {
    /// How long an opened endpoint is used before it is read again.
    pub(crate) const REFRESH: Duration = Duration::from_secs(1);

    pub(crate) fn new(keys: Option<SecretKeys>, max_timeout: Duration) -> Self {
        ServiceState {
            keys,
            max_timeout,
            routes: Mutex::default(),
            opened: Mutex::default(),
            refreshing: Mutex::default(),
        }
    }

    pub(crate) fn keys(&self) -> Result<&SecretKeys, SecretError> {
        self.keys.as_ref().ok_or(SecretError::MissingKey)
    }

    /// The routing of `row`, compiled at most once per version; `None` (with a warning) for a
    /// row this version cannot read, which then receives nothing.
    pub(crate) fn routing(&self, row: &EndpointRow) -> Option<Arc<Routing>> {
        if let Some((version, routing)) = self.routes.lock().expect("routes lock").get(&row.id)
            && *version == row.updated_at
        {
            return Some(routing.clone());
        }
        let compiled = compile(row);
        match compiled {
            Ok(routing) => {
                let routing = Arc::new(routing);
                self.routes
                    .lock()
                    .expect("routes lock")
                    .insert(row.id, (row.updated_at, routing.clone()));
                Some(routing)
            }
            Err(reason) => {
                tracing::warn!(endpoint = %row.id, %reason, "endpoint cannot be read; it receives no events");
                None
            }
        }
    }

    /// Opens a stored endpoint: settings parsed, secrets unsealed.
    pub(crate) fn open(&self, row: &EndpointRow) -> Result<Endpoint, ServiceError> {
        let corrupt = |reason: String| ServiceError::Corrupt { id: row.id, reason };
        let config: EndpointConfig =
            serde_json::from_value(row.config.clone()).map_err(|e| corrupt(e.to_string()))?;
        let plain = self.keys()?.open(&row.id.to_string(), &row.secrets)?;
        let sealed: Sealed = serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))?;
        Ok(Endpoint {
            id: EndpointId(row.id),
            application: row.application.clone(),
            url: row.url.clone(),
            description: row.description.clone(),
            status: EndpointStatus::parse(&row.status)
                .ok_or_else(|| corrupt(format!("status `{}`", row.status)))?,
            environment: Environment::parse(&row.environment)
                .ok_or_else(|| corrupt(format!("environment `{}`", row.environment)))?,
            config,
            auth: sealed.auth,
            secrets: sealed.signing,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// The row that stores `e`, its secrets sealed with the current key.
    pub(crate) fn seal(&self, e: &Endpoint) -> Result<EndpointRow, ServiceError> {
        let sealed = Sealed {
            signing: e.secrets.clone(),
            auth: e.auth.clone(),
        };
        let plain = serde_json::to_vec(&sealed).expect("secrets serialize");
        Ok(EndpointRow {
            id: e.id.0,
            application: e.application.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            status: e.status.as_str().to_owned(),
            environment: e.environment.as_str().to_owned(),
            config: serde_json::to_value(&e.config).expect("settings serialize"),
            secrets: self.keys()?.seal(&e.id.0.to_string(), &plain),
            created_at: e.created_at,
            updated_at: e.updated_at,
        })
    }

    /// The endpoint a delivery goes to, opened: from the cache while it is fresh, else from the
    /// store. `None` when it was deleted.
    pub(crate) async fn for_delivery<S: EndpointStore>(
        &self,
        store: &S,
        id: Uuid,
    ) -> Result<Option<Arc<Endpoint>>, ServiceError> {
        if let Some(fresh) = self.fresh(id) {
            return Ok(fresh);
        }
        let lock = self
            .refreshing
            .lock()
            .expect("refreshing lock")
            .entry(id)
            .or_default()
            .clone();
        let _refreshing = lock.lock().await;
        if let Some(fresh) = self.fresh(id) {
            return Ok(fresh); // another delivery read it meanwhile
        }
        let now = tokio::time::Instant::now();
        let endpoint = match store.endpoint(id).await? {
            Some(row) => Some(Arc::new(self.open(&row)?)),
            None => None,
        };
        self.opened
            .lock()
            .expect("opened lock")
            .insert(id, (now, endpoint.clone()));
        Ok(endpoint)
    }

    /// The cached endpoint `id` while it is fresh.
    fn fresh(&self, id: Uuid) -> Option<Option<Arc<Endpoint>>> {
        let opened = self.opened.lock().expect("opened lock");
        let (read_at, endpoint) = opened.get(&id)?;
        (read_at.elapsed() < Self::REFRESH).then(|| endpoint.clone())
    }

    /// Reads endpoint `id`, changes it with `change` and writes it back at `now`, fenced on the
    /// version read (a concurrent change makes it read again, up to five times). A change that
    /// disables or re-enables it is logged with it, for the app's health handlers.
    pub(crate) async fn modify<S: EndpointStore>(
        &self,
        store: &S,
        id: EndpointId,
        now: DateTime<Utc>,
        change: impl Fn(&mut Endpoint) -> Result<(), ServiceError>,
    ) -> Result<Endpoint, ServiceError> {
        for _ in 0..5 {
            let row = store
                .endpoint(id.0)
                .await?
                .ok_or(ServiceError::NotFound(id))?;
            let seen = row.updated_at;
            let before = self.open(&row)?;
            let mut endpoint = before.clone();
            change(&mut endpoint)?;
            // Always a new version, even under a manual clock that has not moved.
            endpoint.updated_at = now.max(seen + chrono::Duration::microseconds(1));
            let row = self.seal(&endpoint)?;
            let log = health_change(&before, &endpoint, now);
            let key = Destination::Endpoint(id.0).as_stored();
            let log = log.as_ref().map(|record| (key.as_str(), record));
            if store.replace_endpoint(&row, seen, log).await? {
                self.forget(id.0);
                return Ok(endpoint);
            }
        }
        Err(ServiceError::Conflict(id))
    }

    /// Disables an enabled endpoint, saying why (the executor, when it answered 410 Gone or
    /// failed for too long). `false` when it was not enabled any more.
    pub(crate) async fn disable<S: EndpointStore>(
        &self,
        store: &S,
        id: EndpointId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let disabled = std::sync::atomic::AtomicBool::new(false);
        self.modify(store, id, now, |e| {
            let enabled = e.status == EndpointStatus::Enabled;
            if enabled {
                e.status = EndpointStatus::Disabled;
                e.config.disabled_reason = Some(reason.to_owned());
            }
            disabled.store(enabled, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .await?;
        Ok(disabled.into_inner())
    }

    /// Drops what this process cached of `id`, after it changed it.
    pub(crate) fn forget(&self, id: Uuid) {
        self.opened.lock().expect("opened lock").remove(&id);
        self.routes.lock().expect("routes lock").remove(&id);
    }
}

/// The health change an endpoint's new version makes, to log with it: disabled (with BuildAmp's
/// reason, or by hand), or enabled again after it was disabled. Pausing is not a health change.
fn health_change(before: &Endpoint, after: &Endpoint, now: DateTime<Utc>) -> Option<HealthRecord> {
    use EndpointStatus::{Disabled, Enabled};
    let (change, reason) = match (before.status, after.status) {
        (Disabled, Disabled) => return None,
        (_, Disabled) => (
            HealthChange::Disabled,
            Some(
                after
                    .config
                    .disabled_reason
                    .clone()
                    .unwrap_or_else(|| "disabled by hand".to_owned()),
            ),
        ),
        (Disabled, Enabled) => (HealthChange::Enabled, None),
        _ => return None,
    };
    Some(HealthRecord {
        change,
        at: now,
        failures: 0,
        cool_down_ms: 0,
        reason,
    })
}

fn compile(row: &EndpointRow) -> Result<Routing, String> {
    let config: EndpointConfig =
        serde_json::from_value(row.config.clone()).map_err(|e| e.to_string())?;
    Ok(Routing {
        status: EndpointStatus::parse(&row.status)
            .ok_or_else(|| format!("status `{}`", row.status))?,
        filter: config.filter.compile().map_err(|e| e.to_string())?,
        max_attempts: i32::try_from(config.retry.max_attempts).unwrap_or(i32::MAX),
        subscriptions: config.subscriptions,
        url: row.url.clone(),
        ordered: config.ordered,
    })
}
