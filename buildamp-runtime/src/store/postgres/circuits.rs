//! `circuits` and `circuit_changes` on Postgres.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PgStore, limit};
use crate::protect::{Change, Circuit, CircuitState};
use crate::queue::ExecutionId;
use crate::store::circuits::{change_name, change_of};
use crate::store::{ChangeCircuit, CircuitChange, CircuitStore, StoreError};

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
            sqlx::query(
                "INSERT INTO circuit_changes (key, change, at, failures, cool_down_ms)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(key)
            .bind(change_name(change))
            .bind(next.changed_at)
            .bind(i32::try_from(next.failures).unwrap_or(i32::MAX))
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
             WHERE key = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(key)
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CircuitChange {
                    change: change_of(r.try_get(0)?)?,
                    at: r.try_get(1)?,
                    failures: u32::try_from(r.try_get::<i32, _>(2)?).unwrap_or(0),
                    cool_down_ms: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                })
            })
            .collect()
    }
}
