//! `inbound_events` on SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteStore, json_text, limit, micros, time};
use crate::queue::ExecutionId;
use crate::store::{InboundRecord, InboundRow, InboundStore, StoreError};

impl InboundStore for SqliteStore {
    async fn record_inbound(
        &self,
        event: &InboundRecord,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO inbound_events (provider, event_id, kind, execution_id, received_at,
                 event, available_at, deliveries)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)
             ON CONFLICT (provider, event_id) DO NOTHING",
        )
        .bind(&event.provider)
        .bind(&event.event_id)
        .bind(&event.kind)
        .bind(event.execution_id.map(|id| id.to_string()))
        .bind(micros(now))
        .bind(event.event.to_string())
        .bind(micros(lease_until))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn inbound_of(
        &self,
        execution: ExecutionId,
    ) -> Result<Vec<(DateTime<Utc>, serde_json::Value)>, StoreError> {
        let rows = sqlx::query(
            "SELECT received_at, event FROM inbound_events WHERE execution_id = ?1
             ORDER BY received_at, provider, event_id",
        )
        .bind(execution.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((time(r.try_get(0)?)?, json_text(r.try_get(1)?)?)))
            .collect()
    }

    async fn claim_inbound(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<InboundRow>, StoreError> {
        let rows = sqlx::query(
            "UPDATE inbound_events SET available_at = ?2, deliveries = deliveries + 1
             WHERE rowid IN (SELECT rowid FROM inbound_events
                             WHERE handled_at IS NULL AND available_at <= ?1
                             ORDER BY received_at LIMIT ?3)
             RETURNING provider, event_id, event, deliveries, received_at",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        let mut events = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>(4)?,
                    InboundRow {
                        provider: r.try_get(0)?,
                        event_id: r.try_get(1)?,
                        event: json_text(r.try_get(2)?)?,
                        deliveries: r.try_get(3)?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        events.sort_by_key(|(at, _)| *at);
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }

    async fn handled_inbound(
        &self,
        provider: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbound_events SET handled_at = ?3 WHERE provider = ?1 AND event_id = ?2",
        )
        .bind(provider)
        .bind(event_id)
        .bind(micros(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn retry_inbound(
        &self,
        provider: &str,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbound_events SET available_at = ?3
             WHERE provider = ?1 AND event_id = ?2 AND handled_at IS NULL",
        )
        .bind(provider)
        .bind(event_id)
        .bind(micros(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_inbound(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM inbound_events WHERE rowid IN (
                 SELECT rowid FROM inbound_events
                 WHERE handled_at IS NOT NULL AND received_at < ?1
                 ORDER BY received_at LIMIT ?2)",
        )
        .bind(micros(before))
        .bind(limit(n))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
