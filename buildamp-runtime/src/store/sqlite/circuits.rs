//! `circuits` and `circuit_changes` on SQLite (one writer: `BEGIN IMMEDIATE` is the lock).

use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, limit, micros, time, uuid};
use crate::protect::{Change, Circuit, CircuitState};
use crate::queue::ExecutionId;
use crate::store::circuits::{change_name, change_of};
use crate::store::{ChangeCircuit, CircuitChange, CircuitStore, StoreError};

const COLUMNS: &str =
    "state, failures, failing_since, cool_down_ms, until_at, probe_id, changed_at";

fn opt_time(us: Option<i64>) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
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
            sqlx::query(
                "INSERT INTO circuit_changes (key, change, at, failures, cool_down_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(key)
            .bind(change_name(change))
            .bind(micros(next.changed_at))
            .bind(i64::from(next.failures))
            .bind(if change == Change::Closed {
                0
            } else {
                millis(next.cool_down)
            })
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some((next, change)))
    }

    async fn circuit_changes(&self, key: &str, n: usize) -> Result<Vec<CircuitChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT change, at, failures, cool_down_ms FROM circuit_changes
             WHERE key = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(key)
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CircuitChange {
                    change: change_of(r.try_get(0)?)?,
                    at: time(r.try_get(1)?)?,
                    failures: u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                    cool_down_ms: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                })
            })
            .collect()
    }
}
