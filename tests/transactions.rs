//! Transactions end to end, on Postgres and SQLite (seed 000's callback flow): a campaign is
//! opened with a callback URL, its emails are sent to a provider on 127.0.0.1, the provider's
//! events come back through the real SES endpoint (SNS messages signed with the test
//! certificate), duplicated and out of order, and the customer's receiver, down for a while at
//! first, gets every callback once, in order, numbered without a gap, each verified by the
//! `standardwebhooks` package from PyPI.

mod support;

conformance! {
    the_documented_sequence_arrives_in_order_with_exact_counts_under_duplicated_and_reordered_events,
    a_customer_that_asks_for_x_signature_gets_the_seeds_signature_and_only_what_it_subscribed,
    opening_checks_the_callback_url_over_http_and_the_deadline_completes_it,
}

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use buildamp::api::{Caller, Refused};
use buildamp::delivery::guard::AddressPolicy;
use buildamp::http::service::{Scope, ServiceAuthorizer};
use buildamp::inbound::receive::{Inbound, InboundConfig, InboundEvent, Provider};
use buildamp::service::{Environment, SigningScheme};
use buildamp::transactions::{
    CallbackEvent, TransactionId, TransactionSpec, TransactionStatus, Transactions,
};
use buildamp::{BuildAmpWebhook, ExecutionId, ManualClock, Runtime, Webhook};
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::ses::{FakeAws, SES_TOPIC, ses_event};
use support::{Backend, Received, Receiver, Reply, env, reference_verify, runtime_with};
use tower::ServiceExt;

/// An email through an SES-like provider on 127.0.0.1 (the events map by the `buildamp_id` tag).
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{PROVIDER}/emails")]
pub struct CampaignMail {
    /// The recipient.
    pub to: String,
}

struct App<S: Backend> {
    runtime: Runtime<S>,
    transactions: Transactions<S>,
    clock: ManualClock,
    /// The customer's callback receiver.
    customer: Receiver,
    /// Where SNS posts.
    ses: String,
    /// How many of the customer's first requests it refuses.
    down_for: usize,
    http: reqwest::Client,
}

/// A runtime that may reach 127.0.0.0/8, a provider answering 200, the SES endpoint telling
/// transactions what it hears, and a customer answering `customer`.
async fn app<S: Backend>(store: S, customer: Receiver, down_for: usize) -> App<S> {
    let provider = Receiver::answering(200).await;
    // Real time: the receiver checks signature timestamps against its own clock.
    let clock = ManualClock::new(Utc::now());
    let runtime = runtime_with(store, env(&[("PROVIDER", &provider.base)]), &clock, |b| {
        b.address_policy(AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]))
    })
    .await;
    let transactions = runtime.transactions();
    let config =
        InboundConfig::from_env(&env(&[("SES_SNS_TOPIC_ARNS", SES_TOPIC)]), &[Provider::Ses])
            .expect("configured");
    let router = Inbound::new(runtime.store().clone(), config)
        .clock(clock.clone())
        .aws_fetcher(FakeAws::default())
        .on_event(transactions.inbound_handler())
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ses = format!("http://{}/webhooks/ses", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    App {
        runtime,
        transactions,
        clock,
        customer,
        ses,
        down_for,
        http: reqwest::Client::new(),
    }
}

impl<S: Backend> App<S> {
    /// SNS posts `message` (JSON as `text/plain`, as SNS does).
    async fn sns(&self, message: &Value) {
        let response = self
            .http
            .post(&self.ses)
            .header("Content-Type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", "Notification")
            .body(message.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }

    /// Sends what is due, hands outcomes over, and moves time on a second at a time, until the
    /// customer has `ok` callbacks it accepted (at most 10 simulated minutes).
    async fn deliver_until(&self, ok: usize) {
        let executor = self.runtime.executor();
        for _ in 0..600 {
            while executor.run_once().await.unwrap() > 0 {}
            while self.runtime.dispatch_outcomes().await.unwrap() > 0 {}
            if self.accepted().len() >= ok && executor.run_once().await.unwrap() == 0 {
                return;
            }
            self.clock.advance(Duration::from_secs(1));
        }
        panic!(
            "the customer accepted {} callbacks, not {ok}",
            self.accepted().len()
        );
    }

    /// The callbacks the customer answered 2xx, in arrival order (a refused one is sent again).
    fn accepted(&self) -> Vec<Received> {
        self.customer
            .received()
            .into_iter()
            .skip(self.down_for)
            .collect()
    }
}

/// The customer answers 503 to its first requests (it is down for a while).
const DOWN_FOR: usize = 4;

async fn down_then_up() -> Receiver {
    Receiver::start(|_, n| Reply::Status(if n < DOWN_FOR { 503 } else { 204 })).await
}

fn mails(n: usize) -> Vec<CampaignMail> {
    (0..n)
        .map(|i| CampaignMail {
            to: format!("user{i}@example.com"),
        })
        .collect()
}

async fn send<S: Backend>(
    app: &App<S>,
    id: TransactionId,
    mails: &[CampaignMail],
) -> Vec<ExecutionId> {
    let mut ids = Vec::new();
    for mail in mails {
        ids.push(
            mail.trigger(&app.runtime)
                .correlation_id(id.into())
                .await
                .unwrap()
                .id,
        );
    }
    ids
}

fn delivery(at: &str) -> Value {
    json!({"eventType": "Delivery", "delivery": {"timestamp": at, "recipients": ["user@example.com"]}})
}

async fn the_documented_sequence_arrives_in_order_with_exact_counts_under_duplicated_and_reordered_events<
    S: Backend,
>(
    store: S,
) {
    let app = app(store, down_then_up().await, DOWN_FOR).await;
    let opened = app
        .transactions
        .open(
            TransactionSpec::new(format!("{}/webhooks/email-status", app.customer.base))
                .environment(Environment::Development)
                .message_count(6)
                .metadata("campaign", "spring"),
        )
        .await
        .unwrap();
    let id = opened.transaction.id;
    let secret = opened.secret.expose().to_owned();
    assert_eq!(opened.transaction.state.status, TransactionStatus::Accept);

    // The app loads its messages in two halves, reporting progress.
    let all = mails(6);
    app.transactions.processing(id, 3, None).await.unwrap();
    let mut messages = send(&app, id, &all[..3]).await;
    app.transactions.processing(id, 6, None).await.unwrap();
    // A repeated report is not called back twice.
    app.transactions.processing(id, 6, None).await.unwrap();
    messages.extend(send(&app, id, &all[3..]).await);
    // ACCEPT, PROCESSING ×2, 6 × sent, SENT.
    app.deliver_until(10).await;
    assert_eq!(
        app.transactions.get(id).await.unwrap().state.status,
        TransactionStatus::Sent
    );

    // The provider reports: one delivery repeated (the same SNS message twice), an open that
    // arrives before its delivery, a bounce, a complaint after a delivery, an open of one never
    // reported delivered.
    let m = &messages;
    let events = [
        ("n-1", m[0], delivery("2027-01-01T00:00:01.000Z")),
        ("n-1", m[0], delivery("2027-01-01T00:00:01.000Z")),
        (
            "n-2",
            m[1],
            json!({"eventType": "Open", "open": {"timestamp": "2027-01-01T00:05:00.000Z"}}),
        ),
        ("n-3", m[1], delivery("2027-01-01T00:00:02.000Z")),
        (
            "n-4",
            m[2],
            json!({"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "user2@example.com", "diagnosticCode": "550 no such user"}]}}),
        ),
        ("n-5", m[3], delivery("2027-01-01T00:00:03.000Z")),
        (
            "n-6",
            m[3],
            json!({"eventType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "user3@example.com"}]}}),
        ),
        ("n-7", m[4], delivery("2027-01-01T00:00:04.000Z")),
        ("n-1", m[0], delivery("2027-01-01T00:00:01.000Z")),
        (
            "n-8",
            m[5],
            json!({"eventType": "Click", "click": {"link": "https://example.com/offer"}}),
        ),
    ];
    for (sns_id, execution, event) in &events {
        app.sns(&ses_event(sns_id, *execution, event.clone())).await;
    }
    // 8 distinct provider events, then COMPLETED.
    app.deliver_until(19).await;

    let callbacks = app.accepted();
    assert_eq!(callbacks.len(), 19, "each callback once");
    // Gap-free numbers in arrival order, every one signed as Standard Webhooks says.
    for (n, r) in callbacks.iter().enumerate() {
        let body = r.json();
        let sequence = i64::try_from(n).unwrap() + 1;
        assert_eq!(r.header("x-sequence"), Some(sequence.to_string().as_str()));
        assert_eq!(body["sequence"], sequence);
        assert_eq!(body["transaction_id"], id.to_string());
        assert_eq!(r.path, "/webhooks/email-status");
        reference_verify(
            &secret,
            r.header("webhook-id").unwrap(),
            r.header("webhook-timestamp").unwrap().parse().unwrap(),
            r.header("webhook-signature").unwrap(),
            std::str::from_utf8(&r.body).unwrap(),
        )
        .unwrap_or_else(|e| panic!("callback {sequence} does not verify: {e}"));
    }
    // The first callback was refused while the customer was down, then sent again, the same.
    let first = &app.customer.received()[0];
    assert_eq!(first.body, callbacks[0].body);
    let kinds: Vec<(String, String)> = callbacks
        .iter()
        .map(|r| {
            let body = r.json();
            let kind = body["status"]
                .as_str()
                .or(body["event_type"].as_str())
                .unwrap()
                .to_owned();
            (r.header("x-event-type").unwrap().to_owned(), kind)
        })
        .collect();
    let status = |s: &str| ("status_change".to_owned(), s.to_owned());
    let event = |s: &str| ("delivery_event".to_owned(), s.to_owned());
    let mut expected = vec![status("ACCEPT"), status("PROCESSING"), status("PROCESSING")];
    expected.extend(std::iter::repeat_n(event("sent"), 6));
    expected.push(status("SENT"));
    for kind in [
        "delivered",
        "opened",
        "delivered",
        "bounced",
        "delivered",
        "complained",
        "delivered",
        "clicked",
    ] {
        expected.push(event(kind));
    }
    expected.push(status("COMPLETED"));
    assert_eq!(kinds, expected);

    let bodies: Vec<Value> = callbacks.iter().map(Received::json).collect();
    assert_eq!(bodies[0]["message_count"], 6);
    assert_eq!(bodies[0]["metadata"], json!({"campaign": "spring"}));
    assert_eq!(
        (
            bodies[1]["processed_count"].clone(),
            bodies[2]["processed_count"].clone()
        ),
        (json!(3), json!(6))
    );
    // The late delivery of the opened message does not move it back.
    assert_eq!(bodies[12]["message_id"], m[1].to_string());
    assert_eq!(bodies[12]["event_type"], "delivered");
    assert_eq!(bodies[12]["message_status"], "opened");
    assert_eq!(bodies[11]["message_status"], "opened");
    assert_eq!(bodies[13]["recipient"], "user2@example.com");
    assert!(
        bodies[13]["detail"]
            .as_str()
            .unwrap()
            .ends_with(": 550 no such user")
    );
    assert_eq!(bodies[13]["provider"], "ses");
    let summary = &bodies[18]["summary"];
    assert_eq!(summary["message_count"], 6);
    assert_eq!(summary["sent"], 6);
    assert_eq!(summary["failed_to_send"], 0);
    assert_eq!(summary["reached_recipient"], 5);
    assert_eq!(summary["not_delivered"], 1);
    assert_eq!(summary["unknown"], 0);
    assert_eq!(
        summary["states"],
        json!({"delivered": 2, "opened": 1, "clicked": 1, "complained": 1, "bounced": 1})
    );
    assert_eq!(summary["timed_out"], false);
    assert!(summary["timings"]["sent_at"].is_string());

    // The API shows the same.
    let view = app.transactions.get(id).await.unwrap();
    assert_eq!(view.state.status, TransactionStatus::Completed);
    assert_eq!(
        serde_json::to_value(view.state.summary.unwrap()).unwrap(),
        *summary
    );
    assert_eq!(view.counts["sent"], 6);
    // Handed over again (as after a crash between storing the callback and marking the event
    // handled): nothing is called back twice, and the state stays.
    for (_, json) in app.runtime.store().inbound_of(m[1]).await.unwrap() {
        let event: InboundEvent = serde_json::from_value(json).unwrap();
        app.transactions.on_inbound(&event).await.unwrap();
    }
    // Nothing more is sent: a late event after completion is still a delivery event, no status.
    app.sns(&ses_event(
        "n-9",
        m[4],
        json!({"eventType": "Open", "open": {}}),
    ))
    .await;
    app.deliver_until(20).await;
    let last = app.accepted().pop().unwrap().json();
    assert_eq!(
        (last["event_type"].as_str(), last["sequence"].as_i64()),
        (Some("opened"), Some(20))
    );
}

async fn a_customer_that_asks_for_x_signature_gets_the_seeds_signature_and_only_what_it_subscribed<
    S: Backend,
>(
    store: S,
) {
    let app = app(store, Receiver::answering(204).await, 0).await;
    let opened = app
        .transactions
        .open(
            TransactionSpec::new(format!("{}/cb", app.customer.base))
                .environment(Environment::Development)
                .signing(SigningScheme::XSignatureSha256)
                .callback_events([CallbackEvent::StatusChange]),
        )
        .await
        .unwrap();
    let id = opened.transaction.id;
    let messages = send(&app, id, &mails(2)).await;
    // No count given: SENT waits for the app to say every message is in.
    app.deliver_until(1).await;
    assert_eq!(
        app.transactions.get(id).await.unwrap().state.status,
        TransactionStatus::Accept
    );
    app.transactions.scheduled(id, None).await.unwrap();
    for (n, m) in messages.iter().enumerate() {
        app.sns(&ses_event(
            &format!("x-{n}"),
            *m,
            delivery("2027-01-01T00:00:01.000Z"),
        ))
        .await;
    }
    app.deliver_until(4).await;
    let received = app.customer.received();
    let statuses: Vec<String> = received
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["ACCEPT", "SCHEDULED", "SENT", "COMPLETED"]);
    for r in &received {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(opened.secret.expose().as_bytes()).unwrap();
        mac.update(&r.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(r.header("x-signature"), Some(expected.as_str()));
        assert_eq!(r.header("webhook-signature"), None);
        assert_eq!(r.header("x-event-type"), Some("status_change"));
    }
    assert_eq!(
        received[3].json()["summary"]["states"],
        json!({"delivered": 2})
    );
}

struct Everyone;

impl ServiceAuthorizer for Everyone {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer app") => Ok(Caller("app".into())),
            _ => Err(Refused("send `Authorization: Bearer app`".into())),
        }
    }

    async fn authorize(&self, _: &Caller, scope: Scope) -> Result<(), Refused> {
        if scope == Scope::Publish {
            Ok(())
        } else {
            Err(Refused("publishers only".into()))
        }
    }
}

async fn opening_checks_the_callback_url_over_http_and_the_deadline_completes_it<S: Backend>(
    store: S,
) {
    let customer =
        Receiver::start(|r, _| Reply::Status(if r.path == "/down" { 500 } else { 204 })).await;
    let app = app(store, customer, 0).await;
    let router = buildamp::http::service::router(app.runtime.clone(), Everyone);
    let call = |method: &str, path: String, body: Value| {
        let router = router.clone();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", "Bearer app")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let base = app.customer.base.clone();
    let refusals = [
        (
            json!({"callback_url": format!("{base}/cb")}),
            "callback_url",
            "https",
        ),
        (
            json!({"callback_url": "https://10.1.2.3/cb"}),
            "callback_url",
            "BUILDAMP_ALLOW_NETWORKS",
        ),
        (
            json!({"callback_url": format!("{base}/cb"), "environment": "development", "callback_events": ["opened"]}),
            "callback_events[0]",
            "unknown variant",
        ),
        (
            json!({"callback_url": format!("{base}/cb"), "environment": "development", "message_count": -1}),
            "message_count",
            "",
        ),
        (
            json!({"callback_url": format!("{base}/cb"), "environment": "development", "complete_within": "200h"}),
            "complete_within",
            "retention period (168h",
        ),
    ];
    for (body, path, says) in refusals {
        let (status, answer) = call("POST", "/buildamp/transactions".into(), body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["path"], path, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    // A test ping the callback URL refuses: 424, and nothing is kept.
    let (status, answer) = call(
        "POST",
        "/buildamp/transactions".into(),
        json!({"callback_url": format!("{base}/down"), "environment": "development", "test": true}),
    )
    .await;
    assert_eq!(status, 424, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("HTTP 500"),
        "{answer}"
    );
    assert!(
        app.runtime
            .endpoints()
            .list(None, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "the refused transaction's endpoint is gone"
    );
    // Accepted: a ping, then ACCEPT.
    let (status, opened) = call(
        "POST",
        "/buildamp/transactions".into(),
        json!({"callback_url": format!("{base}/ok"), "environment": "development", "test": true,
               "message_count": 1, "complete_within": "1h", "metadata": {"campaign": "c1"}}),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    assert!(opened["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(opened["status"], "ACCEPT");
    let id: TransactionId = serde_json::from_value(opened["id"].clone()).unwrap();
    let path = |tail: &str| format!("/buildamp/transactions/{id}{tail}");
    // The secret is shown once: reading the transaction does not show it.
    let (_, read) = call("GET", path(""), Value::Null).await;
    assert!(read.get("secret").is_none(), "{read}");
    assert!(
        !read
            .to_string()
            .contains(opened["secret"].as_str().unwrap())
    );
    let (status, moved) = call("POST", path("/processing"), json!({"processed_count": 1})).await;
    assert_eq!(
        (status, moved["status"].as_str()),
        (200, Some("PROCESSING"))
    );
    let (status, bad) = call("POST", path("/processing"), json!({"processed": 1})).await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(
        call(
            "GET",
            format!("/buildamp/transactions/{}", uuid::Uuid::now_v7()),
            Value::Null
        )
        .await
        .0,
        404
    );
    // Its one message is sent, but no provider ever reports: the deadline completes it.
    send(&app, id, &mails(1)).await;
    app.deliver_until(0).await;
    assert_eq!(call("GET", path(""), Value::Null).await.1["status"], "SENT");
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.transactions.sweeper().sweep_once().await.unwrap(), 1);
    let (_, done) = call("GET", path(""), Value::Null).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["summary"]["timed_out"], true);
    assert_eq!(done["summary"]["unknown"], 1);
    assert_eq!(done["summary"]["states"], json!({"sent": 1}));
    assert_eq!(app.transactions.sweeper().sweep_once().await.unwrap(), 0);
    app.deliver_until(0).await;
    let statuses: Vec<Value> = app
        .customer
        .received()
        .iter()
        .filter(|r| r.path == "/ok")
        .map(|r| r.json()["status"].clone())
        .collect();
    // The ping, then the documented statuses (the delivery event `sent` has no status).
    assert_eq!(
        statuses,
        [
            Value::Null,
            json!("ACCEPT"),
            json!("PROCESSING"),
            Value::Null,
            json!("SENT"),
            json!("COMPLETED")
        ]
    );
    // After the retention period it goes, with its callback endpoint.
    let endpoint = app.transactions.get(id).await.unwrap().endpoint_id;
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    assert_eq!(app.runtime.pruner().prune().await.unwrap().transactions, 1);
    assert_eq!(call("GET", path(""), Value::Null).await.0, 404);
    assert!(app.runtime.endpoints().get(endpoint).await.is_err());
}
