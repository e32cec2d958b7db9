//! `circuits` and `health_changes` on SQLite (one writer: `BEGIN IMMEDIATE` is the lock).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{SqliteStore, limit, micros, time, uuid};
use crate::protect::{Change, Circuit, CircuitState};
use crate::queue::ExecutionId;
use crate::store::circuits::{change_of, record_of};
use crate::store::{ChangeCircuit, CircuitStore, HealthEventRow, HealthRecord, StoreError};

const COLUMNS: &str =
    "state, failures, failing_since, cool_down_ms, until_at, probe_id, changed_at";

fn opt_time(us: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    us.map(time).transpose()
}

fn circuit(r: &SqliteRow, from: usize) -> Result<Circuit, StoreError> {
    let state: String = r.try_get(from)?;
    Ok(Circuit {
        state: CircuitState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown circuit state `{state}`")))?,
        failures: u32::try_from(r.try_get::<i64, _>(from + 1)?).unwrap_or(0),
        failing_since: opt_time(r.try_get(from + 2)?)?,
        cool_down: Duration::from_millis(
            u64::try_from(r.try_get::<i64, _>(from + 3)?).unwrap_or(0),
        ),
        until: opt_time(r.try_get(from + 4)?)?,
        probe: r
            .try_get::<Option<String>, _>(from + 5)?
            .map(|p| uuid(&p).map(ExecutionId))
            .transpose()?,
        changed_at: time(r.try_get(from + 6)?)?,
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl CircuitStore for SqliteStore {
    async fn circuits(&self) -> Result<Vec<(String, Circuit)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT key, {COLUMNS} FROM circuits WHERE state <> 'closed' OR failures > 0"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, circuit(r, 1)?)))
            .collect()
    }

    async fn circuit(&self, key: &str) -> Result<Option<Circuit>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM circuits WHERE key = ?1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| circuit(&r, 0))
            .transpose()
            .map(|c| c.filter(|c| !c.is_clean()))
    }

    async fn change_circuit(
        &self,
        key: &str,
        decide: ChangeCircuit<'_>,
    ) -> Result<Option<(Circuit, Option<Change>)>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM circuits WHERE key = ?1"))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let stored = row.map(|r| circuit(&r, 0)).transpose()?;
        let Some((next, change)) = decide(stored.as_ref().filter(|c| !c.is_clean())) else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO circuits (key, state, failures, failing_since, cool_down_ms, until_at,
                 probe_id, changed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (key) DO UPDATE SET state = excluded.state, failures = excluded.failures,
                 failing_since = excluded.failing_since, cool_down_ms = excluded.cool_down_ms,
                 until_at = excluded.until_at, probe_id = excluded.probe_id,
                 changed_at = excluded.changed_at",
        )
        .bind(key)
        .bind(next.state.as_str())
        .bind(i64::from(next.failures))
        .bind(next.failing_since.map(micros))
        .bind(millis(next.cool_down))
        .bind(next.until.map(micros))
        .bind(next.probe.map(|p| p.0.to_string()))
        .bind(micros(next.changed_at))
        .execute(&mut *tx)
        .await?;
        if let Some(change) = change {
            log_change(&mut tx, key, &record_of(change, &next)).await?;
        }
        tx.commit().await?;
        Ok(Some((next, change)))
    }

    async fn health_changes(&self, key: &str, n: usize) -> Result<Vec<HealthRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD} FROM health_changes WHERE key = ?1 ORDER BY id DESC LIMIT ?2"
        ))
        .bind(key)
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| record(r, 0)).collect()
    }

    async fn claim_health_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<HealthEventRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "UPDATE health_changes SET available_at = ?2, deliveries = deliveries + 1
             WHERE id IN (SELECT id FROM health_changes WHERE available_at <= ?1
                          ORDER BY id LIMIT ?3)
             RETURNING id, key, deliveries, {RECORD}"
        ))
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        let mut events = rows
            .iter()
            .map(|r| {
                Ok(HealthEventRow {
                    id: r.try_get(0)?,
                    key: r.try_get(1)?,
                    deliveries: r.try_get(2)?,
                    record: record(r, 3)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn ack_health_event(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE health_changes SET available_at = NULL WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_health_event(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE health_changes SET available_at = ?2 WHERE id = ?1 AND available_at IS NOT NULL",
        )
        .bind(id)
        .bind(micros(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A health record's columns.
const RECORD: &str = "change, at, failures, cool_down_ms, reason";

fn record(r: &SqliteRow, from: usize) -> Result<HealthRecord, StoreError> {
    Ok(HealthRecord {
        change: change_of(r.try_get(from)?)?,
        at: time(r.try_get(from + 1)?)?,
        failures: u32::try_from(r.try_get::<i64, _>(from + 2)?).unwrap_or(0),
        cool_down_ms: u64::try_from(r.try_get::<i64, _>(from + 3)?).unwrap_or(0),
        reason: r.try_get(from + 4)?,
    })
}

/// Logs `record` for `key`, due for the app's handlers now, inside the caller's transaction.
pub(super) async fn log_change(
    tx: &mut SqliteConnection,
    key: &str,
    record: &HealthRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO health_changes (key, change, at, failures, cool_down_ms, reason, available_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3)",
    )
    .bind(key)
    .bind(record.change.as_str())
    .bind(micros(record.at))
    .bind(i64::from(record.failures))
    .bind(i64::try_from(record.cool_down_ms).unwrap_or(i64::MAX))
    .bind(&record.reason)
    .execute(tx)
    .await?;
    Ok(())
}
