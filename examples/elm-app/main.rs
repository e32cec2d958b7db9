//! The Elm example app's server: the page, its compiled Elm, and the BuildAmp API it calls, with
//! an executor delivering to the local provider simulator; the operator's dashboard at
//! `/buildamp/dashboard` and Prometheus metrics at `/metrics`, for the same signed-in user.
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

/// The demo's "session": requests carrying `X-Demo-Session: demo`, or the cookie
/// `demo_session=demo` (what the page's `EventSource` can send), may trigger and read. A real app
/// checks its own session here, and which payloads that user may send.
struct DemoSession;

fn signed_in(headers: &axum::http::HeaderMap) -> Result<(), Refused> {
    let header = headers.get("x-demo-session").and_then(|v| v.to_str().ok());
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim() == "demo_session=demo");
    if header == Some("demo") || cookie {
        Ok(())
    } else {
        Err(Refused("sign in first".into()))
    }
}

/// The dashboard and the service's routes: in this demo every signed-in user is an operator. A
/// real app checks here that its user may operate the service.
impl buildamp::http::service::ServiceAuthorizer for DemoSession {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        signed_in(headers)?;
        Ok(Caller("demo".into()))
    }

    async fn authorize(
        &self,
        _caller: &Caller,
        _scope: buildamp::http::service::Scope,
    ) -> Result<(), Refused> {
        Ok(())
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
    let metrics = buildamp::telemetry::install().map_err(|e| e.to_string())?;
    let app = page_router()
        .merge(api::router(runtime.clone(), DemoSession))
        .merge(buildamp::http::service::router(
            runtime.clone(),
            DemoSession,
        ))
        .merge(buildamp::http::metrics::router(runtime.clone(), metrics));
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
        println!(
            "The operator's dashboard: {base}/buildamp/dashboard (signed in with the demo's cookie, which the page sets)"
        );
        tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
    };
    stop.cancel();
    let _ = server.await;
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    outcome
}

/// What the Elm page does, over HTTP: trigger `SendGridEmail` and `StripePaymentIntent`, then
/// follow each through its status events (with the cookie, as the page's `EventSource` does) until
/// it is delivered, and read Stripe's answer as the typed decoders do.
async fn smoke_test(base: &str) -> Result<(), String> {
    let http = reqwest::Client::new();
    let email = serde_json::json!({
        "personalizations": [{"to": [{"email": "ada@example.com", "name": null}], "cc": [], "bcc": [],
                              "subject": null, "dynamic_template_data": null}],
        "from": {"email": "app@example.com", "name": "BuildAmp example"},
        "reply_to": null, "subject": "Hello", "content": [{"type": "text/plain", "value": "Hi"}],
        "template_id": null, "categories": ["example"]
    });
    let payment = serde_json::json!({
        "amount": 500, "currency": "eur", "customer": null, "description": "BuildAmp example",
        "receipt_email": null, "metadata": {"order_id": "example-1"},
        "allowed_payment_method_types": ["card"], "excluded_payment_method_types": [],
        "automatic_payment_methods": null
    });
    for (webhook, payload) in [("SendGridEmail", email), ("StripePaymentIntent", payment)] {
        let created = http
            .post(format!("{base}/buildamp/webhooks/{webhook}"))
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
        let last = tokio::time::timeout(Duration::from_secs(10), follow(&http, base, id))
            .await
            .map_err(|_| format!("{webhook} {id} was not delivered within 10 s"))??;
        if last["status"]["state"] != "sent" {
            return Err(format!("{webhook} {id} ended as {last}"));
        }
        let answer = &last["status"]["response"]["value"];
        if webhook == "StripePaymentIntent"
            && !answer["id"].as_str().is_some_and(|i| i.starts_with("pi_"))
        {
            return Err(format!("Stripe's answer is not a PaymentIntent: {answer}"));
        }
        println!(
            "elm-app smoke: {webhook} {id} delivered; its answer as the Elm decoder reads it: {answer}"
        );
    }
    // The operator's view of the same deliveries.
    let page = http
        .get(format!("{base}/buildamp/dashboard"))
        .header(header::COOKIE, "demo_session=demo")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !page.status().is_success() {
        return Err(format!("the dashboard answered {}", page.status()));
    }
    let data = http
        .get(format!("{base}/buildamp/dashboard/data"))
        .header(header::COOKIE, "demo_session=demo")
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json_value()
        .await?;
    let delivered = data["overview"]["total"]["sent"].as_u64().unwrap_or(0);
    if delivered < 2 {
        return Err(format!(
            "the dashboard shows {delivered} deliveries, not 2: {data}"
        ));
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if !metrics.contains("buildamp_deliveries_total{") {
        return Err(format!("/metrics counts no delivery:\n{metrics}"));
    }
    println!("elm-app smoke: the dashboard shows {delivered} deliveries, and /metrics counts them");
    Ok(())
}

/// The `status` events of execution `id`, read until the server ends the stream; the last one.
async fn follow(http: &reqwest::Client, base: &str, id: &str) -> Result<serde_json::Value, String> {
    let mut response = http
        .get(format!("{base}/buildamp/executions/{id}/events"))
        .header(header::COOKIE, "demo_session=demo")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the status stream answered {}", response.status()));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&bytes);
    let data = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .next_back()
        .ok_or_else(|| format!("no status event in {text:?}"))?;
    serde_json::from_str(data.trim()).map_err(|e| format!("{e}: {data}"))
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
