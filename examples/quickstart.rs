//! The quickstart: a runtime delivering real models to the local simulator, end to end.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It uses `DATABASE_URL` if set (`postgres://…`, creating the database if the server lacks it,
//! or `sqlite://path`), else a SQLite file under `./.buildamp/`, so it runs on a machine with no
//! database server. It starts the provider simulator on port 4040
//! (where the models' `if_env!("DEVELOPMENT", ...)` URLs point), runs the executor, triggers a
//! few webhooks, shows their outcomes as they happen, and ends with a summary.
//!
//! Typed handlers take the next step from what each provider answered: SendGrid refuses a
//! message for lack of credits, so it goes out through Mailgun instead; Stripe creates a
//! PaymentIntent, so a status check of it is scheduled for five minutes later; PayPal creates an
//! order, and its approval link is read from the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buildamp::{
    BuildAmpWebhook, Config, DatabaseUrl, Env, ExecutionId, Handled, OutcomeKind, PgStore, Runtime,
    SqliteStore, Status, Store, Webhook, error_chain,
};
use buildamp_models::{
    AutomaticPaymentMethods, CustomAPICall, EmailAddress, EmailContent, MailgunEmail, PayPalAmount,
    PayPalExperienceContext, PayPalIntent, PayPalOrder, PayPalPaymentSource, PayPalPurchaseUnit,
    PayPalUserAction, PayPalWallet, Personalization, SendGridEmail, StripePaymentIntent,
};
use serde::{Deserialize, Serialize};

/// Executions the handlers triggered, to show in the summary.
type FollowUps = Arc<Mutex<Vec<ExecutionId>>>;

/// When the status check of a new PaymentIntent runs.
const STATUS_CHECK_AFTER: Duration = Duration::from_secs(5 * 60);

/// An analytics service that is down: three attempts (1 s, then 2 s apart), then dead letter.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "http://localhost:4040/test-webhook/error", server_only = true)]
pub struct AnalyticsEvent {
    /// The event.
    pub name: String,
    /// Who did it.
    pub user: String,
}

/// The process environment, with `DEVELOPMENT` set so the models target the simulator, and the
/// custom service (whose URL the `CustomAPICall` model reads from `CUSTOM_SERVICE_URL`) played by
/// the simulator's rate-limited service.
struct Development;

impl Env for Development {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "DEVELOPMENT" => Some("1".into()),
            "CUSTOM_SERVICE_URL" => Some("http://localhost:4040/test-webhook/rate-limited".into()),
            _ => std::env::var(name).ok(),
        }
    }
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("\nquickstart failed: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    println!("BuildAmp quickstart");
    let (url, defaulted) =
        DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    if defaulted {
        println!(
            "  database   SQLite at .buildamp/buildamp.db (DATABASE_URL is not set; set it to postgres://… to use Postgres)"
        );
    } else {
        println!("  database   {}", redact(url.as_str()));
    }
    match url {
        DatabaseUrl::Postgres(url) => quickstart(connect(&url).await?).await,
        DatabaseUrl::Sqlite(url) => {
            let store = SqliteStore::connect(&url)
                .await
                .map_err(|e| format!("cannot open {url}: {}", error_chain(&e)))?;
            quickstart(store).await
        }
    }
}

async fn quickstart<S: Store>(store: S) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:4040").await.map_err(|e| {
        format!("cannot start the simulator on 127.0.0.1:4040 ({e}); the models' DEVELOPMENT URLs point there, so stop whatever uses it")
    })?;
    tokio::spawn(buildamp::simulator::serve(listener, std::future::pending()));
    println!(
        "  simulator  http://localhost:4040/test-webhook/{{sendgrid,mailgun,stripe,paypal,rate-limited,error,reject}}"
    );
    // Fallbacks are waited for; status checks are due in five minutes, so they stay scheduled.
    let (fallbacks, checks) = (FollowUps::default(), FollowUps::default());
    let (mailgun_ids, check_ids) = (fallbacks.clone(), checks.clone());

    let mut config = Config::default();
    config.poll_interval = Duration::from_millis(200);
    let started = Instant::now();
    let runtime = Runtime::builder(store)
        .config(config)
        .env(Development)
        // The models declare event types: their endpoints' secrets need a key (a development
        // one under .buildamp/ unless BUILDAMP_SECRET_KEY is set).
        .secret_keys(development_keys()?)
        // The other models need provider keys; the quickstart does not send them.
        .allow_missing_env()
        .on_outcome(move |event| async move {
            let secs = started.elapsed().as_secs_f64();
            match event.kind {
                OutcomeKind::WebhookSuccess => println!(
                    "  [{secs:5.1}s] delivered  {:<20} HTTP {}",
                    event.webhook_type,
                    event.response_status.unwrap_or_default()
                ),
                OutcomeKind::WebhookFailed => println!(
                    "  [{secs:5.1}s] dead letter {:<19} {}",
                    event.webhook_type,
                    event.error.unwrap_or_default()
                ),
            }
            Ok(())
        })
        // SendGrid's refusal, typed (`{"errors": [...]}`): out of credits, so send it through
        // Mailgun; a refusal of the message itself (an invalid address) would fail there too.
        .on_failure::<SendGridEmail, _, _>(move |handled, email, refusal| {
            let follow_ups = mailgun_ids.clone();
            async move {
                let errors = refusal.map(|r| r.errors).unwrap_or_default();
                let said: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
                if errors.iter().any(|e| e.field.is_some()) {
                    println!(
                        "           SendGrid refused the message itself ({}): not sent elsewhere",
                        said.join("; ")
                    );
                    return Ok(());
                }
                let id = follow_up(&handled, via_mailgun(&email), "mailgun-fallback").await?;
                println!(
                    "           SendGrid said \"{}\": sending it through Mailgun instead",
                    said.join("; ")
                );
                follow_ups.lock().unwrap().push(id);
                Ok(())
            }
        })
        .on_success::<MailgunEmail, _, _>(|_, email, queued| async move {
            println!(
                "           Mailgun queued the message to {} as {}",
                email.to.join(", "),
                queued?.id
            );
            Ok(())
        })
        // Stripe's PaymentIntent, typed: check on it in five minutes (the custom service asks
        // Stripe then), once per intent however often this handler runs.
        .on_success::<StripePaymentIntent, _, _>(move |handled, _, intent| {
            let follow_ups = check_ids.clone();
            async move {
                let intent = intent?;
                let check = CustomAPICall {
                    operation: "check_payment_status".into(),
                    data: serde_json::json!({"payment_intent_id": intent.id}),
                };
                let id = check
                    .trigger(handled.runtime())
                    .delay(STATUS_CHECK_AFTER)
                    .idempotency_key(format!("status-check-{}", intent.id))
                    .await?
                    .id;
                println!(
                    "           Stripe created {} ({:?}): status check scheduled in 5 minutes",
                    intent.id, intent.status
                );
                follow_ups.lock().unwrap().push(id);
                Ok(())
            }
        })
        // PayPal's order, typed: the buyer approves it at the `payer-action` link.
        .on_success::<PayPalOrder, _, _>(|_, _, order| async move {
            let order = order?;
            println!(
                "           PayPal order {} ({:?}): send the buyer to {}",
                order.id,
                order.status,
                order.approval_url().unwrap_or("(no approval link)")
            );
            Ok(())
        })
        .build()
        .map_err(|e| e.to_string())?;
    runtime.migrate().await.map_err(|e| error_chain(&e))?;
    let running = runtime.start().await.map_err(|e| error_chain(&e))?;
    println!("  executor   running\n\ntriggering 8 webhooks:");

    let ids = trigger_all(&runtime).await.map_err(|e| error_chain(&*e))?;
    wait_until_settled(&runtime, &ids).await?;
    // Let the last outcome events reach the handlers, wait for the fallbacks they triggered, and
    // again for the fallbacks' own outcomes, until no event is left.
    while runtime
        .dispatch_outcomes()
        .await
        .map_err(|e| error_chain(&e))?
        > 0
    {
        let waiting = fallbacks.lock().unwrap().clone();
        wait_until_settled(&runtime, &waiting).await?;
    }
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    let mut all = ids;
    all.extend(fallbacks.lock().unwrap().iter().copied());
    all.extend(checks.lock().unwrap().iter().copied());
    summary(&runtime, &all).await
}

/// Triggers `payload` from a handler, with the outcome's correlation id, once per outcome (the
/// handler runs at least once: `key` and the execution id make a repeat a no-op).
async fn follow_up<S: Store, W: Webhook>(
    handled: &Handled<S>,
    payload: W,
    key: &str,
) -> Result<ExecutionId, buildamp::TriggerError> {
    let mut trigger = payload
        .trigger(handled.runtime())
        .idempotency_key(format!("{key}-{}", handled.execution_id));
    if let Some(correlation_id) = handled.correlation_id {
        trigger = trigger.correlation_id(correlation_id);
    }
    Ok(trigger.await?.id)
}

/// The same message as a Mailgun send.
fn via_mailgun(email: &SendGridEmail) -> MailgunEmail {
    let address = |a: &EmailAddress| match &a.name {
        Some(name) => format!("{name} <{}>", a.email),
        None => a.email.clone(),
    };
    let body = |mime: &str| {
        email
            .content
            .iter()
            .find(|c| c.mime_type == mime)
            .map(|c| c.value.clone())
    };
    MailgunEmail {
        from: address(&email.from),
        to: email
            .personalizations
            .iter()
            .flat_map(|p| &p.to)
            .map(address)
            .collect(),
        cc: vec![],
        bcc: vec![],
        subject: email.subject.clone().unwrap_or_default(),
        text: body("text/plain"),
        html: body("text/html"),
        template: None,
        template_variables: None,
        tags: email.categories.clone(),
        tracking: None,
        test_mode: None,
    }
}

async fn trigger_all<S: Store>(
    runtime: &Runtime<S>,
) -> Result<Vec<ExecutionId>, Box<dyn std::error::Error>> {
    let welcome = |name: &str, email: &str| SendGridEmail {
        personalizations: vec![Personalization {
            to: vec![EmailAddress {
                email: email.into(),
                name: Some(name.into()),
            }],
            cc: vec![],
            bcc: vec![],
            subject: None,
            dynamic_template_data: None,
        }],
        from: EmailAddress {
            email: "hello@example.com".into(),
            name: Some("Example".into()),
        },
        reply_to: None,
        subject: Some(format!("Welcome, {name}")),
        content: vec![EmailContent {
            mime_type: "text/plain".into(),
            value: "Glad you are here.".into(),
        }],
        template_id: None,
        categories: vec!["welcome".into()],
    };
    let payment = StripePaymentIntent {
        amount: 2000,
        currency: "usd".into(),
        customer: None,
        description: Some("Order #1001".into()),
        receipt_email: Some("ada@example.com".into()),
        metadata: [("order_id".to_owned(), "1001".to_owned())].into(),
        allowed_payment_method_types: vec![],
        excluded_payment_method_types: vec![],
        automatic_payment_methods: Some(AutomaticPaymentMethods { enabled: true }),
    };
    let order = uuid::Uuid::now_v7();
    let ids = vec![
        welcome("Ada", "ada@example.com")
            .trigger(runtime)
            .correlation_id(order)
            .await?
            .id,
        welcome("Grace", "grace@example.com")
            .trigger(runtime)
            .await?
            .id,
        payment
            .trigger(runtime)
            .correlation_id(order)
            .idempotency_key(format!("order-1001-{order}"))
            .await?
            .id,
        // The account is out of SendGrid credits (HTTP 401, the simulator's answer for this
        // sender): dead letter at once, and the handler sends it through Mailgun.
        SendGridEmail {
            from: EmailAddress {
                email: "no-credits@example.com".into(),
                name: Some("Example".into()),
            },
            ..welcome("Linus", "linus@example.com")
        }
        .trigger(runtime)
        .await?
        .id,
        // PayPal answers with the order; the handler reads where the buyer approves it.
        PayPalOrder {
            intent: PayPalIntent::Capture,
            purchase_units: vec![PayPalPurchaseUnit {
                reference_id: None,
                amount: PayPalAmount {
                    currency_code: "USD".into(),
                    value: "20.00".into(),
                },
                description: Some("Order #1002".into()),
                custom_id: None,
                invoice_id: None,
            }],
            payment_source: Some(PayPalPaymentSource {
                paypal: PayPalWallet {
                    experience_context: Some(PayPalExperienceContext {
                        brand_name: Some("Example".into()),
                        locale: None,
                        shipping_preference: None,
                        landing_page: None,
                        user_action: Some(PayPalUserAction::PayNow),
                        payment_method_preference: None,
                        return_url: Some("https://example.com/paid".into()),
                        cancel_url: Some("https://example.com/cart".into()),
                    }),
                },
            }),
        }
        .trigger(runtime)
        .await?
        .id,
        // SendGrid refuses the address (HTTP 400): dead letter at once, retrying cannot help.
        welcome("Nobody", "not-an-address")
            .trigger(runtime)
            .await?
            .id,
        // The custom service's rate limiter turns the first call away (429, Retry-After): it is
        // delivered on the retry, after the model's backoff schedule.
        CustomAPICall {
            operation: "sync_contact".into(),
            data: serde_json::json!({"email": "ada@example.com", "plan": "pro"}),
        }
        .trigger(runtime)
        .await?
        .id,
        // Your own webhooks sit beside the models': this one's service is down.
        AnalyticsEvent {
            name: "signed_up".into(),
            user: "ada".into(),
        }
        .trigger(runtime)
        .await?
        .id,
    ];
    Ok(ids)
}

/// Waits until every execution is delivered or dead, showing progress; gives up after a minute.
async fn wait_until_settled<S: Store>(
    runtime: &Runtime<S>,
    ids: &[ExecutionId],
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        let mut waiting: HashMap<&str, usize> = HashMap::new();
        for id in ids {
            let e = fetch(runtime, *id).await?;
            match e.status {
                Status::Sent | Status::DeadLetter => {}
                Status::Failed => *waiting.entry("retrying").or_default() += 1,
                Status::Pending | Status::Sending => *waiting.entry("in flight").or_default() += 1,
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        let mut parts: Vec<String> = waiting.iter().map(|(k, v)| format!("{v} {k}")).collect();
        parts.sort();
        let line = format!("  ... waiting: {}", parts.join(", "));
        if line != last {
            println!("{line}");
            last = line;
        }
        if Instant::now() > deadline {
            return Err("executions did not settle within a minute".into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn fetch<S: Store>(
    runtime: &Runtime<S>,
    id: ExecutionId,
) -> Result<buildamp::Execution, String> {
    runtime
        .execution(id)
        .await
        .map_err(|e| error_chain(&e))?
        .ok_or_else(|| format!("execution {id} vanished"))
}

async fn summary<S: Store>(runtime: &Runtime<S>, ids: &[ExecutionId]) -> Result<(), String> {
    println!("\nsummary:");
    println!(
        "  {:<20} {:<12} {:>8}  result",
        "webhook", "status", "attempts"
    );
    let (mut sent, mut retried, mut dead, mut scheduled) = (0, 0, 0, 0);
    let mut fallback_sent = false;
    for id in ids {
        let e = fetch(runtime, *id).await?;
        fallback_sent |= e.webhook_type == MailgunEmail::NAME && e.status == Status::Sent;
        let result = match e.status {
            Status::Sent => {
                sent += 1;
                if e.attempts > 1 {
                    retried += 1;
                }
                format!("HTTP {}", e.response_status.unwrap_or_default())
            }
            Status::Pending => {
                scheduled += 1;
                let due = ((e.next_retry_at - e.created_at).num_milliseconds() + 500) / 1000;
                format!("scheduled, due {due} s after it was triggered")
            }
            _ => {
                dead += 1;
                e.error_message.clone().unwrap_or_default()
            }
        };
        println!(
            "  {:<20} {:<12} {:>8}  {result}",
            e.webhook_type,
            e.status.as_str(),
            e.attempts
        );
    }
    println!(
        "\n  sent: {sent} (of which {retried} after a retry), dead-lettered: {dead}, scheduled: {scheduled}"
    );
    println!(
        "  dead letters keep their reason; fix the cause, then `runtime.retry_dead_letters(..)`."
    );
    // At least one: outcomes of an earlier run on the same database reach these handlers too.
    if !fallback_sent || scheduled == 0 {
        return Err("the typed handlers did not take their next steps (the Mailgun fallback, the status check)".into());
    }
    Ok(())
}

/// Connects to the Postgres at `url`, creating its database first if the server lacks it.
async fn connect(url: &str) -> Result<PgStore, String> {
    PgStore::connect_or_create(url, 8).await.map_err(|e| {
        format!(
            "cannot use PostgreSQL at {} ({}).\n  Check DATABASE_URL, or unset it to use SQLite under ./.buildamp/.",
            redact(url),
            error_chain(&e)
        )
    })
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match url.parse::<url::Url>() {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// `BUILDAMP_SECRET_KEY`, or the development key under `.buildamp/`.
fn development_keys() -> Result<buildamp::service::secrets::SecretKeys, String> {
    buildamp::service::secrets::SecretKeys::from_env_or_development_file(&buildamp::ProcessEnv)
        .map(|(keys, _)| keys)
        .map_err(|e| e.to_string())
}
