//! `circuits` and `health_changes` on Postgres.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{PgStore, limit};
use crate::protect::{Change, Circuit, CircuitState};
use crate::queue::ExecutionId;
use crate::store::circuits::{change_of, record_of};
use crate::store::{ChangeCircuit, CircuitStore, HealthEventRow, HealthRecord, StoreError};

const COLUMNS: &str =
    "state, failures, failing_since, cool_down_ms, until_at, probe_id, changed_at";

fn circuit(r: &PgRow, from: usize) -> Result<Circuit, StoreError> {
    let state: String = r.try_get(from)?;
    Ok(Circuit {
        state: CircuitState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown circuit state `{state}`")))?,
        failures: u32::try_from(r.try_get::<i32, _>(from + 1)?).unwrap_or(0),
        failing_since: r.try_get(from + 2)?,
        cool_down: Duration::from_millis(
            u64::try_from(r.try_get::<i64, _>(from + 3)?).unwrap_or(0),
        ),
        until: r.try_get(from + 4)?,
        probe: r
            .try_get::<Option<uuid::Uuid>, _>(from + 5)?
            .map(ExecutionId),
        changed_at: r.try_get(from + 6)?,
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl CircuitStore for PgStore {
    async fn circuits(&self) -> Result<Vec<(String, Circuit)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT key, {COLUMNS} FROM circuits WHERE state <> 'closed' OR failures > 0"
        ))
        .fetch_all(&self.transitions)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, circuit(r, 1)?)))
            .collect()
    }

    async fn circuit(&self, key: &str) -> Result<Option<Circuit>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM circuits WHERE key = $1"))
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
        let mut tx = self.transitions.begin().await?;
        // Creates the destination's row if need be, and locks it.
        let row = sqlx::query(&format!(
            "INSERT INTO circuits (key, state, failures, cool_down_ms, changed_at)
             VALUES ($1, 'closed', 0, 0, now())
             ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
             RETURNING {COLUMNS}"
        ))
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let stored = circuit(&row, 0)?;
        let Some((next, change)) = decide(Some(&stored).filter(|c| !c.is_clean())) else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query(
            "UPDATE circuits SET state = $2, failures = $3, failing_since = $4, cool_down_ms = $5,
                 until_at = $6, probe_id = $7, changed_at = $8
             WHERE key = $1",
        )
        .bind(key)
        .bind(next.state.as_str())
        .bind(i32::try_from(next.failures).unwrap_or(i32::MAX))
        .bind(next.failing_since)
        .bind(millis(next.cool_down))
        .bind(next.until)
        .bind(next.probe.map(|p| p.0))
        .bind(next.changed_at)
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
            "SELECT {RECORD} FROM health_changes WHERE key = $1 ORDER BY id DESC LIMIT $2"
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
            "UPDATE health_changes h
             SET available_at = $2, deliveries = h.deliveries + 1
             FROM (SELECT id FROM health_changes WHERE available_at <= $1
                   ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due
             WHERE h.id = due.id
             RETURNING h.id, key, deliveries, {RECORD}"
        ))
        .bind(now)
        .bind(lease_until)
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
        sqlx::query("UPDATE health_changes SET available_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_health_event(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE health_changes SET available_at = $2 WHERE id = $1 AND available_at IS NOT NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A health record's columns.
const RECORD: &str = "change, at, failures, cool_down_ms, reason";

fn record(r: &PgRow, from: usize) -> Result<HealthRecord, StoreError> {
    Ok(HealthRecord {
        change: change_of(r.try_get(from)?)?,
        at: r.try_get(from + 1)?,
        failures: u32::try_from(r.try_get::<i32, _>(from + 2)?).unwrap_or(0),
        cool_down_ms: u64::try_from(r.try_get::<i64, _>(from + 3)?).unwrap_or(0),
        reason: r.try_get(from + 4)?,
    })
}

/// Logs `record` for `key`, due for the app's handlers now, inside the caller's transaction.
pub(super) async fn log_change(
    tx: &mut PgConnection,
    key: &str,
    record: &HealthRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO health_changes (key, change, at, failures, cool_down_ms, reason, available_at)
         VALUES ($1, $2, $3, $4, $5, $6, $3)",
    )
    .bind(key)
    .bind(record.change.as_str())
    .bind(record.at)
    .bind(i32::try_from(record.failures).unwrap_or(i32::MAX))
    .bind(i64::try_from(record.cool_down_ms).unwrap_or(i64::MAX))
    .bind(&record.reason)
    .execute(tx)
    .await?;
    Ok(())
}
