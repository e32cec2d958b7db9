//! The benchmark harness: speed and memory are measured here, never asserted in tests.
//!
//! ```text
//! cargo run --release --example bench -- --mode <drain|e2e|http|queue|ceiling> --deliveries N
//!     --concurrency C [--sink-url URL] [--sink-delay-ms D] [--rate R] [--resume] [--ceiling]
//! cargo run --release --example bench -- --mode fanout --events E --endpoints K --concurrency C
//! ```
//!
//! - `drain`: enqueue N first (timed separately, as `enqueue_per_sec`), then time the executor
//!   delivering them to the sink.
//! - `e2e`: N single triggers through the trigger API (at R per second with `--rate`, else from C
//!   concurrent callers), timed from the first trigger until the last delivery arrives.
//! - `http`: N triggers through the HTTP API's route (`POST /buildamp/webhooks/{Name}`, served in
//!   this process by `buildamp::http::serve`) from C concurrent HTTP clients, timed until the
//!   last delivery arrives; `request_p50_ms`/`request_p99_ms` are the clients' answer times.
//! - `queue`: the queue alone: enqueue, claim and complete in batches, no HTTP.
//! - `fanout`: the webhooks service: K endpoints subscribed to `bench.ping`, E events published
//!   first (from C concurrent publishers, timed as `publish_per_sec`), then the executor
//!   delivering the E×K signed deliveries timed at the sink; then, in the same run, `drain` of as
//!   many plain `#[target]` deliveries with the same concurrency, as `drain_per_sec` and
//!   `ratio_to_drain`. R rounds (default 3) alternate the two; the medians are reported.
//! - `ceiling`: what this machine can do at all with this table shape: a minimal hand-written
//!   queue (claim 100 with `FOR UPDATE SKIP LOCKED`, one POST each to the same sink, complete the
//!   batch in one `UPDATE`), no state machine, no attempt log, no outcome events. `--ceiling` on
//!   any other mode runs it right after, on as many fresh rows with the same concurrency, and
//!   adds `ceiling_per_sec` and `ratio_to_ceiling`: figures from a shared machine compare only as
//!   ratios to a reference measured in the same run.
//! - `analytics`: a month of the delivery rollup for N attempts (4 webhooks, one to 5
//!   endpoints), then the analytics' month-wide queries (overview, hourly and daily trends), each
//!   the median of 5, with `*_ratio_to_scan`: the same rows read by one plain `sum()`; and what
//!   the dashboard and the alert evaluator read each time (`health_ms`, `alert_observe_ms`).
//! - `sink --port P`: only serve the sink, until killed, for a run whose `--sink-url` points at it
//!   (so the measured process holds the executor alone: its `max_rss_mb` is the executor's).
//!
//! The sink is the harness's own HTTP server on 127.0.0.1 (answering 204 after D ms), or
//! `--sink-url`. Every delivery carries its execution id as `Idempotency-Key`, which is how the sink
//! (or an external one) counts duplicates and losses. It prints one JSON line. The database is
//! `DATABASE_URL` (`postgres://…`, created if missing, or `sqlite://path`), else `buildamp_bench`
//! on the local Postgres server; each run starts from an empty queue unless `--resume`, which
//! finishes what a killed run left (treating its claimed rows as abandoned: a bench is the
//! database's only executor; the rows left are pointed at this run's sink, and only they are
//! waited for).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use buildamp::Event as _;
use buildamp::api::{Authorizer, Caller, ReadRequest, Refused, TriggerRequest};
use buildamp::delivery::guard::AddressPolicy;
use buildamp::http::ServeLimits;
use buildamp::queue::{self, AttemptResult, Event, Progress, RetryRules};
use buildamp::service::secrets::SecretKeys;
use buildamp::store::{AttemptReport, Move};
use buildamp::{
    BuildAmpWebhook, Clock, Config, DatabaseUrl, Env, PgStore, Runtime, SqliteStore, Store,
    SystemClock, Webhook, error_chain,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What `http` mode triggers through the API (a frontend webhook: not `server_only`).
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{BENCH_SINK_URL}", idempotency_header = "Idempotency-Key")]
pub struct BenchHttpPing {
    /// Which delivery.
    pub seq: u64,
    /// When it was triggered, in microseconds since the epoch.
    pub t_us: u64,
}

/// Lets every bench client trigger and read: the bench measures the route, not a policy.
struct AllowAll;

impl Authorizer for AllowAll {
    async fn authenticate(&self, _: &HeaderMap) -> Result<Caller, Refused> {
        Ok(Caller("bench".into()))
    }
    async fn authorize_trigger(&self, _: &TriggerRequest<'_>) -> Result<(), Refused> {
        Ok(())
    }
    async fn authorize_read(&self, _: &ReadRequest<'_>) -> Result<(), Refused> {
        Ok(())
    }
}

/// What the bench delivers: a sequence number and the trigger time, for latency.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{BENCH_SINK_URL}",
    idempotency_header = "Idempotency-Key",
    server_only = true
)]
pub struct BenchPing {
    /// Which delivery.
    pub seq: u64,
    /// When it was triggered, in microseconds since the epoch.
    pub t_us: u64,
}

/// What `fanout` mode publishes to every endpoint.
#[derive(Serialize, Deserialize, buildamp::BuildAmpEvent)]
#[event(name = "bench.ping", version = "1")]
pub struct BenchEvent {
    /// Which event.
    pub seq: u64,
    /// When it was published, in microseconds since the epoch.
    pub t_us: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Drain,
    Fanout,
    E2e,
    Http,
    Queue,
    Ceiling,
    Sink,
    Analytics,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Drain => "drain",
            Mode::Fanout => "fanout",
            Mode::E2e => "e2e",
            Mode::Http => "http",
            Mode::Queue => "queue",
            Mode::Ceiling => "ceiling",
            Mode::Sink => "sink",
            Mode::Analytics => "analytics",
        }
    }
}

struct Args {
    mode: Mode,
    deliveries: u64,
    concurrency: usize,
    sink_url: Option<String>,
    sink_delay_ms: u64,
    rate: Option<u64>,
    resume: bool,
    ceiling: bool,
    port: u16,
    events: u64,
    endpoints: u64,
    rounds: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench --mode <drain|e2e|http|queue|ceiling> --deliveries N --concurrency C [--sink-url URL] [--sink-delay-ms D] [--rate R] [--resume] [--ceiling]\n       bench --mode fanout --events E --endpoints K --concurrency C [--rounds R] [--sink-delay-ms D] [--ceiling]\n       bench --mode sink --port P [--sink-delay-ms D]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        mode: Mode::Drain,
        deliveries: 10_000,
        concurrency: 64,
        sink_url: None,
        sink_delay_ms: 0,
        rate: None,
        resume: false,
        ceiling: false,
        port: 0,
        events: 1_000,
        endpoints: 10,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--mode" => {
                args.mode = match value().as_str() {
                    "drain" => Mode::Drain,
                    "fanout" => Mode::Fanout,
                    "e2e" => Mode::E2e,
                    "http" => Mode::Http,
                    "queue" => Mode::Queue,
                    "ceiling" => Mode::Ceiling,
                    "sink" => Mode::Sink,
                    "analytics" => Mode::Analytics,
                    _ => usage(),
                }
            }
            "--deliveries" => args.deliveries = value().parse().unwrap_or_else(|_| usage()),
            "--concurrency" => args.concurrency = value().parse().unwrap_or_else(|_| usage()),
            "--sink-url" => args.sink_url = Some(value()),
            "--sink-delay-ms" => args.sink_delay_ms = value().parse().unwrap_or_else(|_| usage()),
            "--rate" => args.rate = Some(value().parse().unwrap_or_else(|_| usage())),
            "--resume" => args.resume = true,
            "--ceiling" => args.ceiling = true,
            "--port" => args.port = value().parse().unwrap_or_else(|_| usage()),
            "--events" => args.events = value().parse().unwrap_or_else(|_| usage()),
            "--endpoints" => args.endpoints = value().parse().unwrap_or_else(|_| usage()),
            "--rounds" => args.rounds = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if args.deliveries == 0
        || args.concurrency == 0
        || args.events == 0
        || args.endpoints == 0
        || args.rounds == 0
    {
        usage();
    }
    if args.mode == Mode::Fanout {
        // The sink waits for every delivery; `--deliveries` is E×K here.
        args.deliveries = args.events * args.endpoints;
        if args.resume || args.sink_url.is_some() {
            eprintln!("fanout runs from an empty queue with its own sink");
            usage();
        }
    }
    args
}

/// The harness's own sink: counts unique idempotency keys and records latencies.
struct Sink {
    seen: Mutex<HashSet<Bytes>>,
    requests: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
    unique: watch::Sender<u64>,
    delay: Duration,
}

async fn sink(
    State(sink): State<Arc<Sink>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if !sink.delay.is_zero() {
        tokio::time::sleep(sink.delay).await;
    }
    let now = now_us();
    sink.requests.fetch_add(1, Ordering::Relaxed);
    // A webhook's body is the ping; an event's delivery carries it as the envelope's `data`.
    // Only the time is read (the rest skipped, not built), so a bigger body costs the sink little.
    #[derive(Deserialize)]
    struct Probe {
        t_us: Option<u64>,
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    struct Data {
        t_us: u64,
    }
    let t_us = serde_json::from_slice::<Probe>(&body)
        .ok()
        .and_then(|p| p.t_us.or(p.data.map(|d| d.t_us)));
    if let Some(t_us) = t_us {
        sink.latencies_us
            .lock()
            .unwrap()
            .push(now.saturating_sub(t_us));
    }
    // A webhook's delivery is one execution id; an event's, its id at one endpoint (the path).
    let key = match (headers.get("idempotency-key"), headers.get("webhook-id")) {
        (Some(key), _) => Bytes::copy_from_slice(key.as_bytes()),
        (None, Some(id)) => Bytes::from(format!(
            "{}|{}",
            uri.path(),
            id.to_str().unwrap_or_default()
        )),
        (None, None) => Bytes::new(),
    };
    if sink.seen.lock().unwrap().insert(key) {
        sink.unique.send_modify(|n| *n += 1);
    }
    StatusCode::NO_CONTENT
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// `BENCH_SINK_URL` for the model, on top of the process environment.
struct BenchEnv(String);

impl Env for BenchEnv {
    fn var(&self, name: &str) -> Option<String> {
        if name == "BENCH_SINK_URL" {
            Some(self.0.clone())
        } else {
            std::env::var(name).ok()
        }
    }
}

fn max_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i] as f64 / 1000.0)
}

/// What the harness needs beyond [`Store`]: resetting the queue, counting rows by status, and the
/// ceiling's hand-written queue.
trait BenchStore: Store {
    /// Empties the queue, or (`resume`) marks every claimed row's lease expired and points every
    /// row still to deliver at `sink_url` (the killed run's sink is gone).
    async fn reset(&self, resume: bool, sink_url: &str) -> Result<(), String>;
    /// How many executions have one of `statuses` (a SQL list of quoted names).
    async fn count(&self, statuses: &str) -> Result<u64, String>;
    /// The ceiling's claim: up to `limit` pending rows, marked claimed, in one statement.
    fn ceiling_claim(
        &self,
        limit: i64,
    ) -> impl std::future::Future<Output = Result<Vec<(uuid::Uuid, String, Vec<u8>)>, String>> + Send;
    /// The ceiling's completion: the batch marked sent in one statement.
    fn ceiling_complete(
        &self,
        ids: &[uuid::Uuid],
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
    /// Replaces the delivery rollup with `per` attempts per minute for each of 4 webhooks (the
    /// fourth to 5 endpoints in turn) over the 30 days before `end`.
    async fn seed_rollup(&self, end: chrono::DateTime<chrono::Utc>, per: i64)
    -> Result<(), String>;
    /// The reference read of the same rows: their count and attempts since `since`.
    async fn scan_rollup(&self, since: chrono::DateTime<chrono::Utc>) -> Result<i64, String>;
}

impl BenchStore for PgStore {
    async fn seed_rollup(
        &self,
        end: chrono::DateTime<chrono::Utc>,
        per: i64,
    ) -> Result<(), String> {
        sqlx::query("TRUNCATE delivery_stats")
            .execute(self.pool())
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(
            "INSERT INTO delivery_stats SELECT 60, $1 - (m * interval '1 minute'),
                 'BenchWebhook' || w, CASE WHEN w = 3 THEN 'endpoint-' || (m % 5) ELSE '' END,
                 $2, $2 - 1, 1, 0, $2 * 40, 0, $2 - 2, 1, 1, 0, 0, 0, 0, 0, 0, 0
             FROM generate_series(1, 43200) m, generate_series(0, 3) w",
        )
        .bind(end)
        .bind(per)
        .execute(self.pool())
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query(&format!(
            "INSERT INTO delivery_stats SELECT 3600, date_trunc('hour', minute), webhook_type,
                 endpoint, {} FROM delivery_stats WHERE span = 60 GROUP BY 2, 3, 4",
            rollup_sums()
        ))
        .execute(self.pool())
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query("ANALYZE delivery_stats")
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn scan_rollup(&self, since: chrono::DateTime<chrono::Utc>) -> Result<i64, String> {
        sqlx::query_scalar(
            "SELECT CAST(sum(attempts) AS BIGINT) FROM delivery_stats WHERE span = 60 AND minute >= $1",
        )
        .bind(since)
        .fetch_one(self.pool())
        .await
        .map_err(|e| e.to_string())
    }

    async fn reset(&self, resume: bool, sink_url: &str) -> Result<(), String> {
        if !resume {
            return sqlx::query("TRUNCATE webhook_executions, webhook_attempts, webhook_outcomes, message_external_ids, inbound_events, endpoints, events, delivery_limits, delivery_slots")
                .execute(self.pool())
                .await
                .map(drop)
                .map_err(|e| e.to_string());
        }
        sqlx::query(
            "UPDATE webhook_executions SET lease_expires_at = now() - interval '1 second' WHERE status = 'sending'",
        )
        .execute(self.pool())
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query(
            "UPDATE webhook_executions SET target_url = $1 WHERE status IN ('pending', 'failed', 'sending')",
        )
        .bind(sink_url)
        .execute(self.pool())
        .await
        .map(drop)
        .map_err(|e| e.to_string())
    }

    async fn ceiling_claim(
        &self,
        limit: i64,
    ) -> Result<Vec<(uuid::Uuid, String, Vec<u8>)>, String> {
        sqlx::query_as(
            "WITH due AS (
                 SELECT id FROM webhook_executions WHERE status = 'pending'
                 ORDER BY next_retry_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             UPDATE webhook_executions e SET status = 'sending', attempts = e.attempts + 1
             FROM due WHERE e.id = due.id
             RETURNING e.id, e.target_url, convert_to(e.payload::text, 'UTF8')",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(|e| e.to_string())
    }

    async fn ceiling_complete(&self, ids: &[uuid::Uuid]) -> Result<(), String> {
        sqlx::query(
            "UPDATE webhook_executions SET status = 'sent', sent_at = now(), updated_at = now()
             WHERE id = ANY($1)",
        )
        .bind(ids)
        .execute(self.pool())
        .await
        .map(drop)
        .map_err(|e| e.to_string())
    }

    async fn count(&self, statuses: &str) -> Result<u64, String> {
        let sql = format!("SELECT count(*) FROM webhook_executions WHERE status IN ({statuses})");
        let n: i64 = sqlx::query_scalar(&sql)
            .fetch_one(self.pool())
            .await
            .map_err(|e| e.to_string())?;
        Ok(n as u64)
    }
}

impl BenchStore for SqliteStore {
    async fn seed_rollup(
        &self,
        end: chrono::DateTime<chrono::Utc>,
        per: i64,
    ) -> Result<(), String> {
        sqlx::query("DELETE FROM delivery_stats")
            .execute(self.pool())
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(
            "WITH RECURSIVE m(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM m WHERE n < 43200),
                  w(k) AS (VALUES (0), (1), (2), (3))
             INSERT INTO delivery_stats SELECT 60, ?1 - n * 60000000, 'BenchWebhook' || k,
                 CASE WHEN k = 3 THEN 'endpoint-' || (n % 5) ELSE '' END,
                 ?2, ?2 - 1, 1, 0, ?2 * 40, 0, ?2 - 2, 1, 1, 0, 0, 0, 0, 0, 0, 0
             FROM m, w",
        )
        .bind(end.timestamp_micros())
        .bind(per)
        .execute(self.pool())
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query(&format!(
            "INSERT INTO delivery_stats SELECT 3600, minute / 3600000000 * 3600000000,
                 webhook_type, endpoint, {} FROM delivery_stats WHERE span = 60 GROUP BY 2, 3, 4",
            rollup_sums()
        ))
        .execute(self.pool())
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query("ANALYZE")
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn scan_rollup(&self, since: chrono::DateTime<chrono::Utc>) -> Result<i64, String> {
        sqlx::query_scalar(
            "SELECT CAST(sum(attempts) AS BIGINT) FROM delivery_stats WHERE span = 60 AND minute >= ?1",
        )
        .bind(since.timestamp_micros())
        .fetch_one(self.pool())
        .await
        .map_err(|e| e.to_string())
    }

    async fn reset(&self, resume: bool, sink_url: &str) -> Result<(), String> {
        if !resume {
            return sqlx::raw_sql("DELETE FROM webhook_outcomes; DELETE FROM webhook_attempts; DELETE FROM message_external_ids; DELETE FROM inbound_events; DELETE FROM webhook_executions; DELETE FROM endpoints; DELETE FROM events; DELETE FROM delivery_limits; DELETE FROM delivery_slots;")
                .execute(self.pool())
                .await
                .map(drop)
                .map_err(|e| e.to_string());
        }
        sqlx::query("UPDATE webhook_executions SET lease_expires_at = 0 WHERE status = 'sending'")
            .execute(self.pool())
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(
            "UPDATE webhook_executions SET target_url = ?1 WHERE status IN ('pending', 'failed', 'sending')",
        )
        .bind(sink_url)
        .execute(self.pool())
        .await
        .map(drop)
        .map_err(|e| e.to_string())
    }

    async fn ceiling_claim(
        &self,
        limit: i64,
    ) -> Result<Vec<(uuid::Uuid, String, Vec<u8>)>, String> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "UPDATE webhook_executions SET status = 'sending', attempts = attempts + 1
             WHERE id IN (SELECT id FROM webhook_executions WHERE status = 'pending'
                          ORDER BY next_retry_at LIMIT ?1)
             RETURNING id, target_url, payload",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(|e| e.to_string())?;
        rows.into_iter()
            .map(|(id, url, payload)| {
                Ok((
                    uuid::Uuid::parse_str(&id).map_err(|e| e.to_string())?,
                    url,
                    payload.into_bytes(),
                ))
            })
            .collect()
    }

    async fn ceiling_complete(&self, ids: &[uuid::Uuid]) -> Result<(), String> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        sqlx::query(
            "UPDATE webhook_executions SET status = 'sent'
             WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(serde_json::to_string(&ids).map_err(|e| e.to_string())?)
        .execute(self.pool())
        .await
        .map(drop)
        .map_err(|e| e.to_string())
    }

    async fn count(&self, statuses: &str) -> Result<u64, String> {
        let sql = format!("SELECT count(*) FROM webhook_executions WHERE status IN ({statuses})");
        let n: i64 = sqlx::query_scalar(&sql)
            .fetch_one(self.pool())
            .await
            .map_err(|e| e.to_string())?;
        Ok(n as u64)
    }
}

#[tokio::main]
async fn main() {
    if let Err(message) = run(parse_args()).await {
        eprintln!("bench failed: {message}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    if args.mode == Mode::Sink {
        return serve_sink(args.port, args.sink_delay_ms).await;
    }
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/buildamp_bench".into());
    let pool_size = std::env::var("BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    match DatabaseUrl::parse(&url).map_err(|e| e.to_string())? {
        DatabaseUrl::Postgres(url) => {
            let store = PgStore::connect_or_create(&url, pool_size)
                .await
                .map_err(|e| error_chain(&e))?;
            measure(args, store).await
        }
        DatabaseUrl::Sqlite(url) => {
            let store = SqliteStore::connect(&url)
                .await
                .map_err(|e| error_chain(&e))?;
            measure(args, store).await
        }
    }
}

async fn measure<S: BenchStore>(args: Args, store: S) -> Result<(), String> {
    store.migrate().await.map_err(|e| error_chain(&e))?;
    if args.mode == Mode::Analytics {
        return analytics(store, args.deliveries).await;
    }

    let sink_state = Arc::new(Sink {
        seen: Mutex::new(HashSet::with_capacity(args.deliveries as usize)),
        requests: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::with_capacity(args.deliveries as usize)),
        unique: watch::channel(0).0,
        delay: Duration::from_millis(args.sink_delay_ms),
    });
    let sink_url = match &args.sink_url {
        Some(url) => url.clone(),
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| e.to_string())?;
            let url = format!(
                "http://{}/sink",
                listener.local_addr().map_err(|e| e.to_string())?
            );
            let app = axum::Router::new()
                .fallback(sink)
                .with_state(sink_state.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            url
        }
    };
    store.reset(args.resume, &sink_url).await?;
    // With `--resume`, rows settled before the crash are not this run's.
    let settled_before = store.count("'sent', 'dead_letter'").await?;

    let mut config = Config::default();
    config.concurrency = args.concurrency;
    config.batch_size = args.concurrency.clamp(64, 1000);
    config.poll_interval = Duration::from_millis(50);
    // The bench declares an event type, so the service needs a key; its endpoints live on the
    // loopback sink.
    let keys = SecretKeys::parse(&SecretKeys::generate("bench").map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let runtime = Runtime::builder(store.clone())
        .config(config)
        .env(BenchEnv(sink_url.clone()))
        .secret_keys(keys)
        .address_policy(
            AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().expect("a subnet")]),
        )
        .build()
        .map_err(|e| e.to_string())?;

    let n = args.deliveries;
    let mut enqueue_per_sec = None;
    let mut publish_per_sec = None;
    let mut drain_per_sec = None;
    let mut request_latencies_us = Vec::new();
    let (seconds, to_deliver) = match args.mode {
        Mode::Queue => {
            let (enq, secs) = queue_only(&runtime, &store, n, args.concurrency).await?;
            enqueue_per_sec = Some(enq);
            (secs, n)
        }
        Mode::Drain => {
            let to_deliver = if args.resume {
                store.count("'pending', 'failed', 'sending'").await?
            } else {
                let started = Instant::now();
                enqueue_batches(&runtime, n).await?;
                enqueue_per_sec = Some(n as f64 / started.elapsed().as_secs_f64());
                n
            };
            let started = Instant::now();
            let running = runtime.start().await.map_err(|e| error_chain(&e))?;
            wait_delivered(&args, &sink_state, &store, settled_before, to_deliver).await?;
            let seconds = started.elapsed().as_secs_f64();
            running.shutdown().await.map_err(|e| error_chain(&e))?;
            (seconds, to_deliver)
        }
        Mode::E2e => {
            let running = runtime.start().await.map_err(|e| error_chain(&e))?;
            let started = Instant::now();
            let triggering = trigger_singles(&runtime, n, args.concurrency, args.rate);
            let (enqueued, delivered) = tokio::join!(
                triggering,
                wait_delivered(&args, &sink_state, &store, settled_before, n)
            );
            enqueue_per_sec = Some(n as f64 / enqueued?.as_secs_f64());
            delivered?;
            let seconds = started.elapsed().as_secs_f64();
            running.shutdown().await.map_err(|e| error_chain(&e))?;
            (seconds, n)
        }
        Mode::Http => {
            let running = runtime.start().await.map_err(|e| error_chain(&e))?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| e.to_string())?;
            let api = format!(
                "http://{}/buildamp/webhooks/BenchHttpPing",
                listener.local_addr().map_err(|e| e.to_string())?
            );
            let stop = CancellationToken::new();
            let router = buildamp::api::router(runtime.clone(), AllowAll);
            let server = tokio::spawn(buildamp::http::serve(
                listener,
                router,
                ServeLimits::default(),
                stop.clone(),
            ));
            let started = Instant::now();
            let triggering = trigger_over_http(&api, n, args.concurrency);
            let (enqueued, delivered) = tokio::join!(
                triggering,
                wait_delivered(&args, &sink_state, &store, settled_before, n)
            );
            let (elapsed, latencies) = enqueued?;
            enqueue_per_sec = Some(n as f64 / elapsed.as_secs_f64());
            request_latencies_us = latencies;
            delivered?;
            let seconds = started.elapsed().as_secs_f64();
            stop.cancel();
            let _ = server.await;
            running.shutdown().await.map_err(|e| error_chain(&e))?;
            (seconds, n)
        }
        Mode::Ceiling => {
            enqueue_batches(&runtime, n).await?;
            (ceiling(&store, n, args.concurrency).await?, n)
        }
        Mode::Fanout => {
            // Rounds alternate the service and the reference, so the machine's drift falls on
            // both alike; the medians are reported.
            let (mut fanout, mut drain, mut publish) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..args.rounds {
                store.reset(false, &sink_url).await?;
                for k in 0..args.endpoints {
                    let spec = serde_json::from_value(serde_json::json!({
                        "url": format!("{sink_url}/endpoint-{k}"),
                        "environment": "development",
                        "subscriptions": ["bench.*"],
                    }))
                    .map_err(|e| e.to_string())?;
                    runtime
                        .endpoints()
                        .create(spec)
                        .await
                        .map_err(|e| error_chain(&e))?;
                }
                let started = Instant::now();
                publish_events(&runtime, args.events, args.concurrency.min(32)).await?;
                publish.push(args.events as f64 / started.elapsed().as_secs_f64());
                fanout.push(deliver_timed(&runtime, &sink_state, n).await?);
                // The reference: as many `#[target]` deliveries, drained.
                store.reset(false, &sink_url).await?;
                enqueue_batches(&runtime, n).await?;
                drain.push(n as f64 / deliver_timed(&runtime, &sink_state, n).await?);
            }
            publish_per_sec = Some(median(&mut publish));
            drain_per_sec = Some(median(&mut drain));
            let mut seconds: Vec<f64> = fanout;
            (median(&mut seconds), n)
        }
        Mode::Sink | Mode::Analytics => unreachable!("measured above"),
    };

    let own_sink = args.sink_url.is_none() && !matches!(args.mode, Mode::Queue | Mode::Ceiling);
    let unique = *sink_state.unique.borrow();
    let requests = sink_state.requests.load(Ordering::Relaxed);
    let mut latencies = std::mem::take(&mut *sink_state.latencies_us.lock().unwrap());
    latencies.sort_unstable();
    let sent = store.count("'sent'").await?;
    request_latencies_us.sort_unstable();
    let deliveries_per_sec = to_deliver as f64 / seconds;
    // Memory is the measured run's, before the reference pass adds its own.
    let max_rss = max_rss_mb();
    // The reference, measured now on this machine: the same rows, sink and concurrency through
    // the hand-written queue.
    let ceiling_per_sec = if args.ceiling && !matches!(args.mode, Mode::Ceiling | Mode::Queue) {
        store.reset(false, &sink_url).await?;
        enqueue_batches(&runtime, n).await?;
        Some(n as f64 / ceiling(&store, n, args.concurrency).await?)
    } else {
        None
    };
    let report = serde_json::json!({
        "mode": args.mode.name(),
        "deliveries": to_deliver,
        "concurrency": args.concurrency,
        "sink_delay_ms": args.sink_delay_ms,
        "rate": args.rate,
        "seconds": round(seconds),
        "deliveries_per_sec": round(deliveries_per_sec),
        "ceiling_per_sec": ceiling_per_sec.map(round),
        "ratio_to_ceiling": ceiling_per_sec.map(|c| round(deliveries_per_sec / c)),
        "enqueue_per_sec": enqueue_per_sec.map(round),
        "events": (args.mode == Mode::Fanout).then_some(args.events),
        "endpoints": (args.mode == Mode::Fanout).then_some(args.endpoints),
        "rounds": (args.mode == Mode::Fanout).then_some(args.rounds),
        "publish_per_sec": publish_per_sec.map(round),
        "drain_per_sec": drain_per_sec.map(round),
        "ratio_to_drain": drain_per_sec.map(|d| round(deliveries_per_sec / d)),
        "p50_ms": if own_sink { percentile(&latencies, 0.50).map(round) } else { None },
        "p99_ms": if own_sink { percentile(&latencies, 0.99).map(round) } else { None },
        "request_p50_ms": percentile(&request_latencies_us, 0.50).map(round),
        "request_p99_ms": percentile(&request_latencies_us, 0.99).map(round),
        "max_rss_mb": round(max_rss),
        "duplicates": if own_sink { Some(requests - unique) } else { None },
        "lost": to_deliver.saturating_sub(if own_sink { unique } else { sent }),
        "rows_sent": sent,
    });
    println!("{report}");
    Ok(())
}

/// Serves a sink answering 204 after `delay_ms`, until the process is killed.
async fn serve_sink(port: u16, delay_ms: u64) -> Result<(), String> {
    let state = Arc::new(Sink {
        seen: Mutex::new(HashSet::new()),
        requests: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::new()),
        unique: watch::channel(0).0,
        delay: Duration::from_millis(delay_ms),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "sink on http://{}/sink",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let app = axum::Router::new().fallback(sink).with_state(state);
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Starts the runtime, waits until the sink has seen `n` more unique deliveries, stops it;
/// returns the seconds that took.
async fn deliver_timed<S: Store>(runtime: &Runtime<S>, sink: &Sink, n: u64) -> Result<f64, String> {
    let target = *sink.unique.borrow() + n;
    let started = Instant::now();
    let running = runtime.start().await.map_err(|e| error_chain(&e))?;
    let mut unique = sink.unique.subscribe();
    tokio::time::timeout(Duration::from_secs(600), unique.wait_for(|u| *u >= target))
        .await
        .map_err(|_| format!("not all of {n} delivered within ten minutes"))?
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    Ok(seconds)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Publishes `n` events from `publishers` concurrent tasks.
async fn publish_events<S: Store>(
    runtime: &Runtime<S>,
    n: u64,
    publishers: usize,
) -> Result<(), String> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..publishers {
        let (runtime, next) = (runtime.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= n {
                    return Ok::<(), String>(());
                }
                BenchEvent {
                    seq,
                    t_us: now_us(),
                }
                .publish(&runtime)
                .await
                .map_err(|e| error_chain(&e))?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Enqueues `n` pings in batches of 5,000 (one statement each).
async fn enqueue_batches<S: Store>(runtime: &Runtime<S>, n: u64) -> Result<(), String> {
    let mut seq = 0;
    while seq < n {
        let end = (seq + 5_000).min(n);
        let t_us = now_us();
        let batch: Vec<BenchPing> = (seq..end).map(|seq| BenchPing { seq, t_us }).collect();
        runtime
            .trigger_batch(&batch, &Default::default())
            .await
            .map_err(|e| error_chain(&e))?;
        seq = end;
    }
    Ok(())
}

/// `n` single triggers: at `rate` per second, or from `callers` concurrent tasks.
async fn trigger_singles<S: Store>(
    runtime: &Runtime<S>,
    n: u64,
    callers: usize,
    rate: Option<u64>,
) -> Result<Duration, String> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    match rate {
        Some(rate) => {
            let mut ticker =
                tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for seq in 0..n {
                ticker.tick().await;
                let runtime = runtime.clone();
                tasks.spawn(async move {
                    BenchPing {
                        seq,
                        t_us: now_us(),
                    }
                    .trigger(&runtime)
                    .await
                    .map(drop)
                });
            }
        }
        None => {
            for _ in 0..callers.min(n as usize) {
                let (runtime, next) = (runtime.clone(), next.clone());
                tasks.spawn(async move {
                    loop {
                        let seq = next.fetch_add(1, Ordering::Relaxed);
                        if seq >= n {
                            return Ok(());
                        }
                        BenchPing {
                            seq,
                            t_us: now_us(),
                        }
                        .trigger(&runtime)
                        .await?;
                    }
                });
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())?
            .map_err(|e| error_chain(&e))?;
    }
    Ok(started.elapsed())
}

/// Waits until `n` deliveries arrived (own sink: a signal; external sink: the database), at most
/// ten minutes.
async fn wait_delivered<S: BenchStore>(
    args: &Args,
    sink: &Sink,
    store: &S,
    settled_before: u64,
    n: u64,
) -> Result<(), String> {
    let deadline = Duration::from_secs(600);
    if args.sink_url.is_none() {
        let mut unique = sink.unique.subscribe();
        return tokio::time::timeout(deadline, unique.wait_for(|u| *u >= n))
            .await
            .map(drop)
            .map_err(|_| {
                format!(
                    "only {} of {n} delivered within ten minutes",
                    *sink.unique.borrow()
                )
            });
    }
    let started = Instant::now();
    loop {
        let done = store.count("'sent', 'dead_letter'").await? - settled_before;
        if done >= n {
            return Ok(());
        }
        if started.elapsed() > deadline {
            return Err(format!("only {done} of {n} settled within ten minutes"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `n` triggers through the HTTP route from `clients` concurrent clients. Returns the time until
/// the last was accepted, and every request's answer time in microseconds.
async fn trigger_over_http(
    url: &str,
    n: u64,
    clients: usize,
) -> Result<(Duration, Vec<u64>), String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.min(n as usize) {
        let (http, next, url) = (http.clone(), next.clone(), url.to_owned());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= n {
                    return Ok::<_, String>(latencies);
                }
                let body = serde_json::to_vec(&BenchHttpPing {
                    seq,
                    t_us: now_us(),
                })
                .map_err(|e| e.to_string())?;
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if answer.status() != 202 {
                    return Err(format!("the API answered {}", answer.status()));
                }
                answer.bytes().await.map_err(|e| e.to_string())?;
                latencies.push(sent.elapsed().as_micros() as u64);
            }
        });
    }
    let mut all = Vec::with_capacity(n as usize);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.map_err(|e| e.to_string())??);
    }
    Ok((started.elapsed(), all))
}

/// The reference queue (see the module docs): workers (at least two, so that claiming overlaps
/// delivering) claim batches of at most 100 pending rows with `SKIP LOCKED`, POST each (all of a
/// batch at once, `concurrency` in flight in all) and mark the batch sent in one statement, until
/// nothing is pending. Returns the seconds it took.
async fn ceiling<S: BenchStore>(store: &S, n: u64, concurrency: usize) -> Result<f64, String> {
    // Two workers at least (so one claims and completes while another delivers), never more
    // than `concurrency` requests in flight.
    let batch = concurrency.div_ceil(2).clamp(1, 100);
    let workers = (concurrency / batch).max(1);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (store, http) = (store.clone(), http.clone());
        tasks.spawn(async move {
            let mut delivered = 0u64;
            loop {
                let rows = store.ceiling_claim(batch as i64).await?;
                if rows.is_empty() {
                    return Ok::<_, String>(delivered);
                }
                let posts = rows.iter().map(|(id, url, payload)| {
                    http.post(url)
                        .header("Content-Type", "application/json")
                        .header("Idempotency-Key", id.to_string())
                        .body(payload.clone())
                        .send()
                });
                for answer in futures_util::future::join_all(posts).await {
                    answer.map_err(|e| e.to_string())?;
                }
                let ids: Vec<uuid::Uuid> = rows.iter().map(|(id, _, _)| *id).collect();
                store.ceiling_complete(&ids).await?;
                delivered += ids.len() as u64;
            }
        });
    }
    let mut delivered = 0;
    while let Some(done) = tasks.join_next().await {
        delivered += done.map_err(|e| e.to_string())??;
    }
    if delivered < n {
        return Err(format!("the ceiling queue delivered {delivered} of {n}"));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The queue alone: enqueue `n` in batches, then claim and complete them with `workers` claimers.
/// Returns (enqueue rows/s, seconds to drain).
async fn queue_only<S: Store>(
    runtime: &Runtime<S>,
    store: &S,
    n: u64,
    workers: usize,
) -> Result<(f64, f64), String> {
    let started = Instant::now();
    enqueue_batches(runtime, n).await?;
    let enqueue_per_sec = n as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.clamp(1, 8) {
        let store = store.clone();
        tasks.spawn(async move {
            let executor = uuid::Uuid::now_v7();
            loop {
                let now = SystemClock.now();
                let rows = store
                    .claim(executor, now, now + chrono::Duration::minutes(10), 1000)
                    .await?;
                if rows.is_empty() {
                    return Ok::<(), buildamp::StoreError>(());
                }
                let ok = AttemptResult::Response {
                    status: 204,
                    body: String::new(),
                    retry_after: None,
                    location: None,
                    external_id: None,
                    response_error: None,
                };
                let done: Vec<Move> = rows
                    .iter()
                    .map(|r| {
                        let progress = Progress {
                            attempts: r.attempt,
                            max_attempts: r.max_attempts,
                        };
                        let event = Event::Attempted(&ok);
                        Move {
                            id: r.id,
                            attempt: r.attempt,
                            from: event.from_status(),
                            to: queue::decide(progress, event, RetryRules::DEFAULT, now, 0.0),
                            report: Some(AttemptReport {
                                started_at: now,
                                duration_ms: 0,
                                response_status: Some(204),
                                response_body: None,
                                external_id: None,
                            }),
                        }
                    })
                    .collect();
                store.record(SystemClock.now(), &done).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())?
            .map_err(|e| error_chain(&e))?;
    }
    Ok((enqueue_per_sec, started.elapsed().as_secs_f64()))
}

/// The rollup's counters summed, in column order (for the hourly rows made from the minutes).
fn rollup_sums() -> String {
    ["attempts", "sent", "retried", "dead_letter", "duration_ms"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..buildamp::store::BUCKETS).map(|k| format!("b{k}")))
        .map(|c| format!("sum({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `analytics`: a month of rollup rows for `deliveries` attempts, then the analytics' queries over
/// the whole month, each the median of 5 runs, as ratios to a plain `sum()` over the month's
/// minute rows (what reading the attempts without the hourly rollup would at least cost).
async fn analytics<S: BenchStore>(store: S, deliveries: u64) -> Result<(), String> {
    use buildamp::analytics::Granularity;
    let minute = chrono::Duration::minutes(1);
    let now = chrono::Utc::now();
    let end = chrono::DurationRound::duration_trunc(now, minute).map_err(|e| e.to_string())?;
    let rows = 43_200 * 4; // minute rows; the hourly ones are 60 times fewer
    let per = i64::try_from(deliveries.div_ceil(rows))
        .unwrap_or(i64::MAX)
        .max(2);
    let seeding = Instant::now();
    store.seed_rollup(end, per).await?;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    let keys = SecretKeys::parse(&SecretKeys::generate("bench").map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let runtime = Runtime::builder(store.clone())
        .secret_keys(keys)
        .allow_missing_env()
        .build()
        .map_err(|e| e.to_string())?;
    let analytics = runtime.analytics();
    let since = end - chrono::Duration::days(30);
    let until = end + minute;
    async fn timed<F, Fut, T>(f: F) -> Result<f64, String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let mut ms = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            f().await?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(median(&mut ms))
    }
    let scan = timed(|| store.scan_rollup(since)).await?;
    let overview = timed(|| async {
        analytics
            .overview(since, until)
            .await
            .map_err(|e| error_chain(&e))
    })
    .await?;
    let trend = |g| {
        let analytics = analytics.clone();
        move || {
            let analytics = analytics.clone();
            async move {
                analytics
                    .trend(since, until, g)
                    .await
                    .map_err(|e| error_chain(&e))
            }
        }
    };
    let hourly = timed(trend(Granularity::Hour)).await?;
    let daily = timed(trend(Granularity::Day)).await?;
    // What the dashboard and the alert evaluator read each time: every destination's health,
    // and the rules' windows with the queue.
    let health = timed(|| async { analytics.health().await.map_err(|e| error_chain(&e)) }).await?;
    let alerts = runtime.alerts();
    let observe = timed(|| async { alerts.observe().await.map_err(|e| error_chain(&e)) }).await?;
    let total = analytics
        .overview(since, until)
        .await
        .map_err(|e| error_chain(&e))?
        .total
        .attempts;
    let report = serde_json::json!({
        "mode": "analytics",
        "attempts": total,
        "rollup_rows": rows,
        "seed_seconds": round(seed_seconds),
        "scan_ms": round(scan),
        "overview_ms": round(overview),
        "trend_hour_ms": round(hourly),
        "trend_day_ms": round(daily),
        "health_ms": round(health),
        "alert_observe_ms": round(observe),
        "overview_ratio_to_scan": round(overview / scan),
        "trend_hour_ratio_to_scan": round(hourly / scan),
    });
    println!("{report}");
    Ok(())
}
