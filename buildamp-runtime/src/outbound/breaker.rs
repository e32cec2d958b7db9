//! The circuit breaker at delivery time: each attempt passes its destination's gate first, and
//! its result is observed after (see [`crate::protect::breaker`] for the rule).
//!
//! A healthy destination costs nothing beyond a map lookup: this process knows the circuits that
//! are not closed-and-clean (all of them, read from the store at most once a second, and its own
//! changes at once), and only an attempt that failed, or that answered while the circuit had
//! failures, writes to the store. So across processes, a change is seen within a second, and the
//! count of consecutive failures may miss an answer another process got in that second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::error_chain;
use crate::protect::breaker::{self, BreakerPolicy, Change, Circuit, Gate, Health};
use crate::queue::{AttemptResult, ExecutionId};
use crate::store::CircuitStore;

/// A destination's key, made only when a circuit needs it: while no destination has failed,
/// a delivery never builds it.
pub(crate) struct Key<F> {
    make: F,
    made: std::sync::OnceLock<Option<String>>,
}

impl<F: Fn() -> Option<String>> Key<F> {
    pub(crate) fn new(make: F) -> Self {
        Key {
            make,
            made: std::sync::OnceLock::new(),
        }
    }

    /// The key (`None`: the destination has no circuit, e.g. a URL without a host).
    pub(crate) fn get(&self) -> Option<&str> {
        self.made.get_or_init(&self.make).as_deref()
    }
}

/// How long a circuit read is used before it is read again.
const REFRESH: Duration = Duration::from_secs(1);

/// The circuits of this process's destinations.
pub(crate) struct Breakers {
    pub(crate) policy: BreakerPolicy,
    known: Mutex<Known>,
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Known {
    read_at: Option<tokio::time::Instant>,
    circuits: HashMap<String, Circuit>,
    /// While a read of every circuit is under way: what this process wrote meanwhile, laid over
    /// the read when it lands (the read may predate those writes).
    written_during_read: Option<HashMap<String, Option<Circuit>>>,
}

/// A delivery the gate held back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    /// When to look again.
    pub(crate) until: DateTime<Utc>,
    /// Why, for the row.
    pub(crate) reason: &'static str,
    /// Whether the destination's circuit is open or probing (not merely unreadable): a failover
    /// may take the delivery.
    pub(crate) circuit_open: bool,
}

fn held(until: DateTime<Utc>, reason: &'static str) -> Held {
    Held {
        until,
        reason,
        circuit_open: reason != UNREADABLE,
    }
}

/// Why a delivery waits.
const OPEN: &str = "the destination's circuit is open: waits for the cool-down (no attempt spent)";
const PROBING: &str =
    "the destination's circuit is half-open: waits for the probe's answer (no attempt spent)";
const UNREADABLE: &str =
    "the destination's circuit could not be read (database error): waits (no attempt spent)";

impl Breakers {
    pub(crate) fn new(policy: BreakerPolicy) -> Self {
        Breakers {
            policy,
            known: Mutex::default(),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads every circuit again once the last read is older than a second (one reader at a
    /// time; the others use what is known).
    pub(crate) async fn refresh<S: CircuitStore>(&self, store: &S) {
        let stale = |k: &Known| k.read_at.is_none_or(|at| at.elapsed() >= REFRESH);
        if stale(&self.known.lock().expect("circuits lock"))
            && let Ok(_one) = self.refreshing.try_lock()
            && stale(&self.known.lock().expect("circuits lock"))
        {
            self.known
                .lock()
                .expect("circuits lock")
                .written_during_read = Some(HashMap::new());
            let read = store.circuits().await;
            let mut known = self.known.lock().expect("circuits lock");
            known.read_at = Some(tokio::time::Instant::now());
            let written = known.written_during_read.take().unwrap_or_default();
            match read {
                Ok(circuits) => {
                    known.circuits = circuits.into_iter().collect();
                    for (key, circuit) in written {
                        set(&mut known.circuits, key, circuit);
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "reading circuits failed; using the last ones read");
                }
            }
        }
    }

    /// Whether no destination this process knows of has a circuit worth keeping (the usual case:
    /// then a delivery needs no key and no lookup).
    fn all_clean(&self) -> bool {
        self.known
            .lock()
            .expect("circuits lock")
            .circuits
            .is_empty()
    }

    fn cached(&self, key: &str) -> Option<Circuit> {
        self.known
            .lock()
            .expect("circuits lock")
            .circuits
            .get(key)
            .copied()
    }

    fn put(&self, key: &str, circuit: Option<Circuit>) {
        let mut known = self.known.lock().expect("circuits lock");
        if let Some(written) = &mut known.written_during_read {
            written.insert(key.to_owned(), circuit);
        }
        set(&mut known.circuits, key.to_owned(), circuit);
    }

    /// Whether `execution` may be sent to `key` now: `Ok(true)` as the probe (the cool-down is
    /// over and the store gave it the probe), `Ok(false)` as any delivery, or when to look again
    /// and why.
    pub(crate) async fn gate<S: CircuitStore, F: Fn() -> Option<String> + Sync>(
        &self,
        store: &S,
        key: &Key<F>,
        execution: ExecutionId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, Held> {
        self.refresh(store).await;
        if self.all_clean() {
            return Ok(false);
        }
        let Some(key) = key.get() else {
            return Ok(false);
        };
        match breaker::gate(self.cached(key).as_ref(), now) {
            Gate::Pass => Ok(false),
            Gate::Wait(until) => Err(held(until, OPEN)),
            Gate::Probe => {
                // What the store holds, as the probe was asked for (this process's view may be a
                // second old).
                let stored: Arc<Mutex<Option<Circuit>>> = Arc::default();
                let seen = stored.clone();
                let decide = move |c: Option<&Circuit>| {
                    *seen.lock().expect("seen lock") = c.copied();
                    breaker::take_probe(c, execution, now, lease_until).map(|c| (c, None))
                };
                match store.change_circuit(key, &decide).await {
                    Ok(Some((probing, _))) => {
                        self.put(key, Some(probing));
                        tracing::info!(destination = key, execution = %execution, "circuit half-open: this delivery is the probe");
                        Ok(true)
                    }
                    Ok(None) => {
                        let current = *stored.lock().expect("seen lock");
                        self.put(key, current);
                        match breaker::gate(current.as_ref(), now) {
                            Gate::Pass => Ok(false), // closed meanwhile
                            Gate::Wait(until) => Err(held(until, PROBING)),
                            Gate::Probe => Err(held(now + breaker_recheck(), PROBING)),
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), destination = key, "taking the probe failed; the delivery waits");
                        Err(held(now + breaker_recheck(), UNREADABLE))
                    }
                }
            }
        }
    }

    /// Gives back the probe `execution` took but did not send, so that another delivery may
    /// probe now instead of after the probe's lease.
    pub(crate) async fn give_back<S: CircuitStore, F: Fn() -> Option<String> + Sync>(
        &self,
        store: &S,
        key: &Key<F>,
        execution: ExecutionId,
        now: DateTime<Utc>,
    ) {
        let Some(key) = key.get() else { return };
        let decide = move |c: Option<&Circuit>| {
            breaker::give_back_probe(c, execution, now).map(|c| (c, None))
        };
        match store.change_circuit(key, &decide).await {
            Ok(Some((circuit, _))) => self.put(key, Some(circuit)),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), destination = key, "giving back a probe failed; another may probe when its lease ends");
            }
        }
    }

    /// Records what `execution`'s attempt showed about `key`; returns the circuit as stored
    /// after it, when it was written, and the change it made. An attempt that sent nothing gives
    /// back the probe it held (`probing`).
    pub(crate) async fn observe<S: CircuitStore, F: Fn() -> Option<String> + Sync>(
        &self,
        store: &S,
        key: &Key<F>,
        execution: ExecutionId,
        result: &AttemptResult,
        now: DateTime<Utc>,
        probing: bool,
    ) -> Option<(Circuit, Option<Change>)> {
        let Some(health) = Health::of(result) else {
            // Nothing was sent (the request could not be built): a probe's turn goes to
            // another delivery.
            if probing {
                self.give_back(store, key, execution, now).await;
            }
            return None;
        };
        // The hot path: a destination with nothing against it answered.
        if health == Health::Up && self.all_clean() {
            return None;
        }
        let key = key.get()?;
        if health == Health::Up && self.cached(key).is_none_or(|c| c.is_clean()) {
            return None;
        }
        let policy = self.policy;
        let decide =
            move |c: Option<&Circuit>| breaker::observe(c, health, execution, now, &policy);
        match store.change_circuit(key, &decide).await {
            Ok(written) => {
                if let Some((circuit, change)) = written {
                    self.put(key, Some(circuit));
                    if let Some(change) = change {
                        tracing::warn!(
                            destination = key,
                            ?change,
                            failures = circuit.failures,
                            cool_down_ms = circuit.cool_down.as_millis() as u64,
                            "circuit changed"
                        );
                    }
                }
                written
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), destination = key, "recording a circuit's failure failed");
                None
            }
        }
    }
}

/// Keeps `circuit` under `key`, or forgets the key when it is clean.
fn set(circuits: &mut HashMap<String, Circuit>, key: String, circuit: Option<Circuit>) {
    match circuit.filter(|c| !c.is_clean()) {
        Some(c) => circuits.insert(key, c),
        None => circuits.remove(&key),
    };
}

fn breaker_recheck() -> chrono::Duration {
    chrono::Duration::from_std(breaker::PROBE_RECHECK).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{ChangeCircuit, HealthEventRow, HealthRecord, StoreError};

    /// A store whose read of every circuit waits for a signal (and finds none), so a test can
    /// write while a read is under way.
    #[derive(Default)]
    struct SlowRead {
        release: tokio::sync::Notify,
    }

    impl CircuitStore for SlowRead {
        async fn circuits(&self) -> Result<Vec<(String, Circuit)>, StoreError> {
            self.release.notified().await;
            Ok(Vec::new())
        }

        async fn circuit(&self, _: &str) -> Result<Option<Circuit>, StoreError> {
            Ok(None)
        }

        async fn change_circuit(
            &self,
            _: &str,
            decide: ChangeCircuit<'_>,
        ) -> Result<Option<(Circuit, Option<Change>)>, StoreError> {
            Ok(decide(None))
        }

        async fn health_changes(&self, _: &str, _: usize) -> Result<Vec<HealthRecord>, StoreError> {
            Ok(Vec::new())
        }

        async fn claim_health_events(
            &self,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
            _: usize,
        ) -> Result<Vec<HealthEventRow>, StoreError> {
            Ok(Vec::new())
        }

        async fn ack_health_event(&self, _: i64) -> Result<(), StoreError> {
            Ok(())
        }

        async fn retry_health_event(&self, _: i64, _: DateTime<Utc>) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_circuit_written_while_every_circuit_is_read_is_not_lost() {
        let breakers = Arc::new(Breakers::new(BreakerPolicy {
            failures: 1,
            ..BreakerPolicy::default()
        }));
        let store = Arc::new(SlowRead::default());
        let key = Key::new(|| Some("endpoint:x".to_owned()));
        // A read starts (its snapshot predates what follows)...
        let reading = tokio::spawn({
            let (breakers, store) = (breakers.clone(), store.clone());
            async move { breakers.refresh(&*store).await }
        });
        tokio::task::yield_now().await;
        // ...this process opens the circuit meanwhile...
        let now = Utc::now();
        let failed = AttemptResult::Unreachable("connection refused".into());
        let (opened, change) = breakers
            .observe(&*store, &key, ExecutionId::new(), &failed, now, false)
            .await
            .unwrap();
        assert_eq!(
            (opened.state, change),
            (breaker::CircuitState::Open, Some(Change::Opened))
        );
        // ...and the read lands, finding nothing: the open circuit is still known.
        store.release.notify_one();
        reading.await.unwrap();
        let gate = breakers
            .gate(&*store, &key, ExecutionId::new(), now, now)
            .await;
        assert!(
            matches!(
                gate,
                Err(Held {
                    circuit_open: true,
                    ..
                })
            ),
            "{gate:?}"
        );
    }
}
