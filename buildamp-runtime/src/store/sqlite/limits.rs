//! `delivery_limits` and `delivery_slots` on SQLite (one writer: `BEGIN IMMEDIATE` is the lock).

use chrono::{DateTime, Utc};
use sqlx::Row;

use std::sync::LazyLock;

use super::{SqliteStore, limit, micros, time};
use crate::protect::{Admission, Decision, Slot};
use crate::queue::ExecutionId;
use crate::queue::Status;
use crate::store::{Decide, LimitStore, SlotRequest, StoreError, status_list};

/// Idle ordering counters with nothing of their key unsettled.
static PRUNE_SEQUENCES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM ordering_sequences WHERE rowid IN (
             SELECT s.rowid FROM ordering_sequences s
             WHERE s.updated_at < ?1 AND NOT EXISTS (
                 SELECT 1 FROM webhook_executions e
                 WHERE e.endpoint_id = s.endpoint_id AND e.ordering_key = s.ordering_key
                   AND e.status IN ({}))
             LIMIT ?2)",
        status_list(&Status::UNSETTLED)
    )
});

impl LimitStore for SqliteStore {
    async fn admit(
        &self,
        request: SlotRequest<'_>,
        decide: Decide<'_>,
    ) -> Result<Decision, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let next_turn: Option<i64> = sqlx::query_scalar(
            "INSERT INTO delivery_limits (key) VALUES (?1)
             ON CONFLICT (key) DO UPDATE SET key = excluded.key
             RETURNING next_turn",
        )
        .bind(request.key)
        .fetch_one(&mut *tx)
        .await?;
        let next_turn = next_turn.map(time).transpose()?;
        sqlx::query(
            "DELETE FROM delivery_slots
             WHERE key = ?1 AND COALESCE(released_at, lease_until) < ?2",
        )
        .bind(request.key)
        .bind(micros(request.forget_before))
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(
            "SELECT admitted_at, lease_until, released_at FROM delivery_slots WHERE key = ?1",
        )
        .bind(request.key)
        .fetch_all(&mut *tx)
        .await?;
        let slots = rows
            .iter()
            .map(|r| {
                Ok(Slot {
                    admitted_at: time(r.try_get(0)?)?,
                    lease_until: time(r.try_get(1)?)?,
                    released_at: r.try_get::<Option<i64>, _>(2)?.map(time).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let decision = decide(&slots, next_turn);
        if decision.admission == Admission::Admit {
            sqlx::query(
                "INSERT INTO delivery_slots (execution_id, attempt, key, admitted_at, lease_until)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (execution_id, attempt) DO NOTHING",
            )
            .bind(request.execution.0.to_string())
            .bind(request.attempt)
            .bind(request.key)
            .bind(micros(request.now))
            .bind(micros(request.lease_until))
            .execute(&mut *tx)
            .await?;
        }
        if decision.next_turn != next_turn {
            sqlx::query("UPDATE delivery_limits SET next_turn = ?2 WHERE key = ?1")
                .bind(request.key)
                .bind(decision.next_turn.map(micros))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(decision)
    }

    async fn prune_protection(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let statements = [
            "DELETE FROM delivery_slots WHERE rowid IN (
                 SELECT rowid FROM delivery_slots
                 WHERE COALESCE(released_at, lease_until) < ?1 LIMIT ?2)",
            "DELETE FROM health_changes WHERE id IN (
                 SELECT id FROM health_changes WHERE at < ?1 LIMIT ?2)",
            "DELETE FROM circuits WHERE key IN (
                 SELECT key FROM circuits
                 WHERE state = 'closed' AND failures = 0 AND changed_at < ?1 LIMIT ?2)",
        ];
        let mut deleted = 0;
        for statement in statements.iter().copied().chain([PRUNE_SEQUENCES.as_str()]) {
            deleted += sqlx::query(statement)
                .bind(micros(before))
                .bind(limit(n))
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }

    async fn release_slot(
        &self,
        execution: ExecutionId,
        attempt: i32,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE delivery_slots SET released_at = ?3
             WHERE execution_id = ?1 AND attempt = ?2 AND released_at IS NULL",
        )
        .bind(execution.0.to_string())
        .bind(attempt)
        .bind(micros(at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
