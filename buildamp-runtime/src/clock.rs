//! Time as the runtime sees it. Every due date, lease and retry time is computed from a [`Clock`],
//! so tests drive time by hand instead of sleeping.

use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// The source of "now" for every scheduling decision.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to: for tests of retry timelines, leases and retention.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.now.lock().expect("clock lock");
        *now += chrono::Duration::from_std(by).expect("duration in range");
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().expect("clock lock") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }
}

/// Retry jitter: uniform samples in `[0, 1)`, seedable so that timelines are reproducible.
pub(crate) struct Jitter(Mutex<fastrand::Rng>);

impl Jitter {
    /// Seeded with `seed`, or randomly.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Jitter(Mutex::new(
            seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
        ))
    }

    /// The next sample.
    pub(crate) fn sample(&self) -> f64 {
        self.0.lock().expect("jitter lock").f64()
    }
}
