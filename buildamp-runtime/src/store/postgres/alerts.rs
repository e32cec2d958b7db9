//! `alerts` and `alert_events` on Postgres.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::endpoints::publish_all;
use super::{PgStore, limit};
use crate::store::alerts::ALERT_COLUMNS;
use crate::store::{AlertEventRow, AlertRow, AlertStore, Callback, StoreError};

fn alert(r: &PgRow, from: usize) -> Result<AlertRow, StoreError> {
    Ok(AlertRow {
        id: r.try_get(from)?,
        key: r.try_get(from + 1)?,
        rule: r.try_get(from + 2)?,
        subject: r.try_get(from + 3)?,
        summary: r.try_get(from + 4)?,
        detail: r.try_get(from + 5)?,
        fired_at: r.try_get(from + 6)?,
        resolved_at: r.try_get(from + 7)?,
    })
}

impl AlertStore for PgStore {
    async fn open_alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE resolved_at IS NULL ORDER BY fired_at, key"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| alert(r, 0)).collect()
    }

    async fn recent_alerts(&self, n: usize) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts ORDER BY fired_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| alert(r, 0)).collect()
    }

    async fn fire_alert(
        &self,
        a: &AlertRow,
        callbacks: Vec<Callback<'_>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
             ON CONFLICT (key) WHERE resolved_at IS NULL DO NOTHING"
        ))
        .bind(a.id)
        .bind(&a.key)
        .bind(&a.rule)
        .bind(&a.subject)
        .bind(&a.summary)
        .bind(&a.detail)
        .bind(a.fired_at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Ok(false);
        }
        log_event(&mut tx, a.id, "fired", a.fired_at).await?;
        let queued = publish_all(&mut tx, a.fired_at, callbacks).await?;
        tx.commit().await?;
        if queued {
            self.announce();
        }
        Ok(true)
    }

    async fn resolve_alert(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        callbacks: Vec<Callback<'_>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL")
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        log_event(&mut tx, id, "resolved", at).await?;
        let queued = publish_all(&mut tx, at, callbacks).await?;
        tx.commit().await?;
        if queued {
            self.announce();
        }
        Ok(true)
    }

    async fn claim_alert_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<AlertEventRow>, StoreError> {
        let columns = ALERT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "WITH claimed AS (
                 UPDATE alert_events e SET available_at = $2, deliveries = e.deliveries + 1
                 FROM (SELECT id FROM alert_events WHERE available_at <= $1
                       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due
                 WHERE e.id = due.id
                 RETURNING e.id, e.alert_id, e.change, e.at, e.deliveries)
             SELECT c.id, c.change, c.at, c.deliveries, {columns}
             FROM claimed c JOIN alerts a ON a.id = c.alert_id ORDER BY c.id"
        ))
        .bind(now)
        .bind(lease_until)
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertEventRow {
                    id: r.try_get(0)?,
                    change: r.try_get(1)?,
                    at: r.try_get(2)?,
                    deliveries: r.try_get(3)?,
                    alert: alert(r, 4)?,
                })
            })
            .collect()
    }

    async fn ack_alert_event(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE alert_events SET available_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_alert_event(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alert_events SET available_at = $2 WHERE id = $1 AND available_at IS NOT NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_alerts(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "DELETE FROM alerts WHERE id IN (
                 SELECT id FROM alerts WHERE resolved_at < $1 ORDER BY resolved_at LIMIT $2)
             RETURNING id",
        )
        .bind(before)
        .bind(limit(n))
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM alert_events WHERE alert_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}

/// Logs an incident's `change` for the app's handlers, due at once, inside the caller's
/// transaction.
async fn log_event(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    change: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alert_events (alert_id, change, at, available_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(id)
    .bind(change)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}
