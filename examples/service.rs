//! The webhooks service, end to end in one command:
//!
//! ```text
//! cargo run --example service
//! ```
//!
//! Like the quickstart it uses `DATABASE_URL` if set, else SQLite under `./.buildamp/`. It plays
//! both sides on 127.0.0.1:
//! - **your customers**: two receivers, a CRM that wants every `lead.*` event and a dialer that
//!   wants only hot leads (`data.lead.score > 80`). Each checks the Standard Webhooks signature of
//!   every delivery with the secret it was given, and answers `204`; the dialer fails its first
//!   attempt with a `503` to show a retry.
//! - **your app**: the BuildAmp runtime with the service's HTTP routes. It registers the two
//!   endpoints over HTTP, publishes a `LeadCreated` inside a database transaction (together with
//!   a row of the app's own) and another over `POST /buildamp/events`, prints what arrived, and
//!   resends one delivery the CRM says it lost.
//!
//! Customers' URLs may not reach inside the network; this example allows `127.0.0.0/8` (what
//! `BUILDAMP_ALLOW_NETWORKS=127.0.0.0/8` does) because its customers run on this machine.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use buildamp::api::{Caller, Refused};
use buildamp::delivery::guard::AddressPolicy;
use buildamp::http::service::{Scope, ServiceAuthorizer};
use buildamp::inbound::verify;
use buildamp::service::secrets::SecretKeys;
use buildamp::{DatabaseUrl, Event, PgStore, ProcessEnv, Runtime, SqliteStore, Store, error_chain};
use buildamp_models::{Agent, Lead, LeadCreated};
use serde_json::{Value, json};

/// The app's own rule for its service routes: a bearer token per role (a real app checks its
/// sessions or API keys here).
struct Tokens;

impl ServiceAuthorizer for Tokens {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer admin-token") => Ok(Caller("admin".into())),
            _ => Err(Refused("send `Authorization: Bearer <token>`".into())),
        }
    }

    async fn authorize(&self, caller: &Caller, _scope: Scope) -> Result<(), Refused> {
        if caller.0 == "admin" {
            Ok(())
        } else {
            Err(Refused("admins only".into()))
        }
    }
}

/// A customer's receiver: verifies each delivery with the secret it was given.
struct Customer {
    name: &'static str,
    secret: Mutex<Option<String>>,
    fail_first: bool,
    seen: Mutex<Vec<String>>,
}

async fn receive(
    State(customer): State<Arc<Customer>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(secret) = customer.secret.lock().unwrap().clone() else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let now = chrono::Utc::now().timestamp();
    let verdict = verify::standard(
        &secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        now,
        verify::DEFAULT_TOLERANCE,
    );
    let envelope: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut seen = customer.seen.lock().unwrap();
    let line = format!(
        "  {:<7} {} {} (lead score {}, retry_count {}): signature {}",
        customer.name,
        envelope["event_type"].as_str().unwrap_or("?"),
        envelope["event_id"].as_str().unwrap_or("?"),
        envelope["data"]["lead"]["score"],
        envelope["metadata"]["retry_count"],
        if verdict.is_ok() {
            "verified"
        } else {
            "INVALID"
        },
    );
    if customer.fail_first && seen.is_empty() {
        println!("{line}; answering 503 to show a retry");
        seen.push("503".into());
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    println!("{line}");
    if verdict.is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    seen.push(envelope["event_id"].as_str().unwrap_or_default().to_owned());
    StatusCode::NO_CONTENT
}

async fn start_customer(customer: Arc<Customer>) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/webhooks",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let app = axum::Router::new().fallback(receive).with_state(customer);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Sends `request` (with `body` as JSON) and reads the JSON answer.
async fn call(
    request: reqwest::RequestBuilder,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), String> {
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => request,
    };
    let answer = request.send().await.map_err(|e| e.to_string())?;
    let status = StatusCode::from_u16(answer.status().as_u16()).map_err(|e| e.to_string())?;
    let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("\nthe service example failed: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    println!("BuildAmp webhooks service");
    let (url, defaulted) =
        DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    if defaulted {
        println!("  database   SQLite at .buildamp/buildamp.db (DATABASE_URL is not set)");
    }
    match url {
        DatabaseUrl::Postgres(url) => {
            let store = PgStore::connect_or_create(&url, 8)
                .await
                .map_err(|e| error_chain(&e))?;
            serve(store, |runtime| {
                Box::pin(publish_in_pg_transaction(runtime))
            })
            .await
        }
        DatabaseUrl::Sqlite(url) => {
            let store = SqliteStore::connect(&url)
                .await
                .map_err(|e| error_chain(&e))?;
            serve(store, |runtime| {
                Box::pin(publish_in_sqlite_transaction(runtime))
            })
            .await
        }
    }
}

type Publishing<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + 'a>>;

fn lead(id: &str, score: u32) -> LeadCreated {
    LeadCreated {
        lead: Lead {
            id: id.into(),
            name: "John Doe".into(),
            email: Some("john.doe@example.com".into()),
            phone: Some("+15550123".into()),
            source: "website".into(),
            score,
            created_at: chrono::Utc::now().to_rfc3339(),
        },
        agent: Some(Agent {
            id: "agent_456".into(),
            name: "Sarah Johnson".into(),
            email: Some("sarah@vocelio.com".into()),
        }),
    }
}

/// The outbox pattern: the app's own row and the event commit together, or neither does.
async fn publish_in_sqlite_transaction(runtime: &Runtime<SqliteStore>) -> Result<String, String> {
    let pool = runtime.store().pool();
    let db = |e: sqlx::Error| e.to_string();
    sqlx::query("CREATE TABLE IF NOT EXISTS leads (id TEXT PRIMARY KEY, score INTEGER)")
        .execute(pool)
        .await
        .map_err(db)?;
    let id = format!("lead_{}", uuid::Uuid::now_v7().simple());
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("INSERT INTO leads VALUES (?1, 92)")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let published = lead(&id, 92)
        .publish(runtime.transaction(&mut tx))
        .metadata("source_service", "lead_management")
        .await
        .map_err(|e| error_chain(&e))?;
    tx.commit().await.map_err(db)?;
    Ok(published.event_id)
}

async fn publish_in_pg_transaction(runtime: &Runtime<PgStore>) -> Result<String, String> {
    let pool = runtime.store().pool();
    let db = |e: sqlx::Error| e.to_string();
    sqlx::query("CREATE TABLE IF NOT EXISTS leads (id TEXT PRIMARY KEY, score INTEGER)")
        .execute(pool)
        .await
        .map_err(db)?;
    let id = format!("lead_{}", uuid::Uuid::now_v7().simple());
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("INSERT INTO leads VALUES ($1, 92)")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let published = lead(&id, 92)
        .publish(runtime.transaction(&mut tx))
        .metadata("source_service", "lead_management")
        .await
        .map_err(|e| error_chain(&e))?;
    tx.commit().await.map_err(db)?;
    Ok(published.event_id)
}

async fn serve<S: Store>(
    store: S,
    publish_in_transaction: impl for<'a> Fn(&'a Runtime<S>) -> Publishing<'a>,
) -> Result<(), String> {
    let (keys, from_file) =
        SecretKeys::from_env_or_development_file(&ProcessEnv).map_err(|e| e.to_string())?;
    if from_file {
        println!(
            "  secrets    sealed with the development key in .buildamp/secret-key (BUILDAMP_SECRET_KEY is not set)"
        );
    }
    let mut config = buildamp::Config::default();
    config.poll_interval = Duration::from_millis(100);
    let runtime = Runtime::builder(store)
        .config(config)
        .secret_keys(keys)
        .address_policy(
            AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().expect("a subnet")]),
        )
        .allow_missing_env()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.migrate().await.map_err(|e| error_chain(&e))?;
    let running = runtime.start().await.map_err(|e| error_chain(&e))?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let api = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let router = buildamp::http::service::router(runtime.clone(), Tokens);
    let server = tokio::spawn(buildamp::http::serve(
        listener,
        router,
        Default::default(),
        stop.clone(),
    ));
    println!("  service    {api}/buildamp/... (event types, events, endpoints, deliveries)");

    let crm = Arc::new(Customer {
        name: "crm",
        secret: Mutex::default(),
        fail_first: false,
        seen: Mutex::default(),
    });
    let dialer = Arc::new(Customer {
        name: "dialer",
        secret: Mutex::default(),
        fail_first: true,
        seen: Mutex::default(),
    });
    let client = reqwest::Client::new();
    let admin = |request: reqwest::RequestBuilder| request.bearer_auth("admin-token");
    let mut endpoint_ids = Vec::new();
    println!("\nregistering the customers' endpoints over HTTP:");
    for (customer, body) in [
        (
            &crm,
            json!({"subscriptions": ["lead.*"], "description": "CRM lead sync"}),
        ),
        (
            &dialer,
            json!({"subscriptions": ["lead.created"], "description": "Dialer: hot leads only",
            "filter": {"rules": [{"field_path": "data.lead.score", "operator": "gt", "value": 80}]}}),
        ),
    ] {
        let mut body = body;
        body["url"] = start_customer(customer.clone()).await?.into();
        body["environment"] = "development".into();
        let (status, created) = call(
            admin(client.post(format!("{api}/buildamp/endpoints"))),
            Some(&body),
        )
        .await?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "creating the {} endpoint answered {status}: {created}",
                customer.name
            ));
        }
        *customer.secret.lock().unwrap() = created["secret"].as_str().map(str::to_owned);
        endpoint_ids.push(created["id"].as_str().unwrap_or_default().to_owned());
        println!(
            "  {:<7} {} -> {} (secret handed to the customer once)",
            customer.name,
            created["id"].as_str().unwrap_or("?"),
            created["url"].as_str().unwrap_or("?")
        );
    }

    println!("\npublishing:");
    let in_tx = publish_in_transaction(&runtime).await?;
    println!("  a hot lead (score 92) inside the app's own transaction: {in_tx}");
    let cold = json!({"event_type": "lead.created", "data": serde_json::to_value(lead("lead_cold", 40)).map_err(|e| e.to_string())?});
    let (_, answer) = call(
        admin(client.post(format!("{api}/buildamp/events"))),
        Some(&cold),
    )
    .await?;
    println!(
        "  a cold lead (score 40) over POST /buildamp/events: {} ({} deliveries)",
        answer["event_id"].as_str().unwrap_or("?"),
        answer["deliveries"]
    );

    println!("\ndelivered:");
    // The CRM gets both; the dialer the hot one (after a retry 1 s later).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let crm_done = crm.seen.lock().unwrap().len() >= 2;
        let dialer_done = dialer
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| *s != "503")
            .count()
            >= 1;
        if crm_done && dialer_done {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err("not every delivery arrived within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, deliveries) = call(
        admin(client.get(format!("{api}/buildamp/deliveries?limit=10"))),
        None,
    )
    .await?;
    println!("\nGET /buildamp/deliveries:");
    for d in deliveries["deliveries"].as_array().into_iter().flatten() {
        println!(
            "  {} {} {} after {} attempt(s)",
            d["event_id"].as_str().unwrap_or("?"),
            d["webhook"].as_str().unwrap_or("?"),
            d["status"]["state"].as_str().unwrap_or("?"),
            d["attempts"]
        );
    }
    // The CRM says it lost the first event: resend that delivery (the same event id, so a
    // receiver that deduplicates sees a repeat).
    let lost = deliveries["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["endpoint_id"] == endpoint_ids[0].as_str())
        .ok_or("the CRM has no delivery")?;
    let resend = format!(
        "{api}/buildamp/deliveries/{}/resend",
        lost["id"].as_str().unwrap_or("?")
    );
    let (status, answer) = call(admin(client.post(resend)), None).await?;
    println!(
        "
POST /buildamp/deliveries/{{id}}/resend: {status} {answer}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while crm.seen.lock().unwrap().len() < 3 {
        if tokio::time::Instant::now() > deadline {
            return Err("the resent delivery did not arrive within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The customers leave: their endpoints go (a delivery still queued for one would dead-letter).
    for id in &endpoint_ids {
        call(
            admin(client.delete(format!("{api}/buildamp/endpoints/{id}"))),
            None,
        )
        .await?;
    }
    stop.cancel();
    let _ = server.await;
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    println!("\ndone: every delivery signed, verified by its receiver, and tracked.");
    Ok(())
}
