//! `webhook_outcomes` on SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteStore, limit, micros, opt_uuid, time, uuid};
use crate::queue::ExecutionId;
use crate::store::outcomes::outcome_kind;
use crate::store::{OutcomeRow, OutcomeStore, StoreError};

impl OutcomeStore for SqliteStore {
    async fn claim_outcomes(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<OutcomeRow>, StoreError> {
        let rows = sqlx::query(
            "UPDATE webhook_outcomes SET available_at = ?2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM webhook_outcomes WHERE available_at <= ?1 ORDER BY id LIMIT ?3)
             RETURNING id, execution_id, kind, webhook_type, correlation_id, response_status,
                 response_body, error_message, created_at, attempts",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        let mut events = rows
            .iter()
            .map(|r| {
                Ok(OutcomeRow {
                    id: r.try_get(0)?,
                    execution_id: ExecutionId(uuid(r.try_get(1)?)?),
                    kind: outcome_kind(r.try_get(2)?)?,
                    webhook_type: r.try_get(3)?,
                    correlation_id: opt_uuid(r.try_get(4)?)?,
                    response_status: r.try_get(5)?,
                    response_body: r.try_get(6)?,
                    error_message: r.try_get(7)?,
                    created_at: time(r.try_get(8)?)?,
                    deliveries: r.try_get(9)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn ack_outcome(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_outcomes WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_outcome(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE webhook_outcomes SET available_at = ?2 WHERE id = ?1")
            .bind(id)
            .bind(micros(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_outcomes(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM webhook_outcomes WHERE id IN (
                 SELECT id FROM webhook_outcomes WHERE available_at < ?1
                 ORDER BY id LIMIT ?2)",
        )
        .bind(micros(before))
        .bind(limit(n))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
