//! `transactions` and `transaction_messages` on SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::endpoints::{publish_all, publish_on};
use super::{SqliteStore, json_text, limit, micros, time, uuid};
use crate::store::{
    Callback, MessageState, StoreError, TransactionCounts, TransactionRow, TransactionStore,
};

const COLUMNS: &str =
    "id, endpoint_id, state, deadline, completed_at, version, created_at, updated_at";

fn transaction(r: &SqliteRow) -> Result<TransactionRow, StoreError> {
    Ok(TransactionRow {
        id: uuid(r.try_get(0)?)?,
        endpoint_id: uuid(r.try_get(1)?)?,
        state: json_text(r.try_get(2)?)?,
        deadline: time(r.try_get(3)?)?,
        completed_at: r.try_get::<Option<i64>, _>(4)?.map(time).transpose()?,
        version: r.try_get(5)?,
        created_at: time(r.try_get(6)?)?,
        updated_at: time(r.try_get(7)?)?,
    })
}

impl TransactionStore for SqliteStore {
    async fn insert_transaction(
        &self,
        row: &TransactionRow,
        callbacks: Vec<Callback<'_>>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(&format!(
            "INSERT INTO transactions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .bind(row.id.to_string())
        .bind(row.endpoint_id.to_string())
        .bind(row.state.to_string())
        .bind(micros(row.deadline))
        .bind(row.completed_at.map(micros))
        .bind(row.version)
        .bind(micros(row.created_at))
        .bind(micros(row.updated_at))
        .execute(&mut *tx)
        .await?;
        let queued = publish_all(&mut tx, row.updated_at, callbacks).await?;
        tx.commit().await?;
        if queued {
            self.signal.notify_one();
        }
        Ok(())
    }

    async fn transaction(&self, id: Uuid) -> Result<Option<TransactionRow>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM transactions WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(transaction)
            .transpose()
    }

    async fn transaction_counts(&self, id: Uuid) -> Result<TransactionCounts, StoreError> {
        let statuses = sqlx::query(
            "SELECT status, count(*) FROM webhook_executions WHERE correlation_id = ?1
             GROUP BY status",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let states = sqlx::query(
            "SELECT state, final, count(*) FROM transaction_messages WHERE transaction_id = ?1
             GROUP BY state, final",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(TransactionCounts {
            by_status: statuses
                .iter()
                .map(|r| Ok((r.try_get::<&str, _>(0)?.parse()?, count(r.try_get(1)?))))
                .collect::<Result<_, StoreError>>()?,
            by_state: states
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, count(r.try_get(2)?))))
                .collect::<Result<_, StoreError>>()?,
        })
    }

    async fn advance_transaction(
        &self,
        row: &TransactionRow,
        seen: i64,
        callbacks: Vec<Callback<'_>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE transactions SET state = ?2, deadline = ?3, completed_at = ?4, version = ?5,
                 updated_at = ?6
             WHERE id = ?1 AND version = ?7",
        )
        .bind(row.id.to_string())
        .bind(row.state.to_string())
        .bind(micros(row.deadline))
        .bind(row.completed_at.map(micros))
        .bind(row.version)
        .bind(micros(row.updated_at))
        .bind(seen)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let queued = publish_all(&mut tx, row.updated_at, callbacks).await?;
        tx.commit().await?;
        if queued {
            self.signal.notify_one();
        }
        Ok(true)
    }

    async fn track_message(
        &self,
        state: &MessageState,
        now: DateTime<Utc>,
        callback: Option<Callback<'_>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut queued = false;
        if let Some((event, route)) = callback {
            let (published, any) = publish_on(&mut tx, now, event, route).await?;
            if published.duplicate {
                return Ok(false);
            }
            queued = any;
        }
        sqlx::query(
            "INSERT INTO transaction_messages (transaction_id, execution_id, state, final, events,
                 updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (transaction_id, execution_id) DO UPDATE
                 SET state = excluded.state, final = excluded.final, events = excluded.events,
                     updated_at = excluded.updated_at
                 WHERE excluded.events >= transaction_messages.events",
        )
        .bind(state.transaction_id.to_string())
        .bind(state.execution_id.to_string())
        .bind(&state.state)
        .bind(state.is_final)
        .bind(state.events)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if queued {
            self.signal.notify_one();
        }
        Ok(true)
    }

    async fn overdue_transactions(
        &self,
        now: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM transactions WHERE completed_at IS NULL AND deadline <= ?1
             ORDER BY deadline LIMIT ?2",
        )
        .bind(micros(now))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|id| uuid(id)).collect()
    }

    async fn prune_transactions(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let oldest = "SELECT {} FROM transactions WHERE completed_at < ?1
                      ORDER BY completed_at LIMIT ?2";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for statement in [
            format!(
                "DELETE FROM transaction_messages WHERE transaction_id IN ({})",
                oldest.replace("{}", "id")
            ),
            format!(
                "DELETE FROM endpoints WHERE id IN ({})",
                oldest.replace("{}", "endpoint_id")
            ),
        ] {
            sqlx::query(&statement)
                .bind(micros(before))
                .bind(limit(n))
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query(&format!(
            "DELETE FROM transactions WHERE id IN ({})",
            oldest.replace("{}", "id")
        ))
        .bind(micros(before))
        .bind(limit(n))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
