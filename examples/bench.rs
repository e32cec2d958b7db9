//! The benchmark harness: speed and memory are measured here, never asserted in tests.
//!
//! ```text
//! cargo run --release --example bench -- --mode <drain|e2e|queue> --deliveries N --concurrency C
//!     [--sink-url URL] [--sink-delay-ms D] [--rate R] [--resume]
//! ```
//!
//! - `drain`: enqueue N first (timed separately, as `enqueue_per_sec`), then time the executor
//!   delivering them to the sink.
//! - `e2e`: N single triggers through the trigger API (at R per second with `--rate`, else from C
//!   concurrent callers), timed from the first trigger until the last delivery arrives.
//! - `queue`: the queue alone: enqueue, claim and complete in batches, no HTTP.
//! - `sink --port P`: only serve the sink, until killed, for a run whose `--sink-url` points at it
//!   (so the measured process holds the executor alone: its `max_rss_mb` is the executor's).
//!
//! The sink is the harness's own HTTP server on 127.0.0.1 (answering 204 after D ms), or
//! `--sink-url`. Every delivery carries its execution id as `Idempotency-Key`, which is how the sink
//! (or an external one) counts duplicates and losses. It prints one JSON line. The database is
//! `DATABASE_URL` (`postgres://…`, created if missing, or `sqlite://path`), else `buildamp_bench`
//! on the local Postgres server; each run starts from an empty queue unless `--resume`, which
//! finishes what a killed run left (treating its claimed rows as abandoned: a bench is the
//! database's only executor).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use buildamp::queue::{self, AttemptResult, Event, Progress, RetryRules};
use buildamp::store::{AttemptReport, Move};
use buildamp::{
    BuildAmpWebhook, Clock, Config, DatabaseUrl, Env, PgStore, Runtime, SqliteStore, Store,
    SystemClock, Webhook, error_chain,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Drain,
    E2e,
    Queue,
    Sink,
}

struct Args {
    mode: Mode,
    deliveries: u64,
    concurrency: usize,
    sink_url: Option<String>,
    sink_delay_ms: u64,
    rate: Option<u64>,
    resume: bool,
    port: u16,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench --mode <drain|e2e|queue> --deliveries N --concurrency C [--sink-url URL] [--sink-delay-ms D] [--rate R] [--resume]\n       bench --mode sink --port P [--sink-delay-ms D]"
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
        port: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--mode" => {
                args.mode = match value().as_str() {
                    "drain" => Mode::Drain,
                    "e2e" => Mode::E2e,
                    "queue" => Mode::Queue,
                    "sink" => Mode::Sink,
                    _ => usage(),
                }
            }
            "--deliveries" => args.deliveries = value().parse().unwrap_or_else(|_| usage()),
            "--concurrency" => args.concurrency = value().parse().unwrap_or_else(|_| usage()),
            "--sink-url" => args.sink_url = Some(value()),
            "--sink-delay-ms" => args.sink_delay_ms = value().parse().unwrap_or_else(|_| usage()),
            "--rate" => args.rate = Some(value().parse().unwrap_or_else(|_| usage())),
            "--resume" => args.resume = true,
            "--port" => args.port = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if args.deliveries == 0 || args.concurrency == 0 {
        usage();
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

async fn sink(State(sink): State<Arc<Sink>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !sink.delay.is_zero() {
        tokio::time::sleep(sink.delay).await;
    }
    let now = now_us();
    sink.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(t_us) = serde_json::from_slice::<BenchPing>(&body)
        .ok()
        .map(|p| p.t_us)
    {
        sink.latencies_us
            .lock()
            .unwrap()
            .push(now.saturating_sub(t_us));
    }
    let key = headers
        .get("idempotency-key")
        .map(|v| Bytes::copy_from_slice(v.as_bytes()))
        .unwrap_or_default();
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

/// What the harness needs beyond [`Store`]: resetting the queue and counting rows by status.
trait BenchStore: Store {
    /// Empties the queue, or (`resume`) marks every claimed row's lease expired.
    async fn reset(&self, resume: bool) -> Result<(), String>;
    /// How many executions have one of `statuses` (a SQL list of quoted names).
    async fn count(&self, statuses: &str) -> Result<u64, String>;
}

impl BenchStore for PgStore {
    async fn reset(&self, resume: bool) -> Result<(), String> {
        let sql = if resume {
            "UPDATE webhook_executions SET lease_expires_at = now() - interval '1 second' WHERE status = 'sending'"
        } else {
            "TRUNCATE webhook_executions, webhook_attempts, webhook_outcomes, message_external_ids, inbound_events"
        };
        sqlx::query(sql)
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
    async fn reset(&self, resume: bool) -> Result<(), String> {
        let sql = if resume {
            "UPDATE webhook_executions SET lease_expires_at = 0 WHERE status = 'sending'"
        } else {
            "DELETE FROM webhook_outcomes; DELETE FROM webhook_attempts; DELETE FROM message_external_ids; DELETE FROM inbound_events; DELETE FROM webhook_executions;"
        };
        sqlx::raw_sql(sql)
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
    store.reset(args.resume).await?;

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

    let mut config = Config::default();
    config.concurrency = args.concurrency;
    config.batch_size = args.concurrency.clamp(64, 1000);
    config.poll_interval = Duration::from_millis(50);
    let runtime = Runtime::builder(store.clone())
        .config(config)
        .env(BenchEnv(sink_url))
        .build()
        .map_err(|e| e.to_string())?;

    let n = args.deliveries;
    let mut enqueue_per_sec = None;
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
            wait_delivered(&args, &sink_state, &store, to_deliver).await?;
            let seconds = started.elapsed().as_secs_f64();
            running.shutdown().await.map_err(|e| error_chain(&e))?;
            (seconds, to_deliver)
        }
        Mode::E2e => {
            let running = runtime.start().await.map_err(|e| error_chain(&e))?;
            let started = Instant::now();
            let triggering = trigger_singles(&runtime, n, args.concurrency, args.rate);
            let (enqueued, delivered) =
                tokio::join!(triggering, wait_delivered(&args, &sink_state, &store, n));
            enqueue_per_sec = Some(n as f64 / enqueued?.as_secs_f64());
            delivered?;
            let seconds = started.elapsed().as_secs_f64();
            running.shutdown().await.map_err(|e| error_chain(&e))?;
            (seconds, n)
        }
        Mode::Sink => unreachable!("served above"),
    };

    let own_sink = args.sink_url.is_none() && args.mode != Mode::Queue;
    let unique = *sink_state.unique.borrow();
    let requests = sink_state.requests.load(Ordering::Relaxed);
    let mut latencies = std::mem::take(&mut *sink_state.latencies_us.lock().unwrap());
    latencies.sort_unstable();
    let sent = store.count("'sent'").await?;
    let report = serde_json::json!({
        "mode": match args.mode { Mode::Drain => "drain", Mode::E2e => "e2e", Mode::Queue => "queue", Mode::Sink => "sink" },
        "deliveries": to_deliver,
        "concurrency": args.concurrency,
        "sink_delay_ms": args.sink_delay_ms,
        "rate": args.rate,
        "seconds": round(seconds),
        "deliveries_per_sec": round(to_deliver as f64 / seconds),
        "enqueue_per_sec": enqueue_per_sec.map(round),
        "p50_ms": if own_sink { percentile(&latencies, 0.50).map(round) } else { None },
        "p99_ms": if own_sink { percentile(&latencies, 0.99).map(round) } else { None },
        "max_rss_mb": round(max_rss_mb()),
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
        let done = store.count("'sent', 'dead_letter'").await?;
        if done >= n {
            return Ok(());
        }
        if started.elapsed() > deadline {
            return Err(format!("only {done} of {n} settled within ten minutes"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
