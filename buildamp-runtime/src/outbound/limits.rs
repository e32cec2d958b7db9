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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::target::tests::plain;

    fn target(max_concurrency: Option<u32>, rate_limit: Option<RateLimit>) -> Target {
        Target {
            max_concurrency,
            rate_limit,
            ..plain()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_spreads_starts_over_windows() {
        let limits = TargetLimits::default();
        let target = target(
            None,
            Some(RateLimit {
                count: 2,
                per: Duration::from_secs(1),
            }),
        );
        let start = Instant::now();
        let mut started_at = Vec::new();
        for _ in 0..5 {
            let _slot = limits.acquire("Hook", &target).await;
            started_at.push(start.elapsed().as_secs());
        }
        // Two per one-second window: 0, 0, 1, 1, 2.
        assert_eq!(started_at, [0, 0, 1, 1, 2]);
        // Another type has its own window.
        let _other = limits.acquire("Other", &target).await;
        assert_eq!(start.elapsed().as_secs(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_limit_holds_until_a_slot_is_dropped() {
        let limits = std::sync::Arc::new(TargetLimits::default());
        let target: &'static Target = Box::leak(Box::new(target(Some(2), None)));
        let a = limits.acquire("Hook", target).await;
        let _b = limits.acquire("Hook", target).await;
        let waiting = tokio::spawn({
            let limits = limits.clone();
            async move { limits.acquire("Hook", target).await }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "a third delivery started while two were in flight"
        );
        drop(a);
        waiting.await.unwrap();
    }
}
