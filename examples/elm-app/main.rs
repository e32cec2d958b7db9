//! The Elm example app's server: the page, its compiled Elm, and the BuildAmp API it calls, with
//! an executor delivering to the local provider simulator.
//!
//! ```text
//! cd examples/elm-app && elm make src/Main.elm --output static/elm.js && cd ../..
//! cargo run --example elm-app          # then open http://127.0.0.1:8080
//! cargo run --example elm-app -- --smoke   # trigger through the API once and exit (CI)
//! ```
//!
//! `src/BuildAmp/Webhooks.elm` is generated from `models/` (`buildamp gen --models models --out
//! examples/elm-app/src`) and committed; CI checks that regenerating it changes nothing.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use buildamp::api::{self, Authorizer, Caller, ReadRequest, Refused, TriggerRequest};
use buildamp::http::{ServeLimits, serve};
use buildamp::{DatabaseUrl, Env, PgStore, Runtime, SqliteStore, Store, error_chain};
use buildamp_models as _;
use tokio_util::sync::CancellationToken;

/// The demo's "session": requests carrying `X-Demo-Session: demo` may trigger and read. A real app
/// checks its own session here, and which payloads that user may send.
struct DemoSession;

fn signed_in(headers: &axum::http::HeaderMap) -> Result<(), Refused> {
    match headers.get("x-demo-session").and_then(|v| v.to_str().ok()) {
        Some("demo") => Ok(()),
        _ => Err(Refused("sign in first".into())),
    }
}

impl Authorizer for DemoSession {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        signed_in(headers)?;
        Ok(Caller("demo".into()))
    }

    /// Any signed-in user may trigger any frontend webhook in this demo.
    async fn authorize_trigger(&self, _request: &TriggerRequest<'_>) -> Result<(), Refused> {
        Ok(())
    }

    async fn authorize_read(&self, request: &ReadRequest<'_>) -> Result<(), Refused> {
        signed_in(request.headers)
    }
}

/// The process environment, with `DEVELOPMENT` set so the models target the simulator.
struct Development;

impl Env for Development {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "DEVELOPMENT" => Some("1".into()),
            _ => std::env::var(name).ok(),
        }
    }
}

const ELM_JS_MISSING: &str = "document.getElementById('app').textContent = \
    'Compile the Elm app first: cd examples/elm-app && elm make src/Main.elm --output static/elm.js';";

fn page_router() -> Router {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/elm-app/static");
    let index = dir.join("index.html");
    let elm = dir.join("elm.js");
    Router::new()
        .route(
            "/",
            get(move || async move {
                let html = std::fs::read_to_string(&index).unwrap_or_default();
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html)
            }),
        )
        .route(
            "/elm.js",
            get(move || async move {
                let js = std::fs::read_to_string(&elm).unwrap_or_else(|_| ELM_JS_MISSING.into());
                ([(header::CONTENT_TYPE, "text/javascript")], js).into_response()
            }),
        )
}

#[tokio::main]
async fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let result = match DatabaseUrl::from_env_or_development_default() {
        Ok((DatabaseUrl::Postgres(url), _)) => match PgStore::connect_or_create(&url, 8).await {
            Ok(store) => run(store, smoke).await,
            Err(e) => Err(error_chain(&e)),
        },
        Ok((DatabaseUrl::Sqlite(url), _)) => match SqliteStore::connect(&url).await {
            Ok(store) => run(store, smoke).await,
            Err(e) => Err(error_chain(&e)),
        },
        Err(e) => Err(e.to_string()),
    };
    if let Err(message) = result {
        eprintln!("elm-app: {message}");
        std::process::exit(1);
    }
}

async fn run<S: Store>(store: S, smoke: bool) -> Result<(), String> {
    let simulator = tokio::net::TcpListener::bind("127.0.0.1:4040")
        .await
        .map_err(|e| format!("cannot start the simulator on 127.0.0.1:4040: {e}"))?;
    tokio::spawn(buildamp::simulator::serve(
        simulator,
        std::future::pending(),
    ));
    let mut config = buildamp::Config::default();
    config.poll_interval = Duration::from_millis(200);
    let runtime = Runtime::builder(store)
        .config(config)
        .env(Development)
        // The models declare event types: their endpoints' secrets need a key (a development
        // one under .buildamp/ unless BUILDAMP_SECRET_KEY is set).
        .secret_keys(development_keys()?)
        .allow_missing_env()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.migrate().await.map_err(|e| error_chain(&e))?;
    let running = runtime.start().await.map_err(|e| error_chain(&e))?;
    let app = page_router().merge(api::router(runtime.clone(), DemoSession));
    let port = if smoke { 0 } else { 8080 };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    // `buildamp::http::serve` rather than `axum::serve`: slow clients are cut off.
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, app, ServeLimits::default(), stop.clone()));
    let outcome = if smoke {
        smoke_test(&base).await
    } else {
        println!("BuildAmp Elm example on {base}");
        tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
    };
    stop.cancel();
    let _ = server.await;
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    outcome
}

/// What the Elm page does, over HTTP: trigger `SendGridEmail`, then read it until delivered.
async fn smoke_test(base: &str) -> Result<(), String> {
    let http = reqwest::Client::new();
    let payload = serde_json::json!({
        "personalizations": [{"to": [{"email": "ada@example.com", "name": null}], "cc": [], "bcc": [],
                              "subject": null, "dynamic_template_data": null}],
        "from": {"email": "app@example.com", "name": "BuildAmp example"},
        "reply_to": null, "subject": "Hello", "content": [{"type": "text/plain", "value": "Hi"}],
        "template_id": null, "categories": ["example"]
    });
    let created: serde_json::Value = http
        .post(format!("{base}/buildamp/webhooks/SendGridEmail"))
        .header("Content-Type", "application/json")
        .header("X-Demo-Session", "demo")
        .body(payload.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json_value()
        .await?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| format!("no execution in {created}"))?;
    for _ in 0..100 {
        let read = http
            .get(format!("{base}/buildamp/executions/{id}"))
            .header("X-Demo-Session", "demo")
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json_value()
            .await?;
        match read["status"]["state"].as_str() {
            Some("sent") => {
                println!("elm-app smoke: SendGridEmail {id} delivered");
                return Ok(());
            }
            Some("dead_letter") => return Err(format!("dead-lettered: {read}")),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Err("not delivered within 10 s".into())
}

trait JsonValue {
    async fn json_value(self) -> Result<serde_json::Value, String>;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Result<serde_json::Value, String> {
        let bytes = self.bytes().await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }
}

/// `BUILDAMP_SECRET_KEY`, or the development key under `.buildamp/`.
fn development_keys() -> Result<buildamp::service::secrets::SecretKeys, String> {
    buildamp::service::secrets::SecretKeys::from_env_or_development_file(&buildamp::ProcessEnv)
        .map(|(keys, _)| keys)
        .map_err(|e| e.to_string())
}
