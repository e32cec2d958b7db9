//! Seed 000's campaign, end to end in one command:
//!
//! ```text
//! cargo run --example campaign
//! ```
//!
//! Like the other examples it uses `DATABASE_URL` if set, else SQLite under `./.buildamp/`. It
//! plays every side on 127.0.0.1:
//! - **your customer** (the seed's Message Centre): a receiver that checks the Standard Webhooks
//!   signature of every callback with the secret it was given, checks each callback carries the
//!   next `sequence`, drops repeats by `webhook-id`, and prints what it verified. It is down
//!   (`503`) for its first two requests.
//! - **your app**: the BuildAmp runtime with the service routes and the Resend endpoint. It opens
//!   a transaction over `POST /buildamp/transactions` with the customer's `callback_url`, sends
//!   1,000 emails through Resend in four batches (reporting PROCESSING after each), and lets
//!   BuildAmp derive SENT and COMPLETED.
//! - **Resend**: a stand-in for its send API (answering each email with an id) and its webhooks:
//!   signed `email.*` events for every email, some sent twice, some opens before their delivery.
//!
//! It exits 1 unless the customer verified every callback, in order, once each, and the final
//! summary counts what Resend reported.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use buildamp::api::{Caller, Refused};
use buildamp::delivery::guard::AddressPolicy;
use buildamp::http::service::{Scope, ServiceAuthorizer};
use buildamp::inbound::receive::{Inbound, InboundConfig, Provider};
use buildamp::inbound::{sign, verify};
use buildamp::service::secrets::SecretKeys;
use buildamp::{
    BuildAmpWebhook, DatabaseUrl, PgStore, ProcessEnv, Runtime, SqliteStore, Store, TriggerOptions,
    error_chain,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

/// How many emails the campaign sends.
const MESSAGES: usize = 1000;
/// The signing secret of the Resend stand-in's webhooks.
const RESEND_WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// An email through Resend's API (its id comes back as `id`).
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RESEND_API_URL}/emails",
    auth = "Bearer {RESEND_API_KEY}",
    external_id = "json:/id"
)]
pub struct CampaignEmail {
    /// The sender.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The body.
    pub html: String,
}

/// The app's rule for its service routes.
struct AppToken;

impl ServiceAuthorizer for AppToken {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer app-token") => Ok(Caller("app".into())),
            _ => Err(Refused("send `Authorization: Bearer <token>`".into())),
        }
    }

    async fn authorize(&self, _: &Caller, scope: Scope) -> Result<(), Refused> {
        match scope {
            Scope::Publish => Ok(()),
            _ => Err(Refused("this token may open transactions only".into())),
        }
    }
}

/// The customer's receiver.
#[derive(Default)]
struct Customer {
    secret: Mutex<Option<String>>,
    state: Mutex<Seen>,
    /// Signalled with the COMPLETED callback's body.
    completed: watch::Sender<Option<Value>>,
    /// Signalled with the number of callbacks verified.
    verified: watch::Sender<i64>,
}

#[derive(Default)]
struct Seen {
    requests: usize,
    ids: std::collections::HashSet<String>,
    next: i64,
    out_of_order: usize,
    repeats: usize,
    delivery_events: BTreeMap<String, usize>,
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
    {
        let mut seen = customer.state.lock().unwrap();
        seen.requests += 1;
        if seen.requests <= 2 {
            println!("  customer   (down) 503 to callback {}", seen.requests);
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    if let Err(e) = verify::standard(
        &secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        chrono::Utc::now().timestamp(),
        Duration::from_secs(300),
    ) {
        println!("  customer   REFUSED a callback: {e}");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(callback) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut seen = customer.state.lock().unwrap();
    if !seen
        .ids
        .insert(header("webhook-id").unwrap_or_default().to_owned())
    {
        seen.repeats += 1;
        return StatusCode::NO_CONTENT;
    }
    let sequence = callback["sequence"].as_i64().unwrap_or(0);
    if sequence != seen.next + 1 {
        seen.out_of_order += 1;
        println!(
            "  customer   OUT OF ORDER: callback {sequence} after {}",
            seen.next
        );
    }
    seen.next = sequence;
    customer.verified.send_replace(sequence);
    match header("x-event-type") {
        Some("status_change") => {
            let status = callback["status"].as_str().unwrap_or_default();
            println!(
                "  customer   #{sequence:<5} status_change {status:<10} message_count={} processed_count={}",
                callback["message_count"], callback["processed_count"]
            );
            if status == "COMPLETED" {
                customer.completed.send_replace(Some(callback));
            }
        }
        _ => {
            let kind = callback["event_type"].as_str().unwrap_or_default();
            let count = seen.delivery_events.entry(kind.to_owned()).or_default();
            *count += 1;
            if *count <= 2 {
                println!(
                    "  customer   #{sequence:<5} delivery_event {kind:<10} {} ({}; message is {})",
                    callback["recipient"].as_str().unwrap_or("-"),
                    callback["provider_message_id"].as_str().unwrap_or("-"),
                    callback["message_status"].as_str().unwrap_or("-"),
                );
            }
        }
    }
    StatusCode::NO_CONTENT
}

/// The Resend stand-in's send API: each email gets an id.
#[derive(Default)]
struct Resend {
    sent: Mutex<Vec<(String, String)>>,
    count: watch::Sender<usize>,
}

async fn resend_send(State(resend): State<Arc<Resend>>, body: Bytes) -> (StatusCode, String) {
    let to = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["to"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    let n = {
        let mut sent = resend.sent.lock().unwrap();
        sent.push((id.clone(), to));
        sent.len()
    };
    resend.count.send_replace(n);
    (StatusCode::OK, json!({ "id": id }).to_string())
}

async fn listen(router: axum::Router) -> Result<(String, tokio::task::JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((base, task))
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("\nthe campaign example failed: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    println!("BuildAmp campaign: a transaction of {MESSAGES} emails with callbacks");
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
            campaign(store).await
        }
        DatabaseUrl::Sqlite(url) => {
            let store = SqliteStore::connect(&url)
                .await
                .map_err(|e| error_chain(&e))?;
            campaign(store).await
        }
    }
}

/// What the Resend stand-in reports about email `i` (some twice, some out of order).
fn reports(i: usize) -> Vec<&'static str> {
    let mut events = vec!["email.sent"];
    match i % 100 {
        0..=2 => events.push("email.bounced"),
        3 => events.extend(["email.delivered", "email.complained"]),
        // The open arrives before the delivery it follows.
        4..=13 => events.extend(["email.opened", "email.delivered"]),
        14..=33 => events.extend(["email.delivered", "email.opened", "email.clicked"]),
        _ => events.push("email.delivered"),
    }
    events
}

async fn campaign<S: Store>(store: S) -> Result<(), String> {
    let (keys, _) =
        SecretKeys::from_env_or_development_file(&ProcessEnv).map_err(|e| e.to_string())?;
    let resend = Arc::new(Resend::default());
    let (resend_url, _resend_task) = listen(
        axum::Router::new()
            .route("/emails", axum::routing::post(resend_send))
            .with_state(resend.clone()),
    )
    .await?;
    let env: BTreeMap<String, String> = [
        ("RESEND_API_URL", resend_url.as_str()),
        ("RESEND_API_KEY", "re_campaign_example"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut config = buildamp::Config::default();
    config.poll_interval = Duration::from_millis(50);
    let runtime = Runtime::builder(store)
        .config(config)
        .env(env)
        .secret_keys(keys)
        .address_policy(
            AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().expect("a subnet")]),
        )
        .build()
        .map_err(|e| e.to_string())?;
    runtime.migrate().await.map_err(|e| error_chain(&e))?;
    let running = runtime.start().await.map_err(|e| error_chain(&e))?;
    let transactions = runtime.transactions();

    // The app's routes: the service API and Resend's webhook endpoint (telling transactions).
    let inbound = InboundConfig::from_env(
        &[(
            "RESEND_WEBHOOK_SECRET".to_owned(),
            RESEND_WEBHOOK_SECRET.to_owned(),
        )]
        .into_iter()
        .collect::<BTreeMap<_, _>>(),
        &[Provider::Resend],
    )
    .map_err(|e| e.to_string())?;
    let (inbound_router, dispatcher) = Inbound::new(runtime.store().clone(), inbound)
        .on_event(transactions.inbound_handler())
        .build();
    let redelivery = buildamp::maintenance::start(dispatcher);
    let (app, _app_task) =
        listen(buildamp::http::service::router(runtime.clone(), AppToken).merge(inbound_router))
            .await?;
    println!("  app        {app}/buildamp/transactions and {app}/webhooks/resend");

    let customer = Arc::new(Customer::default());
    let (customer_url, _customer_task) = listen(
        axum::Router::new()
            .route("/webhooks/email-status", axum::routing::post(receive))
            .with_state(customer.clone()),
    )
    .await?;

    // 1. The campaign is submitted with its callback URL.
    let http = reqwest::Client::new();
    let opened: Value = http
        .post(format!("{app}/buildamp/transactions"))
        .bearer_auth("app-token")
        .header("content-type", "application/json")
        .body(
            json!({
                "callback_url": format!("{customer_url}/webhooks/email-status"),
                "callback_events": ["status_change", "delivery_events"],
                "environment": "development",
                "message_count": MESSAGES,
                "metadata": {"campaign": "spring-sale", "template_id": "tmpl_42"},
            })
            .to_string(),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?
        .bytes()
        .await
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))?;
    let id: buildamp::transactions::TransactionId = serde_json::from_value(opened["id"].clone())
        .map_err(|e| format!("the transaction was not opened: {opened} ({e})"))?;
    *customer.secret.lock().unwrap() = opened["secret"].as_str().map(str::to_owned);
    println!(
        "  app        transaction {id} opened ({})",
        opened["status"]
    );

    // 2. The app loads its messages in four batches, reporting progress.
    let emails: Vec<CampaignEmail> = (0..MESSAGES)
        .map(|i| CampaignEmail {
            from: "Spring Sale <sale@example.com>".into(),
            to: format!("customer{i}@example.com"),
            subject: "30% off this week".into(),
            html: "<p>Our spring sale is on.</p>".into(),
        })
        .collect();
    let mut options = TriggerOptions::default();
    options.correlation_id = Some(id.into());
    for (batch, chunk) in emails.chunks(MESSAGES / 4).enumerate() {
        runtime
            .trigger_batch(chunk, &options)
            .await
            .map_err(|e| error_chain(&e))?;
        let loaded = u64::try_from((batch + 1) * chunk.len()).unwrap_or(u64::MAX);
        transactions
            .processing(id, loaded, None)
            .await
            .map_err(|e| error_chain(&e))?;
    }

    // 3. Resend received them; its webhooks report what happened to each.
    let mut count = resend.count.subscribe();
    tokio::time::timeout(Duration::from_secs(120), count.wait_for(|n| *n >= MESSAGES))
        .await
        .map_err(|_| "Resend did not receive every email within 2 minutes".to_owned())?
        .map_err(|e| e.to_string())?;
    let sent = resend.sent.lock().unwrap().clone();
    // Each email's events in the order Resend sends them (ids are Resend's own, unique), and
    // the emails reported 8 at a time.
    let mut duplicates = 0;
    let mut emails = Vec::new();
    for (i, (email_id, to)) in sent.iter().enumerate() {
        let mut posts = Vec::new();
        for (k, kind) in reports(i).into_iter().enumerate() {
            let mut data =
                json!({"email_id": email_id, "to": [to], "subject": "30% off this week"});
            match kind {
                "email.bounced" => {
                    data["bounce"] =
                        json!({"message": "550 mailbox does not exist", "type": "Permanent"});
                }
                "email.clicked" => data["click"] = json!({"link": "https://example.com/sale"}),
                _ => {}
            }
            let event = json!({
                "type": kind,
                "created_at": chrono::Utc::now().to_rfc3339(),
                "data": data,
            });
            let id = format!("msg_{email_id}_{k}");
            posts.push((id.clone(), event.clone()));
            // One email in twenty has an event sent twice (Resend retries too).
            if i % 20 == 0 && k == 0 {
                posts.push((id, event));
                duplicates += 1;
            }
        }
        emails.push(posts);
    }
    let mut tasks = tokio::task::JoinSet::new();
    let emails = Arc::new(Mutex::new(emails.into_iter()));
    for _ in 0..8 {
        let (emails, http, url) = (
            emails.clone(),
            http.clone(),
            format!("{app}/webhooks/resend"),
        );
        tasks.spawn(async move {
            loop {
                let Some(posts) = emails.lock().unwrap().next() else {
                    return Ok::<_, String>(());
                };
                for (id, event) in posts {
                    let body = event.to_string();
                    let timestamp = chrono::Utc::now().timestamp();
                    let signature =
                        sign::standard(&[RESEND_WEBHOOK_SECRET], &id, timestamp, body.as_bytes())
                            .map_err(|e| e.to_string())?;
                    let answer = http
                        .post(&url)
                        .header("svix-id", &id)
                        .header("svix-timestamp", timestamp.to_string())
                        .header("svix-signature", signature)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if !answer.status().is_success() {
                        return Err(format!(
                            "Resend's event {id} was refused: {}",
                            answer.status()
                        ));
                    }
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    println!(
        "  resend     reported every email ({duplicates} events sent twice, 100 opens before their delivery)"
    );

    // 4. The customer hears COMPLETED with the summary, and every delivery event (one that
    // comes after COMPLETED, like a late open, is still called back): ACCEPT, 4 × PROCESSING,
    // 1000 × sent, SENT, each provider event once, COMPLETED.
    let provider_events: usize = (0..MESSAGES).map(|i| reports(i).len()).sum();
    let want = i64::try_from(1 + 4 + MESSAGES + 1 + provider_events + 1).unwrap_or(i64::MAX);
    let mut verified = customer.verified.subscribe();
    let waited = tokio::time::timeout(Duration::from_secs(240), verified.wait_for(|n| *n >= want))
        .await
        .is_ok();
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    redelivery.stop().await;
    let done = customer.completed.borrow().clone().unwrap_or_default();
    if !waited {
        println!("  customer   gave up waiting after 4 minutes");
    }

    let summary = &done["summary"];
    println!("  summary    {summary}");
    let seen = customer.state.lock().unwrap();
    println!(
        "  customer   verified {} callbacks in order: {}",
        seen.next,
        seen.delivery_events
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut problems = Vec::new();
    if seen.out_of_order > 0 {
        problems.push(format!("{} callbacks out of order", seen.out_of_order));
    }
    if done.is_null() {
        problems.push("no COMPLETED callback".to_owned());
    }
    let n = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
    let expect = [
        ("message_count", 1000),
        ("sent", 1000),
        ("reached_recipient", 970),
        ("not_delivered", 30),
        ("unknown", 0),
    ];
    for (field, want) in expect {
        if n(&summary[field]) != want {
            problems.push(format!("summary.{field} is {}, not {want}", summary[field]));
        }
    }
    let states =
        json!({"bounced": 30, "clicked": 200, "complained": 10, "delivered": 660, "opened": 100});
    if summary["states"] != states {
        problems.push(format!(
            "summary.states is {}, not {states}",
            summary["states"]
        ));
    }
    if seen.next != want {
        problems.push(format!(
            "the customer verified {} callbacks, not {want}",
            seen.next
        ));
    }
    if problems.is_empty() {
        println!(
            "  ok         every callback verified, in order, once; the summary counts what Resend reported"
        );
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
