//! Where a queued row's retry rules come from, for the decisions made away from a delivery (a
//! rescue, a retry by hand): a `#[target]` webhook's from the registry, an endpoint's delivery
//! from the endpoint's settings as stored now. One lookup for both callers.

use std::collections::HashMap;

use uuid::Uuid;

use super::registry;
use chrono::{DateTime, Utc};

use crate::clock::Jitter;
use crate::queue::{self, DEFAULT_MAX_ATTEMPTS, Event, Progress, RetryPolicy, RetryRules};
use crate::service::endpoint::{Endpoint, EndpointConfig};
use crate::store::{Candidate, EndpointStore, Move, StoreError};

/// The rules of a batch of candidates.
pub(crate) struct RowRules {
    /// Each endpoint's policy and attempts; `None` for one deleted (or unreadable) since.
    endpoints: HashMap<Uuid, Option<(RetryPolicy, u32)>>,
}

impl RowRules {
    /// Reads the settings of every endpoint `candidates` deliver to, once each.
    pub(crate) async fn load<S: EndpointStore>(
        store: &S,
        candidates: &[Candidate],
    ) -> Result<Self, StoreError> {
        let mut endpoints = HashMap::new();
        for id in candidates.iter().filter_map(|c| c.endpoint_id) {
            if endpoints.contains_key(&id) {
                continue;
            }
            let settings = store.endpoint(id).await?.and_then(|row| {
                serde_json::from_value::<EndpointConfig>(row.config)
                    .ok()
                    .map(|c| (c.retry.policy(), c.retry.max_attempts))
            });
            endpoints.insert(id, settings);
        }
        Ok(RowRules { endpoints })
    }

    /// How `row`'s failures are retried (the default backoff for a type or endpoint this process
    /// cannot read).
    pub(crate) fn rules(&self, row: &Candidate) -> RetryRules<'_> {
        match row
            .endpoint_id
            .and_then(|id| self.endpoints.get(&id)?.as_ref())
        {
            Some((policy, _)) => Endpoint::retry_rules(policy),
            None if row.endpoint_id.is_some() => RetryRules::DEFAULT,
            None => registry::retry_rules(&row.webhook_type),
        }
    }

    /// The moves of a retry by hand of each dead letter in `dead` at `now` (each granted its
    /// budget of attempts): for `Runtime::retry_dead_letters` and for replays alike.
    pub(crate) fn retried_by_hand(
        &self,
        dead: &[Candidate],
        now: DateTime<Utc>,
        jitter: &Jitter,
    ) -> Vec<Move> {
        self.by_hand(dead, |budget| Event::RetriedByHand { budget }, now, jitter)
    }

    /// The moves of a resend of each delivered row in `sent` at `now`, each granted its budget of
    /// attempts.
    pub(crate) fn resent(
        &self,
        sent: &[Candidate],
        now: DateTime<Utc>,
        jitter: &Jitter,
    ) -> Vec<Move> {
        self.by_hand(sent, |budget| Event::Resent { budget }, now, jitter)
    }

    fn by_hand(
        &self,
        rows: &[Candidate],
        event: impl Fn(u32) -> Event<'static>,
        now: DateTime<Utc>,
        jitter: &Jitter,
    ) -> Vec<Move> {
        rows.iter()
            .map(|row| {
                let event = event(self.budget(row));
                let progress = Progress {
                    attempts: row.attempts,
                    max_attempts: row.max_attempts,
                };
                Move {
                    id: row.id,
                    attempt: row.attempts,
                    from: event.from_status(),
                    to: queue::decide(progress, event, self.rules(row), now, jitter.sample()),
                    report: None,
                }
            })
            .collect()
    }

    /// Attempts a retry by hand grants `row`.
    pub(crate) fn budget(&self, row: &Candidate) -> u32 {
        match row.endpoint_id {
            Some(id) => self
                .endpoints
                .get(&id)
                .and_then(|s| s.as_ref())
                .map_or(DEFAULT_MAX_ATTEMPTS, |(_, attempts)| *attempts),
            None => registry::attempt_budget(&row.webhook_type),
        }
    }
}
