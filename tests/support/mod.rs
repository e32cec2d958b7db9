//! Shared by the end-to-end tests: a real HTTP receiver on 127.0.0.1 whose replies a test scripts,
//! and runtimes over the fresh database `#[sqlx::test]` gives each test.
#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod ses;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use buildamp::{
    ExecutionId, ManualClock, PgStore, Runtime, RuntimeBuilder, SqliteStore, Store, Webhook,
};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A request as the receiver got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the receiver answers.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    Full {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Never answers: for timeouts and crashes mid-delivery.
    Hang,
}

type Script = Box<dyn FnMut(&Received, usize) -> Reply + Send>;

struct Inner {
    received: Mutex<Vec<Received>>,
    script: Mutex<Script>,
    arrivals: watch::Sender<usize>,
}

/// A real HTTP server on 127.0.0.1 that holds every request `delay` before answering 204, and
/// records per path when each arrived and how many were in flight at once.
#[derive(Clone)]
pub struct Gauge {
    pub base: String,
    state: Arc<Mutex<GaugeState>>,
    arrivals: watch::Sender<usize>,
}

#[derive(Default)]
struct GaugeState {
    started: Option<std::time::Instant>,
    paths: BTreeMap<String, PathGauge>,
    total: usize,
}

/// What one path saw.
#[derive(Clone, Default, Debug)]
pub struct PathGauge {
    /// Arrival times, since the first request of any path.
    pub arrivals: Vec<Duration>,
    /// Requests in flight now, and at most.
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// The `webhook-id` (event id) of each request, in arrival order.
    pub ids: Vec<String>,
}

impl PathGauge {
    /// The most arrivals within any span of `per` (a sliding window over arrival times).
    pub fn max_in_any(&self, per: Duration) -> usize {
        let mut times = self.arrivals.clone();
        times.sort();
        let mut best = 0;
        let mut first = 0;
        for last in 0..times.len() {
            while times[last] - times[first] >= per {
                first += 1;
            }
            best = best.max(last + 1 - first);
        }
        best
    }
}

impl Gauge {
    pub async fn start(delay: Duration) -> Gauge {
        let state: Arc<Mutex<GaugeState>> = Arc::default();
        let arrivals = watch::channel(0).0;
        let app = {
            let (state, arrivals) = (state.clone(), arrivals.clone());
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let (state, arrivals) = (state.clone(), arrivals.clone());
                async move {
                    let path = request.uri().path().to_owned();
                    let id = request
                        .headers()
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    {
                        let mut s = state.lock().unwrap();
                        let started = *s.started.get_or_insert_with(std::time::Instant::now);
                        let p = s.paths.entry(path.clone()).or_default();
                        p.arrivals.push(started.elapsed());
                        p.in_flight += 1;
                        p.max_in_flight = p.max_in_flight.max(p.in_flight);
                        p.ids.push(id);
                    }
                    tokio::time::sleep(delay).await;
                    let total = {
                        let mut s = state.lock().unwrap();
                        s.paths.get_mut(&path).unwrap().in_flight -= 1;
                        s.total += 1;
                        s.total
                    };
                    arrivals.send_replace(total);
                    axum::http::StatusCode::NO_CONTENT
                }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Gauge {
            base,
            state,
            arrivals,
        }
    }

    /// What `path` saw so far.
    pub fn path(&self, path: &str) -> PathGauge {
        self.state
            .lock()
            .unwrap()
            .paths
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `n` requests were answered: a signal, not a sleep. Fails after `limit`.
    pub async fn wait_for(&self, n: usize, limit: Duration) {
        let mut answered = self.arrivals.subscribe();
        tokio::time::timeout(limit, answered.wait_for(|got| *got >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} requests did not arrive within {limit:?}"))
            .unwrap();
    }
}

/// A real HTTP server on 127.0.0.1 that records every request.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Starts a receiver answering the n-th request (from 0) with `script(request, n)`.
    pub async fn start(script: impl FnMut(&Received, usize) -> Reply + Send + 'static) -> Receiver {
        let inner = Arc::new(Inner {
            received: Mutex::new(Vec::new()),
            script: Mutex::new(Box::new(script)),
            arrivals: watch::channel(0).0,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { base, inner }
    }

    /// Always answers `status`.
    pub async fn answering(status: u16) -> Receiver {
        Self::start(move |_, _| Reply::Status(status)).await
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Replaces the script (e.g. a target that comes back up).
    pub fn script(&self, script: impl FnMut(&Received, usize) -> Reply + Send + 'static) {
        *self.inner.script.lock().unwrap() = Box::new(script);
    }

    /// Waits until `n` requests arrived: a signal, not a sleep. Fails the test after 30 s.
    pub async fn wait_for(&self, n: usize) {
        let mut arrivals = self.inner.arrivals.subscribe();
        tokio::time::timeout(
            Duration::from_secs(30),
            arrivals.wait_for(|count| *count >= n),
        )
        .await
        .unwrap_or_else(|_| panic!("expected {n} requests, got {}", self.received().len()))
        .unwrap();
    }

    /// How many times each value of `header` arrived.
    pub fn count_by(&self, header: &str) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for r in self.received() {
            *counts
                .entry(r.header(header).unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        counts
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Received {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    let reply = {
        let mut received = inner.received.lock().unwrap();
        let n = received.len();
        received.push(request.clone());
        (inner.script.lock().unwrap())(&request, n)
    };
    inner.arrivals.send_modify(|count| *count += 1);
    match reply {
        Reply::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::Hang => std::future::pending().await,
    }
}

/// The tests' fixed start of time.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// An environment of `pairs`.
pub fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A runtime over a migrated test store, with `env`, a manual clock at [`t0`] and fixed jitter.
pub async fn runtime_with<S: Store>(
    store: S,
    env: BTreeMap<String, String>,
    clock: &ManualClock,
    configure: impl FnOnce(RuntimeBuilder<S>) -> RuntimeBuilder<S>,
) -> Runtime<S> {
    let builder = Runtime::builder(store)
        .env(env)
        .clock(clock.clone())
        .jitter_seed(7)
        .secret_keys(test_keys())
        .allow_missing_env();
    let runtime = configure(builder).build().expect("the runtime starts");
    runtime.migrate().await.expect("migrations apply");
    runtime
}

/// The key the tests seal endpoints' secrets with (fixed, so a dump can be searched for it).
pub const TEST_SECRET_KEY: &str = "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn test_keys() -> buildamp::service::secrets::SecretKeys {
    buildamp::service::secrets::SecretKeys::parse(TEST_SECRET_KEY).unwrap()
}

/// What the conformance suite needs beyond [`Store`]: the backend's own SQL.
pub trait Backend: Store {
    /// Whether the database refuses a NUL character in JSON (Postgres's `jsonb` does).
    const REFUSES_NUL_IN_JSON: bool;

    /// In one of the caller's transactions: writes a row of the caller's own, enqueues `payload`,
    /// checks that no other connection sees the execution yet, then commits (`true`) or rolls
    /// back. Returns the execution id. (On SQLite the executor cannot even claim meanwhile: the
    /// caller's transaction holds the one writer lock.)
    fn enqueue_in_transaction<W: Webhook>(
        runtime: &Runtime<Self>,
        payload: &W,
        commit: bool,
    ) -> impl std::future::Future<Output = ExecutionId>;

    /// In one of the caller's transactions: publishes `event`, checks that no other connection
    /// sees its deliveries yet, then commits (`true`) or rolls back.
    fn publish_in_transaction<E: buildamp::Event>(
        runtime: &Runtime<Self>,
        event: &E,
        commit: bool,
    ) -> impl std::future::Future<Output = buildamp::store::Published>;

    /// Every row of every table, as text.
    fn every_row_as_text(&self) -> impl std::future::Future<Output = Vec<(String, String)>>;

    /// How many executions are `sent`.
    fn count_sent(&self) -> impl std::future::Future<Output = i64>;

    /// A store on the same database as another executor process would have it: its own pool
    /// (Postgres), or a clone (SQLite runs one process).
    fn another_process(&self) -> impl std::future::Future<Output = Self>;
}

/// The parts of [`Backend`] whose SQL both backends share, written once: only the store type
/// differs (`Runtime::transaction` is a method of each store's runtime).
macro_rules! shared_backend_methods {
    () => {
        async fn enqueue_in_transaction<W: Webhook>(
            runtime: &Runtime<Self>,
            payload: &W,
            commit: bool,
        ) -> ExecutionId {
            let pool = runtime.store().pool();
            sqlx::query("CREATE TABLE IF NOT EXISTS orders (id INT PRIMARY KEY)")
                .execute(pool)
                .await
                .unwrap();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO orders VALUES ((SELECT count(*) FROM orders) + 1)")
                .execute(&mut *tx)
                .await
                .unwrap();
            let id = payload
                .trigger(runtime.transaction(&mut tx))
                .await
                .unwrap()
                .id;
            // Other connections (the executor's) cannot see it before the commit.
            assert!(
                runtime.execution(id).await.unwrap().is_none(),
                "visible before the commit"
            );
            if commit {
                tx.commit().await.unwrap()
            } else {
                tx.rollback().await.unwrap()
            }
            id
        }

        async fn publish_in_transaction<E: buildamp::Event>(
            runtime: &Runtime<Self>,
            event: &E,
            commit: bool,
        ) -> buildamp::store::Published {
            let pool = runtime.store().pool();
            let mut tx = pool.begin().await.unwrap();
            let published = event.publish(runtime.transaction(&mut tx)).await.unwrap();
            let seen = buildamp::ExecutionStore::executions(
                runtime.store(),
                &buildamp::ExecutionFilter::newest(500),
            )
            .await
            .unwrap();
            assert!(seen.is_empty(), "deliveries visible before the commit");
            if commit {
                tx.commit().await.unwrap()
            } else {
                tx.rollback().await.unwrap()
            }
            published
        }

        async fn count_sent(&self) -> i64 {
            sqlx::query_scalar("SELECT count(*) FROM webhook_executions WHERE status = 'sent'")
                .fetch_one(self.pool())
                .await
                .unwrap()
        }
    };
}

impl Backend for PgStore {
    const REFUSES_NUL_IN_JSON: bool = true;
    shared_backend_methods!();

    async fn another_process(&self) -> Self {
        let options = (*self.pool().connect_options()).clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("a second pool connects");
        PgStore::from_pool(pool)
    }

    async fn every_row_as_text(&self) -> Vec<(String, String)> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(self.pool())
        .await
        .unwrap();
        let mut rows = Vec::new();
        for table in tables {
            let texts: Vec<String> =
                sqlx::query_scalar(&format!("SELECT to_jsonb(t)::text FROM {table} t"))
                    .fetch_all(self.pool())
                    .await
                    .unwrap();
            rows.extend(texts.into_iter().map(|t| (table.clone(), t)));
        }
        rows
    }
}

impl Backend for SqliteStore {
    const REFUSES_NUL_IN_JSON: bool = false;
    shared_backend_methods!();

    async fn another_process(&self) -> Self {
        self.clone()
    }

    async fn every_row_as_text(&self) -> Vec<(String, String)> {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(self.pool())
                .await
                .unwrap();
        let mut rows = Vec::new();
        for table in tables {
            let columns: Vec<String> =
                sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(self.pool())
                    .await
                    .unwrap();
            let all = columns
                .iter()
                .map(|c| format!("quote(\"{c}\")"))
                .collect::<Vec<_>>()
                .join(" || ',' || ");
            let texts: Vec<String> = sqlx::query_scalar(&format!("SELECT {all} FROM \"{table}\""))
                .fetch_all(self.pool())
                .await
                .unwrap();
            rows.extend(texts.into_iter().map(|t| (table.clone(), t)));
        }
        rows
    }
}

/// A fresh SQLite database in a temporary file, removed when the guard drops.
pub struct TempSqlite {
    pub path: std::path::PathBuf,
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

pub async fn sqlite_store() -> (SqliteStore, TempSqlite) {
    let path = std::env::temp_dir().join(format!("buildamp-test-{}.db", uuid::Uuid::new_v4()));
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("SQLite opens");
    (store, TempSqlite { path })
}

/// Runs each named `async fn name<S: Backend>(store: S)` against Postgres (a fresh database per
/// test, from `#[sqlx::test]`) and SQLite (a fresh file per test): one conformance suite for both.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name(buildamp::PgStore::from_pool(pool)).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _file) = $crate::support::sqlite_store().await;
                    super::$name(store).await;
                }
            )*
        }
    };
}

/// The Python interpreter of the venv `tests/run` makes (with the `standardwebhooks` and
/// `jsonschema` packages from PyPI, pinned).
pub fn python() -> String {
    let installed = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pytools/bin/python");
    std::env::var("BUILDAMP_PYTHON")
        .ok()
        .or_else(|| std::path::Path::new(installed).exists().then(|| installed.to_owned()))
        .expect("the Python packages are not installed: run the tests through tests/run, which installs them")
}

const VERIFY: &str = r#"
import sys
from standardwebhooks.webhooks import Webhook
secret, msg_id, timestamp, signature, body = sys.argv[1:6]
Webhook(secret).verify(body, {
    "webhook-id": msg_id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signature,
})
print("valid")
"#;

/// Runs the reference Standard Webhooks library (an implementation we did not write): `Ok` with
/// its output when it accepts, `Err` with its error when not.
pub fn reference_verify(
    secret: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> Result<String, String> {
    let output = std::process::Command::new(python())
        .args([
            "-c",
            VERIFY,
            secret,
            id,
            &timestamp.to_string(),
            signature,
            body,
        ])
        .output()
        .expect("the Python interpreter runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.loads(sys.argv[1])
Draft202012Validator.check_schema(schema)
errors = sorted(Draft202012Validator(schema).iter_errors(json.loads(sys.argv[2])), key=str)
if errors:
    sys.exit("\n".join(e.message for e in errors))
print("valid")
"#;

/// Validates `instance` against a JSON Schema with the `jsonschema` package (draft 2020-12).
pub fn reference_validate(
    schema: &serde_json::Value,
    instance: &serde_json::Value,
) -> Result<(), String> {
    let output = std::process::Command::new(python())
        .args(["-c", VALIDATE, &schema.to_string(), &instance.to_string()])
        .output()
        .expect("the Python interpreter runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

const PARSE_METRICS: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([
    [family.name, family.type, [[s.name, s.labels, s.value] for s in family.samples]]
    for family in text_string_to_metric_families(sys.stdin.read())
]))
"#;

/// Parses Prometheus's text format with the `prometheus-client` package (an implementation we
/// did not write): each family's name, type and samples (name, labels, value).
pub fn reference_parse_metrics(text: &str) -> Result<serde_json::Value, String> {
    use std::io::Write;
    let mut child = std::process::Command::new(python())
        .args(["-c", PARSE_METRICS])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the Python interpreter runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Every log line of this test binary from now on (at `debug` and above), for tests that check
/// what is never logged. Installed once per binary, as the global subscriber.
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture_logs() -> Logs {
    static BUFFER: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    let buffer = BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buffer.clone());
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        buffer
    });
    Logs(buffer.clone())
}

/// An authorizer that lets in `Authorization: Bearer admin`, for admin routes only.
pub struct Admin;

impl buildamp::http::service::ServiceAuthorizer for Admin {
    async fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<buildamp::api::Caller, buildamp::api::Refused> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer admin") => Ok(buildamp::api::Caller("admin".into())),
            _ => Err(buildamp::api::Refused("who are you?".into())),
        }
    }

    async fn authorize(
        &self,
        _: &buildamp::api::Caller,
        scope: buildamp::http::service::Scope,
    ) -> Result<(), buildamp::api::Refused> {
        (scope == buildamp::http::service::Scope::Admin)
            .then_some(())
            .ok_or_else(|| buildamp::api::Refused("admins only".into()))
    }
}
