//! The limits harness: do an endpoint's limits hold across executor processes, and what do they
//! cost the endpoints beside it? Figures are printed as one JSON line, never asserted.
//!
//! ```text
//! cargo run --release --example limits -- [--processes 3] [--events 300] [--free-events 3000]
//!     [--max-concurrency 10] [--rate 100/min] [--sink-delay-ms 50]
//! ```
//!
//! It starts `--processes` executor processes (this binary again, `--role executor`) against one
//! Postgres database (`DATABASE_URL`, default `buildamp_limits` on the local server, created if
//! missing and emptied first; `--fresh` drops it first) and a receiver of its own on 127.0.0.1, which holds each request
//! `--sink-delay-ms` and records when each arrived and how many were in flight at once. Two
//! endpoints: `limited` (`--max-concurrency`, `--rate`) and `free` (no limits). Then, in one run:
//!
//! 1. F events only `free` receives (`free_alone_per_sec`: its throughput with nothing limited
//!    beside it);
//! 2. E events both receive, and F − E more only `free` receives: `limited`'s most in flight at
//!    once and most arrivals in any window of the rate (to compare with the limits), and `free`'s
//!    throughput over its F deliveries beside the limited backlog
//!    (`free_beside_limited_per_sec`, and its ratio to phase 1).
//!
//! Each phase is published in one transaction, so the executors find it all at once.
//!
//! The executors stop gracefully when this process closes their stdin. It exits 1 if a limit was
//! exceeded or a delivery lost or duplicated (the figures are for people; those are bugs).

use std::collections::{BTreeMap, HashSet};
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buildamp::delivery::guard::AddressPolicy;
use buildamp::service::secrets::SecretKeys;
use buildamp::{Config, Event as _, PgStore, Runtime, error_chain};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Phase 1: received by `free` only.
#[derive(Serialize, Deserialize, buildamp::BuildAmpEvent)]
#[event(name = "limits.solo", version = "1")]
pub struct Solo {
    /// Which event.
    pub seq: u64,
}

/// Phase 2: received by both endpoints.
#[derive(Serialize, Deserialize, buildamp::BuildAmpEvent)]
#[event(name = "limits.ping", version = "1")]
pub struct Ping {
    /// Which event.
    pub seq: u64,
}

struct Args {
    executor: bool,
    processes: usize,
    events: u64,
    free_events: u64,
    max_concurrency: u32,
    rate: String,
    sink_delay_ms: u64,
    fresh: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: limits [--processes N] [--events E] [--free-events F] [--max-concurrency C] [--rate 100/min] [--sink-delay-ms D] [--fresh]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        executor: false,
        processes: 3,
        events: 300,
        free_events: 3_000,
        max_concurrency: 10,
        rate: "100/min".into(),
        sink_delay_ms: 50,
        fresh: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--role" => args.executor = value() == "executor",
            "--processes" => args.processes = value().parse().unwrap_or_else(|_| usage()),
            "--events" => args.events = value().parse().unwrap_or_else(|_| usage()),
            "--free-events" => args.free_events = value().parse().unwrap_or_else(|_| usage()),
            "--max-concurrency" => {
                args.max_concurrency = value().parse().unwrap_or_else(|_| usage())
            }
            "--rate" => args.rate = value(),
            "--sink-delay-ms" => args.sink_delay_ms = value().parse().unwrap_or_else(|_| usage()),
            "--fresh" => args.fresh = true,
            _ => usage(),
        }
    }
    if args.processes == 0 || args.events == 0 || args.max_concurrency == 0 {
        usage();
    }
    args
}

/// What one (endpoint, event type) saw.
#[derive(Default)]
struct Seen {
    arrivals: Vec<Duration>,
    in_flight: usize,
    max_in_flight: usize,
    ids: HashSet<String>,
    requests: usize,
}

impl Seen {
    /// The most arrivals within any span of `per`.
    fn max_in_any(&self, per: Duration) -> usize {
        let mut times = self.arrivals.clone();
        times.sort();
        let (mut best, mut first) = (0, 0);
        for last in 0..times.len() {
            while times[last] - times[first] >= per {
                first += 1;
            }
            best = best.max(last + 1 - first);
        }
        best
    }

    /// Deliveries per second from the first arrival to the last.
    fn per_sec(&self) -> f64 {
        let (Some(first), Some(last)) = (self.arrivals.iter().min(), self.arrivals.iter().max())
        else {
            return 0.0;
        };
        let span = (*last - *first).as_secs_f64().max(1e-3);
        (self.arrivals.len().saturating_sub(1)) as f64 / span
    }
}

#[derive(Default)]
struct Gauge {
    started: Option<Instant>,
    seen: BTreeMap<(String, String), Seen>,
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let result = if args.executor {
        executor().await
    } else {
        harness(args).await
    };
    if let Err(message) = result {
        eprintln!("limits failed: {message}");
        std::process::exit(1);
    }
}

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/buildamp_limits".into())
}

async fn runtime(keys: &str) -> Result<Runtime<PgStore>, String> {
    if !database_url().starts_with("postgres") {
        return Err("the limits harness runs several executor processes, so it needs Postgres: set DATABASE_URL=postgres://… (SQLite runs one process; tests/protection.rs covers it)".into());
    }
    let store = PgStore::connect_or_create(&database_url(), 16)
        .await
        .map_err(|e| error_chain(&e))?;
    let mut config = Config::default();
    config.poll_interval = Duration::from_millis(50);
    Runtime::builder(store)
        .config(config)
        .secret_keys(SecretKeys::parse(keys).map_err(|e| e.to_string())?)
        .address_policy(
            AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().expect("a subnet")]),
        )
        .build()
        .map_err(|e| e.to_string())
}

/// A child: one executor process, until its stdin closes.
async fn executor() -> Result<(), String> {
    let keys = std::env::var("BUILDAMP_SECRET_KEY").map_err(|_| "no BUILDAMP_SECRET_KEY")?;
    let runtime = runtime(&keys).await?;
    let running = runtime.start().await.map_err(|e| error_chain(&e))?;
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .map_err(|e| e.to_string())?;
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    Ok(())
}

/// Drops the harness's database, so that it starts from nothing (`--fresh`: its tables may come
/// from another version of the migrations).
async fn drop_database() -> Result<(), String> {
    use sqlx::ConnectOptions as _;
    let options: sqlx::postgres::PgConnectOptions = database_url()
        .parse()
        .map_err(|e| format!("DATABASE_URL: {e}"))?;
    let name = options
        .get_database()
        .unwrap_or("postgres")
        .replace('"', "\"\"");
    let mut admin = options
        .database("postgres")
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn harness(args: Args) -> Result<(), String> {
    if args.fresh {
        if !database_url().starts_with("postgres") {
            return Err("--fresh drops a Postgres database: set DATABASE_URL=postgres://…".into());
        }
        drop_database().await?;
    }
    let keys = SecretKeys::generate("limits").map_err(|e| e.to_string())?;
    let runtime = runtime(&keys).await?;
    runtime.migrate().await.map_err(|e| error_chain(&e))?;
    sqlx::query("TRUNCATE webhook_executions, webhook_attempts, webhook_outcomes, message_external_ids, inbound_events, endpoints, events, delivery_limits, delivery_slots")
        .execute(runtime.store().pool())
        .await
        .map_err(|e| e.to_string())?;

    // The receiver.
    let gauge: Arc<Mutex<Gauge>> = Arc::default();
    let (answered_tx, answered) = watch::channel(0usize);
    let delay = Duration::from_millis(args.sink_delay_ms);
    let app = {
        let gauge = gauge.clone();
        axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (gauge, answered_tx) = (gauge.clone(), answered_tx.clone());
            async move {
                let (key, id) = {
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (
                        (request.uri().path().to_owned(), header("x-event-type")),
                        header("webhook-id"),
                    )
                };
                {
                    let mut g = gauge.lock().unwrap();
                    let started = *g.started.get_or_insert_with(Instant::now);
                    let seen = g.seen.entry(key.clone()).or_default();
                    seen.arrivals.push(started.elapsed());
                    seen.in_flight += 1;
                    seen.max_in_flight = seen.max_in_flight.max(seen.in_flight);
                    seen.requests += 1;
                    seen.ids.insert(id);
                }
                tokio::time::sleep(delay).await;
                gauge.lock().unwrap().seen.get_mut(&key).unwrap().in_flight -= 1;
                answered_tx.send_modify(|n| *n += 1);
                axum::http::StatusCode::NO_CONTENT
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let endpoint = |path: &str, subscriptions: &[&str], limits: serde_json::Value| {
        serde_json::from_value(serde_json::json!({
            "url": format!("{base}/{path}"),
            "environment": "development",
            "subscriptions": subscriptions,
            "limits": limits,
        }))
        .map_err(|e| e.to_string())
    };
    let limits = serde_json::json!({"max_concurrency": args.max_concurrency, "rate": args.rate});
    let endpoints = runtime.endpoints();
    let created = endpoints
        .create(endpoint("limited", &["limits.ping"], limits)?)
        .await
        .map_err(|e| error_chain(&e))?;
    let rate = created.endpoint.config.limits.rate.expect("a rate").0;
    endpoints
        .create(endpoint(
            "free",
            &["limits.ping", "limits.solo"],
            serde_json::json!({}),
        )?)
        .await
        .map_err(|e| error_chain(&e))?;

    let mut children: Vec<Child> = (0..args.processes)
        .map(|_| {
            Command::new(std::env::current_exe().expect("this binary"))
                .args(["--role", "executor"])
                .env("BUILDAMP_SECRET_KEY", &keys)
                .env("DATABASE_URL", database_url())
                .stdin(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;

    let n = args.events;
    let wait = |target: usize, limit: Duration| {
        let mut answered = answered.clone();
        async move {
            tokio::time::timeout(limit, answered.wait_for(|got| *got >= target))
                .await
                .map_err(|_| format!("{target} deliveries did not arrive within {limit:?}"))?
                .map(drop)
                .map_err(|e| e.to_string())
        }
    };
    let free = args.free_events.max(n);
    // Each phase is published in one transaction, so the executors find all of it at once.
    let publish = async |pings: u64, solos: u64| -> Result<(), String> {
        let mut tx = runtime
            .store()
            .pool()
            .begin()
            .await
            .map_err(|e| e.to_string())?;
        for seq in 0..pings {
            Ping { seq }
                .publish(runtime.transaction(&mut tx))
                .await
                .map_err(|e| error_chain(&e))?;
        }
        for seq in 0..solos {
            Solo { seq }
                .publish(runtime.transaction(&mut tx))
                .await
                .map_err(|e| error_chain(&e))?;
        }
        tx.commit().await.map_err(|e| e.to_string())
    };
    // Phase 1: the free endpoint alone, F deliveries.
    publish(0, free).await?;
    wait(free as usize, Duration::from_secs(300)).await?;
    // Phase 2: E to both (the limited backlog) and the rest of F to the free one.
    let started = Instant::now();
    publish(n, free - n).await?;
    let windows = (n as f64 / f64::from(rate.count)).ceil() as u32 + 2;
    wait(
        (2 * free + n) as usize,
        rate.per * windows + Duration::from_secs(60),
    )
    .await?;
    let phase_seconds = started.elapsed().as_secs_f64();

    for child in &mut children {
        drop(child.stdin.take()); // a graceful stop
    }
    for mut child in children {
        child.wait().map_err(|e| e.to_string())?;
    }

    let g = gauge.lock().unwrap();
    let get = |path: &str, event: &str| g.seen.get(&(path.to_owned(), event.to_owned()));
    let (Some(limited), Some(free_pings)) =
        (get("/limited", "limits.ping"), get("/free", "limits.ping"))
    else {
        return Err("a phase received nothing".into());
    };
    // The free endpoint's solo events: the first F arrived in phase 1, the rest in phase 2.
    let mut solos = get("/free", "limits.solo")
        .map(|s| s.arrivals.clone())
        .unwrap_or_default();
    solos.sort();
    let later = solos.split_off((free as usize).min(solos.len()));
    let free_alone = Seen {
        arrivals: solos,
        ..Seen::default()
    };
    let free_beside = Seen {
        arrivals: [later, free_pings.arrivals.clone()].concat(),
        ..Seen::default()
    };
    let duplicates: usize = g.seen.values().map(|s| s.requests - s.ids.len()).sum();
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let report = serde_json::json!({
        "processes": args.processes,
        "events": n,
        "sink_delay_ms": args.sink_delay_ms,
        "limit": {"max_concurrency": args.max_concurrency, "rate": args.rate},
        "limited": {
            "deliveries": limited.arrivals.len(),
            "max_in_flight": limited.max_in_flight,
            "max_in_any_window": limited.max_in_any(rate.per),
            "window_seconds": rate.per.as_secs_f64(),
            "seconds": round(phase_seconds),
        },
        "free_alone_per_sec": round(free_alone.per_sec()),
        "free_beside_limited_per_sec": round(free_beside.per_sec()),
        "free_ratio_beside_to_alone": round(free_beside.per_sec() / free_alone.per_sec()),
        "duplicates": duplicates,
        "free_events": free,
        "lost": ((2 * free + n) as usize).saturating_sub(g.seen.values().map(|s| s.ids.len()).sum()),
    });
    println!("{report}");
    // Not a timing: a broken promise.
    if limited.max_in_flight > args.max_concurrency as usize
        || limited.max_in_any(rate.per) > rate.count as usize
        || duplicates > 0
        || report["lost"] != 0
    {
        return Err("a limit was exceeded, or a delivery was lost or duplicated".into());
    }
    Ok(())
}
