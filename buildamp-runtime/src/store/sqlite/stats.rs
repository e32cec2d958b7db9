//! Queue statistics on SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteStore, micros, time};
use crate::store::stats::{QUEUE_SQL, last_success_sql, latest, read_sql, stats_row};
use crate::store::{
    BUCKETS, LastSuccess, QueueStats, StatsGrouping, StatsRow, StatsStore, StoreError, ranges,
};

impl StatsStore for SqliteStore {
    async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        let [depth, due, outcomes, inbound, circuits] = &*QUEUE_SQL;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut by_status = Vec::new();
        for r in sqlx::query(depth).fetch_all(&self.pool).await? {
            by_status.push((
                r.try_get::<&str, _>(0)?.parse()?,
                r.try_get(1)?,
                count(r.try_get(2)?),
            ));
        }
        let row = sqlx::query(due).fetch_one(&self.pool).await?;
        let oldest_due: Option<DateTime<Utc>> =
            row.try_get::<Option<i64>, _>(0)?.map(time).transpose()?;
        let outcome_backlog: i64 = sqlx::query_scalar(outcomes).fetch_one(&self.pool).await?;
        let inbound_backlog: i64 = sqlx::query_scalar(inbound).fetch_one(&self.pool).await?;
        let mut open = Vec::new();
        for r in sqlx::query(circuits).fetch_all(&self.pool).await? {
            let failures: i32 = r.try_get(2)?;
            open.push((
                r.try_get(0)?,
                r.try_get(1)?,
                u32::try_from(failures).unwrap_or(0),
            ));
        }
        Ok(QueueStats {
            by_status,
            oldest_due,
            outcome_backlog: count(outcome_backlog),
            inbound_backlog: count(inbound_backlog),
            circuits: open,
        })
    }

    async fn delivery_stats(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        grouping: StatsGrouping,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let ranges = ranges(since, until, grouping.period_secs);
        let sql = read_sql(
            grouping,
            &ranges,
            |k| format!("?{k}"),
            |p| format!("(minute / ({p} * 1000000)) * ({p} * 1000000)"),
        );
        let mut query = sqlx::query(&sql);
        for (_, from, to) in &ranges {
            query = query.bind(micros(*from)).bind(micros(*to));
        }
        if let Some(secs) = grouping.period_secs {
            query = query.bind(secs.max(1));
        }
        let mut out = Vec::new();
        for r in query.fetch_all(&self.pool).await? {
            let mut counters = [None; 5 + BUCKETS];
            for (k, c) in counters.iter_mut().enumerate() {
                *c = r.try_get(3 + k)?;
            }
            let period = r.try_get::<Option<i64>, _>(0)?.map(time).transpose()?;
            out.extend(stats_row(period, r.try_get(1)?, r.try_get(2)?, &counters));
        }
        Ok(out)
    }

    async fn prune_stats(
        &self,
        span: i64,
        before: DateTime<Utc>,
        n: usize,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM delivery_stats WHERE (span, minute, webhook_type, endpoint) IN (
                 SELECT span, minute, webhook_type, endpoint FROM delivery_stats
                 WHERE span = ?1 AND minute < ?2 ORDER BY minute LIMIT ?3)",
        )
        .bind(span)
        .bind(micros(before))
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn last_successes(
        &self,
        minutes_since: DateTime<Utc>,
        hours_since: DateTime<Utc>,
    ) -> Result<Vec<LastSuccess>, StoreError> {
        let rows = sqlx::query(&last_success_sql("?1", "?2"))
            .bind(micros(minutes_since))
            .bind(micros(hours_since))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(LastSuccess {
                webhook_type: r.try_get(0)?,
                endpoint: r.try_get(1)?,
                span: r.try_get(2)?,
                at: time(r.try_get(3)?)?,
            });
        }
        Ok(latest(out))
    }
}
