//! Per-target limits inside one executor: at most `max_concurrency` deliveries in flight and at
//! most `rate_limit` started per window, for each webhook type.
//!
//! These hold per process. Several executor processes each apply them, so the effective limit
//! across N processes is N times the declared one (see README, "Scale").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::target::{RateLimit, Target};

/// The limits of every target this executor has delivered to.
#[derive(Default)]
pub(crate) struct TargetLimits {
    by_type: Mutex<HashMap<String, Arc<Limit>>>,
}

struct Limit {
    concurrency: Option<Arc<Semaphore>>,
    rate: Option<Mutex<Window>>,
}

/// A fixed window of `count` starts per `per`: simple, and exact over each window.
struct Window {
    limit: RateLimit,
    started: Instant,
    used: u32,
}

/// Held while a delivery runs; dropping it frees the target's concurrency slot.
pub(crate) struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl TargetLimits {
    /// Waits until `webhook_type` may start another delivery, and takes the slot.
    pub(crate) async fn acquire(&self, webhook_type: &str, target: &Target) -> Slot {
        let limit = self.limit(webhook_type, target);
        let permit = match &limit.concurrency {
            Some(semaphore) => Some(
                semaphore
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("never closed"),
            ),
            None => None,
        };
        if let Some(window) = &limit.rate {
            loop {
                let wait = {
                    let mut w = window.lock().expect("rate lock");
                    let now = Instant::now();
                    if now.duration_since(w.started) >= w.limit.per {
                        w.started = now;
                        w.used = 0;
                    }
                    if w.used < w.limit.count {
                        w.used += 1;
                        None
                    } else {
                        Some(w.started + w.limit.per)
                    }
                };
                match wait {
                    None => break,
                    Some(until) => tokio::time::sleep_until(until).await,
                }
            }
        }
        Slot { _permit: permit }
    }

    fn limit(&self, webhook_type: &str, target: &Target) -> Arc<Limit> {
        let mut by_type = self.by_type.lock().expect("limits lock");
        if let Some(limit) = by_type.get(webhook_type) {
            return limit.clone(); // the hot path: no allocation
        }
        by_type
            .entry(webhook_type.to_owned())
            .or_insert_with(|| {
                Arc::new(Limit {
                    concurrency: target
                        .max_concurrency
                        .map(|n| Arc::new(Semaphore::new(n as usize))),
                    rate: target.rate_limit.map(|limit| {
                        Mutex::new(Window {
                            limit,
                            started: Instant::now(),
                            used: 0,
                        })
                    }),
                })
            })
            .clone()
    }
}
