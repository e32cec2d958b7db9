//! Runtime configuration, from the environment (`BUILDAMP_*`, read with envy) or in code.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DATABASE_URL` | the queue's database | required by [`Config::from_env`] |
//! | `BUILDAMP_CONCURRENCY` | deliveries in flight at once, all targets together | 64 |
//! | `BUILDAMP_BATCH_SIZE` | rows claimed per statement | 256 |
//! | `BUILDAMP_LEASE_SECS` | how long a claimed row is held before the rescuer returns it; must exceed every target's timeout | 600 |
//! | `BUILDAMP_POLL_INTERVAL_MS` | how often an idle executor looks for work (`NOTIFY` wakes it sooner) | 1000 |
//! | `BUILDAMP_RESCUE_INTERVAL_SECS` | how often expired leases are rescued | 30 |
//! | `BUILDAMP_RETENTION_HOURS` | how long delivered rows are kept | 168 |
//! | `BUILDAMP_PRUNE_BATCH` | rows deleted per pruning statement | 1000 |
//! | `BUILDAMP_SHUTDOWN_GRACE_SECS` | how long shutdown waits for in-flight deliveries | 30 |
//! | `BUILDAMP_DB_POOL` | database connections | 16 |

use std::time::Duration;

use serde::Deserialize;

/// How the runtime runs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The queue's database URL.
    pub database_url: Option<String>,
    /// Deliveries in flight at once, all targets together.
    pub concurrency: usize,
    /// Rows claimed per statement.
    pub batch_size: usize,
    /// How long a claimed row is held; a crashed executor's rows return after it.
    pub lease: Duration,
    /// How often an idle executor looks for work.
    pub poll_interval: Duration,
    /// How often expired leases are rescued.
    pub rescue_interval: Duration,
    /// How long delivered rows are kept.
    pub retention: Duration,
    /// Rows deleted per pruning statement.
    pub prune_batch: usize,
    /// How long shutdown waits for in-flight deliveries before releasing them.
    pub shutdown_grace: Duration,
    /// Database connections.
    pub db_pool: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: None,
            concurrency: 64,
            batch_size: 256,
            lease: Duration::from_secs(600),
            poll_interval: Duration::from_millis(1000),
            rescue_interval: Duration::from_secs(30),
            retention: Duration::from_secs(168 * 3600),
            prune_batch: 1000,
            shutdown_grace: Duration::from_secs(30),
            db_pool: 16,
        }
    }
}

/// Every variable as text: parsed one by one below, so each bad value is named.
#[derive(Deserialize)]
struct Raw {
    concurrency: Option<String>,
    batch_size: Option<String>,
    lease_secs: Option<String>,
    poll_interval_ms: Option<String>,
    rescue_interval_secs: Option<String>,
    retention_hours: Option<String>,
    prune_batch: Option<String>,
    shutdown_grace_secs: Option<String>,
    db_pool: Option<String>,
}

/// What is wrong with the configuration: every problem, one a line.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.join("\n"))]
pub struct ConfigError {
    /// Each problem, naming its variable.
    pub problems: Vec<String>,
}

impl Config {
    /// Reads `DATABASE_URL` and the `BUILDAMP_*` variables of the process.
    ///
    /// # Errors
    /// [`ConfigError`] naming every missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the same variables from `vars`.
    ///
    /// # Errors
    /// [`ConfigError`] naming every missing or malformed variable.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut problems = Vec::new();
        let database_url = vars
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .map(|(_, v)| v.clone());
        if database_url.as_deref().is_none_or(str::is_empty) {
            problems.push("DATABASE_URL is not set: point it at the queue's database, like postgres://user@localhost/app".to_owned());
        }
        let raw: Raw = envy::prefixed("BUILDAMP_")
            .from_iter(vars)
            .map_err(|e| ConfigError {
                problems: vec![e.to_string()],
            })?;
        let defaults = Config::default();
        let mut number = |name: &str, value: Option<String>, default: u64, min: u64| -> u64 {
            match value {
                None => default,
                Some(text) => match text.trim().parse::<u64>() {
                    Ok(n) if n >= min => n,
                    Ok(n) => {
                        problems.push(format!(
                            "BUILDAMP_{name}={n} is too small: use at least {min}"
                        ));
                        default
                    }
                    Err(_) => {
                        problems.push(format!("BUILDAMP_{name}={text:?} is not a whole number"));
                        default
                    }
                },
            }
        };
        let secs = |d: Duration| d.as_secs();
        let config = Config {
            database_url,
            concurrency: number(
                "CONCURRENCY",
                raw.concurrency,
                defaults.concurrency as u64,
                1,
            ) as usize,
            batch_size: number("BATCH_SIZE", raw.batch_size, defaults.batch_size as u64, 1)
                as usize,
            lease: Duration::from_secs(number(
                "LEASE_SECS",
                raw.lease_secs,
                secs(defaults.lease),
                1,
            )),
            poll_interval: Duration::from_millis(number(
                "POLL_INTERVAL_MS",
                raw.poll_interval_ms,
                defaults.poll_interval.as_millis() as u64,
                10,
            )),
            rescue_interval: Duration::from_secs(number(
                "RESCUE_INTERVAL_SECS",
                raw.rescue_interval_secs,
                secs(defaults.rescue_interval),
                1,
            )),
            retention: Duration::from_secs(
                3600 * number(
                    "RETENTION_HOURS",
                    raw.retention_hours,
                    secs(defaults.retention) / 3600,
                    1,
                ),
            ),
            prune_batch: number(
                "PRUNE_BATCH",
                raw.prune_batch,
                defaults.prune_batch as u64,
                1,
            ) as usize,
            shutdown_grace: Duration::from_secs(number(
                "SHUTDOWN_GRACE_SECS",
                raw.shutdown_grace_secs,
                secs(defaults.shutdown_grace),
                0,
            )),
            db_pool: number("DB_POOL", raw.db_pool, u64::from(defaults.db_pool), 2)
                .min(u64::from(u32::MAX)) as u32,
        };
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_apply_to_unset_variables() {
        let config =
            Config::from_vars(vars(&[("DATABASE_URL", "postgres://localhost/app")])).unwrap();
        assert_eq!(config.concurrency, 64);
        assert_eq!(config.lease, Duration::from_secs(600));
        assert_eq!(
            config.database_url.as_deref(),
            Some("postgres://localhost/app")
        );
    }

    #[test]
    fn every_bad_variable_is_named_at_once() {
        let err = Config::from_vars(vars(&[
            ("BUILDAMP_CONCURRENCY", "lots"),
            ("BUILDAMP_BATCH_SIZE", "0"),
            ("BUILDAMP_LEASE_SECS", "30"),
        ]))
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.problems[0].starts_with("DATABASE_URL is not set"));
        assert!(err.problems[1].contains("BUILDAMP_CONCURRENCY=\"lots\" is not a whole number"));
        assert!(err.problems[2].contains("BUILDAMP_BATCH_SIZE=0 is too small"));
    }
}
