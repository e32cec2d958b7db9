//! Delivery analytics: what attempts came to over a window, in total, per webhook (or event
//! type) and per endpoint, and as a trend per minute, hour or day; and each destination's health
//! now (its circuit, consecutive failures, last delivery). Read from the per-minute
//! rollup the store writes with every attempt (`delivery_stats`), never from the attempt log,
//! so a month of a busy queue is a few thousand rows; the rates and percentiles are computed
//! here, once, from the summed rows.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::outbound::executor::{Context, target_host};
use crate::outbound::registry;
use crate::protect::breaker::CircuitState;
use crate::protect::{Circuit, Destination};
use crate::store::{
    BUCKETS, LATENCY_BOUNDS_MS, LastSuccess, StatsGrouping, StatsRow, Store, StoreError,
};

/// What a set of attempts came to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Attempts made.
    pub attempts: u64,
    /// Deliveries that ended: delivered, or dead-lettered.
    pub deliveries: u64,
    /// Attempts that delivered.
    pub sent: u64,
    /// Attempts that failed and were retried.
    pub retried: u64,
    /// Deliveries that dead-lettered.
    pub dead_letter: u64,
    /// Delivered among the deliveries that ended (0 to 1; `None` when none ended).
    pub success_rate: Option<f64>,
    /// Dead-lettered among the deliveries that ended.
    pub failure_rate: Option<f64>,
    /// Attempts that were retried among all attempts.
    pub retry_rate: Option<f64>,
    /// Mean attempt latency, in milliseconds.
    pub mean_ms: Option<f64>,
    /// Median latency, in milliseconds, to the rollup's bucket resolution.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency (an attempt over 30 s counts as 30 s).
    pub p95_ms: Option<f64>,
    /// 99th percentile latency.
    pub p99_ms: Option<f64>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The latency under which a fraction `q` of the attempts in `buckets` fall, interpolated
/// linearly inside its bucket ([`LATENCY_BOUNDS_MS`]; the last, unbounded bucket reads as its
/// lower bound). `None` without attempts.
pub fn percentile(buckets: &[u64; BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (k, n) in buckets.iter().enumerate() {
        let lower = if k == 0 {
            0.0
        } else {
            LATENCY_BOUNDS_MS[k - 1] as f64
        };
        let Some(upper) = LATENCY_BOUNDS_MS.get(k).map(|b| *b as f64) else {
            return Some(lower);
        };
        if *n > 0 && (below + n) as f64 >= rank {
            let within = (rank - below as f64) / *n as f64;
            return Some(lower + (upper - lower) * within.clamp(0.0, 1.0));
        }
        below += n;
    }
    LATENCY_BOUNDS_MS.last().map(|b| *b as f64)
}

impl Figures {
    /// The figures of a summed rollup row.
    pub fn of(row: &StatsRow) -> Figures {
        let deliveries = row.sent + row.dead_letter;
        Figures {
            attempts: row.attempts,
            deliveries,
            sent: row.sent,
            retried: row.retried,
            dead_letter: row.dead_letter,
            success_rate: ratio(row.sent, deliveries),
            failure_rate: ratio(row.dead_letter, deliveries),
            retry_rate: ratio(row.retried, row.attempts),
            mean_ms: (row.attempts > 0).then(|| row.duration_ms as f64 / row.attempts as f64),
            p50_ms: percentile(&row.buckets, 0.50),
            p95_ms: percentile(&row.buckets, 0.95),
            p99_ms: percentile(&row.buckets, 0.99),
        }
    }
}

/// The figures of one webhook (or event type) or endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Named {
    /// The webhook, or the endpoint's id (`""` for `#[target]` webhooks, which have none).
    pub name: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A window's figures: in total, per webhook and per endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overview {
    /// The window's start (inclusive, to the minute).
    pub since: DateTime<Utc>,
    /// Its end (exclusive).
    pub until: DateTime<Utc>,
    /// Every attempt in it.
    pub total: Figures,
    /// Per webhook (or event type), by name.
    pub by_webhook: Vec<Named>,
    /// Per endpoint (customers' endpoints only), by id.
    pub by_endpoint: Vec<Named>,
}

/// How finely a trend is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
    /// Per day (UTC).
    Day,
}

impl Granularity {
    fn seconds(self) -> i64 {
        match self {
            Granularity::Minute => 60,
            Granularity::Hour => 3600,
            Granularity::Day => 86_400,
        }
    }
}

/// One period of a trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The period's start.
    pub at: DateTime<Utc>,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// What a destination is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// A customer's endpoint of the webhooks service.
    Endpoint,
    /// A host that `#[target]` webhooks send to (they share its circuit).
    Target,
}

/// A destination's health now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    /// Its key: `endpoint:<id>`, or `host:<host>:<port>`.
    pub destination: String,
    /// An endpoint, or a target host.
    pub kind: DestinationKind,
    /// The endpoint's id, for an endpoint.
    pub endpoint_id: Option<uuid::Uuid>,
    /// The endpoint's URL, or the target's host and port.
    pub name: String,
    /// The endpoint's description.
    pub description: String,
    /// The endpoint's tenant (`""` for none).
    pub application: String,
    /// The endpoint's status (`enabled`, `paused`, `disabled`); targets are always `enabled`.
    pub status: String,
    /// Why BuildAmp disabled the endpoint, if it did.
    pub disabled_reason: Option<String>,
    /// The `#[target]` webhooks sending to the host (empty for an endpoint).
    pub webhooks: Vec<String>,
    /// Its circuit: `closed`, `open` or `half_open`.
    pub circuit: CircuitState,
    /// Consecutive failures.
    pub consecutive_failures: u32,
    /// Open: when deliveries may go again.
    pub until: Option<DateTime<Utc>>,
    /// When it last delivered: the start of that minute within the last hour, else of that hour
    /// within the retention period (`None`: not in that time).
    pub last_success: Option<DateTime<Utc>>,
}

impl Health {
    /// Whether deliveries to it are going through: enabled, circuit closed.
    pub fn is_healthy(&self) -> bool {
        self.status == "enabled" && self.circuit == CircuitState::Closed
    }
}

/// The analytics of a runtime's store: `runtime.analytics()`.
pub struct Analytics<S: Store> {
    inner: Arc<Context<S>>,
}

impl<S: Store> Clone for Analytics<S> {
    fn clone(&self) -> Self {
        Analytics {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Store> Analytics<S> {
    pub(crate) fn new(inner: Arc<Context<S>>) -> Self {
        Analytics { inner }
    }

    /// The figures of attempts that started in `[since, until)`: in total, per webhook and per
    /// endpoint.
    ///
    /// # Errors
    /// The store failed.
    pub async fn overview(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Overview, StoreError> {
        let store = &self.inner.store;
        let group = |webhook, endpoint| StatsGrouping {
            period_secs: None,
            webhook,
            endpoint,
        };
        let total = store
            .delivery_stats(since, until, group(false, false))
            .await?;
        let webhooks = store
            .delivery_stats(since, until, group(true, false))
            .await?;
        let endpoints = store
            .delivery_stats(since, until, group(false, true))
            .await?;
        let named = |rows: Vec<StatsRow>, name: fn(&StatsRow) -> Option<&String>| {
            rows.iter()
                .filter_map(|r| {
                    let name = name(r)?;
                    (!name.is_empty()).then(|| Named {
                        name: name.clone(),
                        figures: Figures::of(r),
                    })
                })
                .collect()
        };
        Ok(Overview {
            since,
            until,
            total: total.first().map(Figures::of).unwrap_or_default(),
            by_webhook: named(webhooks, |r| r.webhook_type.as_ref()),
            by_endpoint: named(endpoints, |r| r.endpoint.as_ref()),
        })
    }

    /// The health of every endpoint (but transactions' callback endpoints, which come and go
    /// with their transactions) and of every host the registered `#[target]` webhooks send to,
    /// or whose circuit is not closed: endpoints first, by id, then hosts by name.
    ///
    /// # Errors
    /// The store failed.
    pub async fn health(&self) -> Result<Vec<Health>, StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let retention = chrono::Duration::from_std(self.inner.config.retention)
            .unwrap_or(chrono::Duration::days(7));
        let circuits: std::collections::BTreeMap<String, Circuit> =
            store.circuits().await?.into_iter().collect();
        let successes = store
            .last_successes(now - chrono::Duration::hours(1), now - retention)
            .await?;
        let last = |matches: &dyn Fn(&LastSuccess) -> bool| {
            successes.iter().filter(|s| matches(s)).map(|s| s.at).max()
        };
        let circuit = |key: &str| {
            let c = circuits.get(key);
            (
                c.map_or(CircuitState::Closed, |c| c.state),
                c.map_or(0, |c| c.failures),
                c.and_then(|c| c.until.filter(|_| c.state == CircuitState::Open)),
            )
        };
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .endpoints_outside(crate::transactions::APPLICATION_PREFIX, after, 500)
                .await?;
            after = page.last().map(|e| e.id);
            for row in &page {
                let key = Destination::Endpoint(row.id).as_stored();
                let id = row.id.to_string();
                let (state, failures, until) = circuit(&key);
                out.push(Health {
                    destination: key,
                    kind: DestinationKind::Endpoint,
                    endpoint_id: Some(row.id),
                    name: row.url.clone(),
                    description: row.description.clone(),
                    application: row.application.clone(),
                    status: row.status.clone(),
                    disabled_reason: row.config["disabled_reason"].as_str().map(str::to_owned),
                    webhooks: Vec::new(),
                    circuit: state,
                    consecutive_failures: failures,
                    until,
                    last_success: last(&|s| s.endpoint == id),
                });
            }
            if page.len() < 500 {
                break;
            }
        }
        let mut hosts: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for webhook in registry::webhooks() {
            if let Some(host) = target_host(webhook.target(), &*self.inner.env) {
                hosts
                    .entry(host)
                    .or_default()
                    .push(webhook.name().to_owned());
            }
        }
        for key in circuits.keys() {
            if let Some(Destination::Host(host)) = Destination::parse(key) {
                hosts.entry(host).or_default();
            }
        }
        for (host, webhooks) in hosts {
            let key = Destination::Host(host.clone()).as_stored();
            let (state, failures, until) = circuit(&key);
            out.push(Health {
                destination: key,
                kind: DestinationKind::Target,
                endpoint_id: None,
                name: host,
                description: String::new(),
                application: String::new(),
                status: "enabled".to_owned(),
                disabled_reason: None,
                last_success: last(&|s| {
                    s.endpoint.is_empty() && webhooks.contains(&s.webhook_type)
                }),
                webhooks,
                circuit: state,
                consecutive_failures: failures,
                until,
            });
        }
        Ok(out)
    }

    /// The figures of attempts that started in `[since, until)`, per period of `granularity`
    /// (periods without attempts are left out).
    ///
    /// # Errors
    /// The store failed.
    pub async fn trend(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        granularity: Granularity,
    ) -> Result<Vec<Point>, StoreError> {
        let rows = self
            .inner
            .store
            .delivery_stats(
                since,
                until,
                StatsGrouping {
                    period_secs: Some(granularity.seconds()),
                    webhook: false,
                    endpoint: false,
                },
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(Point {
                    at: r.period?,
                    figures: Figures::of(r),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(usize, u64)]) -> [u64; BUCKETS] {
        let mut b = [0; BUCKETS];
        for (k, n) in pairs {
            b[*k] = *n;
        }
        b
    }

    #[test]
    fn percentiles_interpolate_inside_their_bucket() {
        // 100 attempts: 50 under 25 ms, 45 in (100, 250], 5 over 30 s.
        let b = buckets(&[(0, 50), (3, 45), (10, 5)]);
        assert_eq!(percentile(&b, 0.5), Some(25.0));
        assert_eq!(percentile(&b, 0.25), Some(12.5));
        // The 95th is the last of the (100, 250] bucket; the 99th is over 30 s: read as 30 s.
        assert_eq!(percentile(&b, 0.95), Some(250.0));
        assert_eq!(percentile(&b, 0.99), Some(30_000.0));
        assert_eq!(percentile(&[0; BUCKETS], 0.5), None);
    }

    #[test]
    fn rates_are_of_ended_deliveries_and_retries_of_attempts() {
        let row = StatsRow {
            attempts: 12,
            sent: 9,
            retried: 2,
            dead_letter: 1,
            duration_ms: 1200,
            buckets: buckets(&[(2, 12)]),
            ..StatsRow::default()
        };
        let f = Figures::of(&row);
        assert_eq!(f.deliveries, 10);
        assert_eq!(f.success_rate, Some(0.9));
        assert_eq!(f.failure_rate, Some(0.1));
        assert_eq!(f.retry_rate, Some(2.0 / 12.0));
        assert_eq!(f.mean_ms, Some(100.0));
        assert_eq!(f.p50_ms, Some(75.0));
        let none = Figures::of(&StatsRow::default());
        assert_eq!((none.success_rate, none.p95_ms), (None, None));
    }
}
