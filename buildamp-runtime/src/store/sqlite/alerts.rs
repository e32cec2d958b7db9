//! `alerts` and `alert_events` on SQLite.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::endpoints::publish_all;
use super::{SqliteStore, json_text, limit, micros, time, uuid};
use crate::store::alerts::ALERT_COLUMNS;
use crate::store::{AlertEventRow, AlertRow, AlertStore, Callback, StoreError};

fn alert(r: &SqliteRow) -> Result<AlertRow, StoreError> {
    Ok(AlertRow {
        id: uuid(r.try_get(0)?)?,
        key: r.try_get(1)?,
        rule: r.try_get(2)?,
        subject: r.try_get(3)?,
        summary: r.try_get(4)?,
        detail: json_text(r.try_get(5)?)?,
        fired_at: time(r.try_get(6)?)?,
        resolved_at: r.try_get::<Option<i64>, _>(7)?.map(time).transpose()?,
    })
}

impl AlertStore for SqliteStore {
    async fn open_alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE resolved_at IS NULL ORDER BY fired_at, key"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }

    async fn recent_alerts(&self, n: usize) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts ORDER BY fired_at DESC, id DESC LIMIT ?1"
        ))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }

    async fn fire_alert(
        &self,
        a: &AlertRow,
        callbacks: Vec<Callback<'_>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
             ON CONFLICT (key) WHERE resolved_at IS NULL DO NOTHING"
        ))
        .bind(a.id.to_string())
        .bind(&a.key)
        .bind(&a.rule)
        .bind(&a.subject)
        .bind(&a.summary)
        .bind(a.detail.to_string())
        .bind(micros(a.fired_at))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Ok(false);
        }
        log_event(&mut tx, a.id, "fired", a.fired_at).await?;
        let queued = publish_all(&mut tx, a.fired_at, callbacks).await?;
        tx.commit().await?;
        if queued {
            self.signal.notify_one();
        }
        Ok(true)
    }

    async fn resolve_alert(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        callbacks: Vec<Callback<'_>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done =
            sqlx::query("UPDATE alerts SET resolved_at = ?2 WHERE id = ?1 AND resolved_at IS NULL")
                .bind(id.to_string())
                .bind(micros(at))
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        log_event(&mut tx, id, "resolved", at).await?;
        let queued = publish_all(&mut tx, at, callbacks).await?;
        tx.commit().await?;
        if queued {
            self.signal.notify_one();
        }
        Ok(true)
    }

    async fn claim_alert_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<AlertEventRow>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let claimed = sqlx::query(
            "UPDATE alert_events SET available_at = ?2, deliveries = deliveries + 1
             WHERE id IN (SELECT id FROM alert_events WHERE available_at <= ?1
                          ORDER BY id LIMIT ?3)
             RETURNING id, alert_id, change, at, deliveries",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(limit(n))
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(claimed.len());
        for r in &claimed {
            let alert_id: String = r.try_get(1)?;
            let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))
                .bind(&alert_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("alert {alert_id} is gone")))?;
            events.push(AlertEventRow {
                id: r.try_get(0)?,
                change: r.try_get(2)?,
                at: time(r.try_get(3)?)?,
                deliveries: r.try_get(4)?,
                alert: alert(&row)?,
            });
        }
        tx.commit().await?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn ack_alert_event(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE alert_events SET available_at = NULL WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_alert_event(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alert_events SET available_at = ?2 WHERE id = ?1 AND available_at IS NOT NULL",
        )
        .bind(id)
        .bind(micros(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_alerts(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "DELETE FROM alerts WHERE id IN (
                 SELECT id FROM alerts WHERE resolved_at < ?1 ORDER BY resolved_at LIMIT ?2)
             RETURNING id",
        )
        .bind(micros(before))
        .bind(limit(n))
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM alert_events WHERE alert_id IN (SELECT value FROM json_each(?1))")
            .bind(serde_json::Value::from(ids.clone()).to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}

/// Logs an incident's `change` for the app's handlers, due at once, inside the caller's
/// transaction.
async fn log_event(
    tx: &mut SqliteConnection,
    id: Uuid,
    change: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alert_events (alert_id, change, at, available_at) VALUES (?1, ?2, ?3, ?3)",
    )
    .bind(id.to_string())
    .bind(change)
    .bind(micros(at))
    .execute(tx)
    .await?;
    Ok(())
}
