//! What the queue holds now, and what its attempts came to, for metrics and analytics
//! (`StatsStore`): read with the indexes the queue already has and from the per-minute rollup
//! (`delivery_stats`) written in the statement that records each attempt, never by scanning the
//! attempt log.

use std::future::Future;
use std::sync::LazyLock;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::{Move, StoreError};
use crate::protect::CircuitState;
use crate::queue::Status;

/// The upper bounds of the rollup's latency buckets, in milliseconds (a last bucket holds the
/// rest).
pub const LATENCY_BOUNDS_MS: [i64; 10] = [25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

/// How many latency buckets a rollup row has.
pub const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// What one recorded attempt adds to the rollup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The minute it started in.
    pub minute: DateTime<Utc>,
    /// The hour it started in.
    pub hour: DateTime<Utc>,
    /// Its latency bucket.
    pub bucket: usize,
    /// 0 sent, 1 retried (it failed and goes again), 2 dead-lettered.
    pub outcome: u8,
    /// How long it took.
    pub duration_ms: i64,
}

/// What `m` adds to the rollup: nothing unless it records an attempt. Both backends write this.
pub fn tally(m: &Move) -> Option<Tally> {
    let report = m.report.as_ref()?;
    let duration_ms = i64::from(report.duration_ms.max(0));
    let at = report.started_at;
    Some(Tally {
        minute: at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at),
        hour: at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at),
        bucket: LATENCY_BOUNDS_MS
            .iter()
            .position(|bound| duration_ms <= *bound)
            .unwrap_or(LATENCY_BOUNDS_MS.len()),
        outcome: match m.to.status {
            Status::Sent => 0,
            Status::DeadLetter => 2,
            _ => 1,
        },
        duration_ms,
    })
}

/// The rollup's spans, in seconds: every attempt is counted in its minute and in its hour.
pub const SPANS: [i64; 2] = [60, 3600];

/// Which rollup rows cover `[since, until)`: `(span, from, to)`, rows of that span whose start
/// is in `[from, to)`. Whole hours come from hourly rows (a month is 720 of them per series),
/// the ragged ends from minute rows; with `period_secs` under an hour, minute rows only. Both
/// backends read these ranges.
pub fn ranges(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    period_secs: Option<i64>,
) -> Vec<(i64, DateTime<Utc>, DateTime<Utc>)> {
    let hour = TimeDelta::hours(1);
    let first = since.duration_trunc(hour).unwrap_or(since);
    let first = if first < since { first + hour } else { first };
    let last = until.duration_trunc(hour).unwrap_or(until);
    if period_secs.is_some_and(|p| p < 3600 || p % 3600 != 0) || first >= last {
        return vec![(60, since, until)];
    }
    let mut out = Vec::with_capacity(3);
    if since < first {
        out.push((60, since, first));
    }
    out.push((3600, first, last));
    if last < until {
        out.push((60, last, until));
    }
    out
}

/// The statement that reads the rollup for `grouping` over `ranges`, in a backend's dialect:
/// `param(k)` writes its k-th placeholder (from 1), `period(p)` the start of the period of
/// `minute` whose length in seconds is the placeholder `p`. Its columns: period, webhook,
/// endpoint (`NULL` when not grouped by it), then the counters [`stats_row`] reads. Its binds:
/// each range's start and end, then the period's length when grouped by period.
pub(super) fn read_sql(
    grouping: StatsGrouping,
    ranges: &[(i64, DateTime<Utc>, DateTime<Utc>)],
    param: fn(usize) -> String,
    period: fn(&str) -> String,
) -> String {
    let period = period(&param(2 * ranges.len() + 1));
    let keys = [
        (grouping.period_secs.is_some(), period.as_str()),
        (grouping.webhook, "webhook_type"),
        (grouping.endpoint, "endpoint"),
    ];
    let selected: Vec<&str> = keys
        .iter()
        .map(|(on, expr)| if *on { *expr } else { "NULL" })
        .collect();
    let grouped: Vec<&str> = keys
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, expr)| *expr)
        .collect();
    let sums: Vec<String> = ["attempts", "sent", "retried", "dead_letter", "duration_ms"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..BUCKETS).map(|k| format!("b{k}")))
        .map(|c| format!("CAST(sum({c}) AS BIGINT)"))
        .collect();
    let covered: Vec<String> = ranges
        .iter()
        .enumerate()
        .map(|(k, (span, _, _))| {
            format!(
                "(span = {span} AND minute >= {} AND minute < {})",
                param(2 * k + 1),
                param(2 * k + 2)
            )
        })
        .collect();
    format!(
        "SELECT {}, {} FROM delivery_stats WHERE {} {}",
        selected.join(", "),
        sums.join(", "),
        covered.join(" OR "),
        if grouped.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {0} ORDER BY {0}", grouped.join(", "))
        },
    )
}

/// One row of [`read_sql`]: its key columns, and its counters in order (attempts, sent,
/// retried, dead letters, duration, then the buckets). `None` for the empty row an ungrouped
/// read of a window without attempts gives.
pub(super) fn stats_row(
    period: Option<DateTime<Utc>>,
    webhook_type: Option<String>,
    endpoint: Option<String>,
    counters: &[Option<i64>; 5 + BUCKETS],
) -> Option<StatsRow> {
    counters[0]?;
    let n = |v: Option<i64>| u64::try_from(v.unwrap_or(0)).unwrap_or(0);
    let mut buckets = [0; BUCKETS];
    for (b, v) in buckets.iter_mut().zip(&counters[5..]) {
        *b = n(*v);
    }
    Some(StatsRow {
        period,
        webhook_type,
        endpoint,
        attempts: n(counters[0]),
        sent: n(counters[1]),
        retried: n(counters[2]),
        dead_letter: n(counters[3]),
        duration_ms: n(counters[4]),
        buckets,
    })
}

/// How rollup rows are grouped when read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsGrouping {
    /// By period: a minute, an hour or a day (in seconds), or not at all.
    pub period_secs: Option<i64>,
    /// By webhook (or event type).
    pub webhook: bool,
    /// By endpoint (`""` for `#[target]` webhooks).
    pub endpoint: bool,
}

/// Summed rollup rows: one per group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsRow {
    /// The period's start, when grouped by period.
    pub period: Option<DateTime<Utc>>,
    /// The webhook, when grouped by webhook.
    pub webhook_type: Option<String>,
    /// The endpoint, when grouped by endpoint.
    pub endpoint: Option<String>,
    /// Attempts.
    pub attempts: u64,
    /// Attempts that delivered.
    pub sent: u64,
    /// Attempts that failed and were retried.
    pub retried: u64,
    /// Attempts that dead-lettered.
    pub dead_letter: u64,
    /// Their durations, summed.
    pub duration_ms: u64,
    /// Attempts per latency bucket ([`LATENCY_BOUNDS_MS`]).
    pub buckets: [u64; BUCKETS],
}

/// The queue and its backlogs, now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Executions not delivered, by status and webhook (event type, for endpoints'
    /// deliveries): pending, sending, failed (waiting for a retry) and dead letters.
    pub by_status: Vec<(Status, String, u64)>,
    /// When the longest-waiting claimable execution was due.
    pub oldest_due: Option<DateTime<Utc>>,
    /// Outcome events no handler has taken yet.
    pub outcome_backlog: u64,
    /// Providers' events not handed to the handlers yet.
    pub inbound_backlog: u64,
    /// Circuits that are not closed: key (`endpoint:<id>`, `host:<name>`), state, failures.
    pub circuits: Vec<(String, String, u32)>,
}

/// The statements of [`StatsStore::queue_stats`], the same on both backends: executions not
/// delivered by status and webhook (the status index answers it without touching delivered
/// rows), the oldest claimable due time, the two backlogs, and the circuits not closed.
pub(super) static QUEUE_SQL: LazyLock<[String; 5]> = LazyLock::new(|| {
    let waiting = [
        Status::Pending,
        Status::Sending,
        Status::Failed,
        Status::DeadLetter,
    ];
    [
        format!(
            "SELECT status, webhook_type, count(*) FROM webhook_executions
             WHERE status IN ({}) GROUP BY status, webhook_type ORDER BY status, webhook_type",
            super::status_list(&waiting)
        ),
        format!(
            "SELECT min(next_retry_at) FROM webhook_executions WHERE status IN ({})",
            super::status_list(&Status::CLAIMABLE)
        ),
        "SELECT count(*) FROM webhook_outcomes".to_owned(),
        "SELECT count(*) FROM inbound_events WHERE handled_at IS NULL".to_owned(),
        format!(
            "SELECT key, state, failures FROM circuits WHERE state <> '{}' ORDER BY key",
            CircuitState::Closed.as_str()
        ),
    ]
});

/// Reading the queue's state and its attempts' rollup.
pub trait StatsStore {
    /// The queue now.
    fn queue_stats(&self) -> impl Future<Output = Result<QueueStats, StoreError>> + Send;

    /// Deletes up to `limit` rollup rows of `span` that start before `before`.
    fn prune_stats(
        &self,
        span: i64,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The rollup of attempts that started in `[since, until)` (to the minute), summed per
    /// `grouping` (periods ascending), read from the rows [`ranges`] names.
    fn delivery_stats(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        grouping: StatsGrouping,
    ) -> impl Future<Output = Result<Vec<StatsRow>, StoreError>> + Send;

    /// When each webhook (event type, for endpoints' deliveries) and endpoint (`""` for a
    /// `#[target]`) last delivered: the start of the last minute with a delivery since
    /// `minutes_since`, else of the last hour with one since `hours_since`.
    fn last_successes(
        &self,
        minutes_since: DateTime<Utc>,
        hours_since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<LastSuccess>, StoreError>> + Send;
}

/// When a webhook and endpoint last delivered, to the minute or to the hour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastSuccess {
    /// The webhook or event type.
    pub webhook_type: String,
    /// The endpoint's id, `""` for a `#[target]`.
    pub endpoint: String,
    /// The start of the minute (or hour) of its last delivery.
    pub at: DateTime<Utc>,
    /// 60 when `at` is a minute, 3600 when an hour.
    pub span: i64,
}

/// The statement of [`StatsStore::last_successes`], with the backend's placeholders for its two
/// times: the last minute and hour rows with a delivery, per webhook and endpoint.
pub(super) fn last_success_sql(minutes_since: &str, hours_since: &str) -> String {
    format!(
        "SELECT webhook_type, endpoint, CAST(span AS BIGINT), max(minute) FROM delivery_stats
         WHERE sent > 0 AND ((span = {} AND minute >= {minutes_since})
                          OR (span = {} AND minute >= {hours_since}))
         GROUP BY webhook_type, endpoint, span",
        SPANS[0], SPANS[1]
    )
}

/// The latest of each webhook and endpoint's rows: the minute when there is one.
pub(super) fn latest(rows: Vec<LastSuccess>) -> Vec<LastSuccess> {
    let mut best: std::collections::BTreeMap<(String, String), LastSuccess> = Default::default();
    for row in rows {
        let key = (row.webhook_type.clone(), row.endpoint.clone());
        match best.get(&key) {
            Some(kept) if kept.span <= row.span => {}
            _ => {
                best.insert(key, row);
            }
        }
    }
    best.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64, m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 / 3600 * 3600 + h * 3600 + m * 60, 0).unwrap()
    }

    #[test]
    fn whole_hours_come_from_hourly_rows_and_ragged_ends_from_minutes() {
        assert_eq!(
            ranges(t(0, 10), t(5, 20), None),
            [
                (60, t(0, 10), t(1, 0)),
                (3600, t(1, 0), t(5, 0)),
                (60, t(5, 0), t(5, 20))
            ]
        );
        assert_eq!(ranges(t(1, 0), t(3, 0), None), [(3600, t(1, 0), t(3, 0))]);
        assert_eq!(
            ranges(t(1, 0), t(3, 0), Some(86_400)),
            [(3600, t(1, 0), t(3, 0))]
        );
        // A minute trend, or a window inside one hour: minutes.
        assert_eq!(ranges(t(1, 0), t(3, 0), Some(60)), [(60, t(1, 0), t(3, 0))]);
        assert_eq!(ranges(t(1, 5), t(1, 50), None), [(60, t(1, 5), t(1, 50))]);
    }
}
