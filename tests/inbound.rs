//! The inbound endpoints over real HTTP on 127.0.0.1, against Postgres and SQLite: a webhook is
//! delivered to a receiver that answers with a provider id, then the provider's signed status
//! events come back to `/webhooks/twilio`, `/webhooks/resend` and `/webhooks/ses` (SES through
//! SNS, signed with a test certificate), are mapped to the execution,
//! recorded durably, deduplicated on what the provider signed and handed to the app's handler
//! (again by the dispatcher when a handler failed or its request was cut off).

mod support;

conformance! {
    twilio_status_maps_by_external_id_and_a_repeat_is_processed_once,
    twilio_rejects_bad_signatures_and_processes_nothing,
    twilio_rejects_malformed_forms_and_unknown_ids,
    twilio_embedded_id_maps_before_any_delivery_is_recorded,
    resend_events_are_typed_mapped_and_deduplicated,
    resend_rejects_wrong_secret_stale_tampered_and_malformed,
    resend_embedded_tag_maps_to_the_correlation_id,
    a_failing_handler_gets_the_event_again_from_the_dispatcher,
    an_event_whose_request_is_cut_off_mid_handler_is_handed_over_after_its_lease,
    health_reports_the_endpoints_and_the_database,
    an_oversized_body_is_413_in_the_runtimes_json,
    retention_prunes_inbound_records_with_the_executions,
    ses_confirms_its_subscription_only_at_aws,
    ses_events_are_verified_topic_checked_mapped_and_deduplicated,
    the_timeline_keeps_every_event_in_arrival_order_and_its_state_never_moves_back,
}

use std::sync::{Arc, Mutex};

use base64::Engine;
use buildamp::inbound::receive::{
    EmailEventKind, Inbound, InboundConfig, InboundDispatcher, InboundEvent, InboundKind, Provider,
    SmsState,
};
use buildamp::inbound::sign;
use buildamp::{BuildAmpWebhook, ExecutionId, ManualClock, Runtime, Webhook};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::ses::{CERT_URL, FakeAws, SES_TOPIC, ses_event, sns_message};
use support::{Backend, Receiver, Reply, env, runtime_with, t0};

const TWILIO_TOKEN: &str = "twilio_SECRET_auth_token";
const RESEND_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A Twilio-like SMS target: the provider's id is `sid` in its JSON answer.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{RECEIVER}/sms",
    content_type = "application/x-www-form-urlencoded",
    external_id = "json:/sid"
)]
#[serde(rename_all = "PascalCase")]
pub struct Sms {
    /// The recipient.
    pub to: String,
    /// The text.
    pub body: String,
}

/// A Resend-like email target: the provider's id is in a response header here.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/emails", external_id = "header:X-Email-Id")]
pub struct Mail {
    /// The recipient.
    pub to: String,
}

/// A running app: runtime, inbound endpoints with a recording handler, and their base URL.
struct App<S: Backend> {
    runtime: Runtime<S>,
    base: String,
    events: Arc<Mutex<Vec<InboundEvent>>>,
    failures_left: Arc<Mutex<usize>>,
    /// Handler calls that never return (as if the provider hung up mid-handler).
    hangs_left: Arc<Mutex<usize>>,
    /// Signalled each time the handler is entered.
    entered: tokio::sync::watch::Sender<usize>,
    dispatcher: InboundDispatcher<S>,
    receiver: Receiver,
    clock: ManualClock,
    http: reqwest::Client,
}

async fn app<S: Backend>(store: S) -> App<S> {
    let receiver = Receiver::start(|request, n| {
        if request.path == "/sms" {
            Reply::Full {
                status: 201,
                headers: vec![],
                body: format!(r#"{{"sid":"SM{n:032}","status":"queued"}}"#),
            }
        } else {
            Reply::Full {
                status: 200,
                headers: vec![("X-Email-Id", format!("email-{n}"))],
                body: "{}".into(),
            }
        }
    })
    .await;
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(store, env(&[("RECEIVER", &receiver.base)]), &clock, |b| b).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = InboundConfig::from_env(
        &env(&[
            ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
            ("RESEND_WEBHOOK_SECRET", RESEND_SECRET),
            ("BUILDAMP_PUBLIC_URL", &format!("{base}/")),
        ]),
        &[Provider::Twilio, Provider::Resend],
    )
    .expect("configured");
    let events = Arc::new(Mutex::new(Vec::new()));
    let failures_left = Arc::new(Mutex::new(0));
    let hangs_left = Arc::new(Mutex::new(0usize));
    let entered = tokio::sync::watch::channel(0).0;
    let (seen, failing, hanging, entering) = (
        events.clone(),
        failures_left.clone(),
        hangs_left.clone(),
        entered.clone(),
    );
    let (router, dispatcher) = Inbound::new(runtime.store().clone(), config)
        .clock(clock.clone())
        .on_event(move |event| {
            let (seen, failing, hanging) = (seen.clone(), failing.clone(), hanging.clone());
            entering.send_modify(|n| *n += 1);
            async move {
                let hang = {
                    let mut left = hanging.lock().unwrap();
                    let hang = *left > 0;
                    *left = (*left).saturating_sub(1);
                    hang
                };
                if hang {
                    std::future::pending::<()>().await;
                }
                {
                    let mut left = failing.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return Err("the app's database is down".into());
                    }
                }
                seen.lock().unwrap().push(event);
                Ok(())
            }
        })
        .build();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    App {
        runtime,
        base,
        events,
        failures_left,
        hangs_left,
        entered,
        dispatcher,
        receiver,
        clock,
        http: reqwest::Client::new(),
    }
}

impl<S: Backend> App<S> {
    /// Triggers and delivers an SMS; returns its execution and Twilio's sid.
    async fn sent_sms(&self) -> (ExecutionId, String) {
        let id = Sms {
            to: "+15558675310".into(),
            body: "Your code is 1234".into(),
        }
        .trigger(&self.runtime)
        .await
        .unwrap()
        .id;
        assert_eq!(self.runtime.executor().run_once().await.unwrap(), 1);
        let body = self
            .runtime
            .execution(id)
            .await
            .unwrap()
            .unwrap()
            .response_body;
        let sid = serde_json::from_str::<Value>(&body.unwrap()).unwrap()["sid"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, sid)
    }

    /// A signed Twilio status callback to `/webhooks/twilio`, not yet sent.
    fn twilio_request(&self, fields: &[(String, String)], token: &str) -> reqwest::RequestBuilder {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.twilio_builder("/webhooks/twilio", &fields, token, None)
    }

    /// Posts a Twilio status callback for `sid` to `path_and_query`, signed with `token`.
    async fn twilio(
        &self,
        path_and_query: &str,
        fields: &[(&str, &str)],
        token: &str,
        idempotency: Option<&str>,
    ) -> (u16, Value) {
        answer(self.twilio_builder(path_and_query, fields, token, idempotency)).await
    }

    /// A Twilio status callback signed with `token` (the signature computed here from Twilio's
    /// documented algorithm, not by the code under test).
    fn twilio_builder(
        &self,
        path_and_query: &str,
        fields: &[(&str, &str)],
        token: &str,
        idempotency: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{path_and_query}", self.base);
        let mut sorted: Vec<&(&str, &str)> = fields.iter().collect();
        sorted.sort_by_key(|(k, _)| *k);
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
        mac.update(url.as_bytes());
        for (k, v) in sorted {
            mac.update(k.as_bytes());
            mac.update(v.as_bytes());
        }
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .http
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(body);
        if let Some(token) = idempotency {
            request = request.header("I-Twilio-Idempotency-Token", token);
        }
        request
    }

    /// Posts a Resend event, signed as Svix signs (`svix-*` headers) with `secret` at `timestamp`.
    async fn resend(&self, id: &str, timestamp: i64, body: &str, secret: &str) -> (u16, Value) {
        let signature = sign::standard(&[secret], id, timestamp, body.as_bytes()).unwrap();
        answer(
            self.http
                .post(format!("{}/webhooks/resend", self.base))
                .header("Content-Type", "application/json")
                .header("svix-id", id)
                .header("svix-timestamp", timestamp.to_string())
                .header("svix-signature", signature)
                .body(body.to_owned()),
        )
        .await
    }

    fn events(&self) -> Vec<InboundEvent> {
        self.events.lock().unwrap().clone()
    }

    async fn inbound_rows(&self) -> usize {
        self.runtime
            .store()
            .every_row_as_text()
            .await
            .iter()
            .filter(|(table, _)| table == "inbound_events")
            .count()
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn status_fields<'a>(sid: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("To", "+15558675310"),
        ("From", "+15017122661"),
        ("AccountSid", "AC0000"),
    ]
}

fn sms(event: &InboundEvent) -> &buildamp::inbound::receive::SmsStatus {
    match &event.kind {
        InboundKind::Sms(status) => status,
        other => panic!("expected an SMS status, got {other:?}"),
    }
}

async fn twilio_status_maps_by_external_id_and_a_repeat_is_processed_once<S: Backend>(store: S) {
    let app = app(store).await;
    let (execution, sid) = app.sent_sms().await;

    let mut fields = status_fields(&sid, "undelivered");
    fields.extend([
        ("ErrorCode", "30003"),
        ("ErrorMessage", "Unreachable handset"),
    ]);
    let ok = app
        .twilio("/webhooks/twilio", &fields, TWILIO_TOKEN, Some("tok-1"))
        .await;
    assert_eq!(ok, (200, json!({"success": true})));
    let repeat = app
        .twilio("/webhooks/twilio", &fields, TWILIO_TOKEN, Some("tok-1"))
        .await;
    assert_eq!(repeat, (200, json!({"success": true, "duplicate": true})));
    // The idempotency token is not signed: a captured request replayed with fresh tokens (or
    // none) is the same signed request, so it is still a repeat.
    for token in [Some("tok-2"), Some("forged"), None] {
        let replay = app
            .twilio("/webhooks/twilio", &fields, TWILIO_TOKEN, token)
            .await;
        assert_eq!(replay, (200, json!({"success": true, "duplicate": true})));
    }

    let [event] = app.events().try_into().expect("processed exactly once");
    assert_eq!(event.provider, Provider::Twilio);
    assert_eq!(event.execution, execution);
    assert_eq!(event.external_id, sid);
    // The id is the SHA-256 of what Twilio signed (the URL and the sorted fields).
    assert_eq!(event.event_id.len(), 64);
    assert!(event.event_id.bytes().all(|b| b.is_ascii_hexdigit()));
    let status = sms(&event);
    assert_eq!(status.status, SmsState::Undelivered);
    assert_eq!(status.to.as_deref(), Some("+15558675310"));
    assert_eq!(status.error_code.as_deref(), Some("30003"));
    assert_eq!(status.error_message.as_deref(), Some("Unreachable handset"));

    // Another status of the same message is another event; the legacy `SmsSid`/`SmsStatus`
    // names are read too.
    let legacy = [("SmsSid", sid.as_str()), ("SmsStatus", "delivered")];
    for _ in 0..2 {
        let (code, _) = app
            .twilio("/webhooks/twilio", &legacy, TWILIO_TOKEN, None)
            .await;
        assert_eq!(code, 200);
    }
    let events = app.events();
    assert_eq!(events.len(), 2);
    assert_eq!(sms(&events[1]).status, SmsState::Delivered);
    assert_ne!(events[1].event_id, events[0].event_id);
    assert_eq!(app.inbound_rows().await, 2);
}

async fn twilio_rejects_bad_signatures_and_processes_nothing<S: Backend>(store: S) {
    let app = app(store).await;
    let (_, sid) = app.sent_sms().await;
    let fields = status_fields(&sid, "delivered");

    let (code, body) = app
        .twilio("/webhooks/twilio", &fields, "wrong_token", None)
        .await;
    assert_eq!(code, 401);
    assert_eq!(
        body,
        json!({"error": "invalid signature: no signature matches"})
    );
    assert!(!body.to_string().contains(TWILIO_TOKEN));

    // Signed for one URL, sent to another (the query is part of what Twilio signs).
    let url = format!("{}/webhooks/twilio?x=1", app.base);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(format!("{}/webhooks/twilio", app.base).as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let (code, _) = answer(
        app.http
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(""),
    )
    .await;
    assert_eq!(code, 401);

    // No signature at all.
    let (code, body) = answer(
        app.http
            .post(format!("{}/webhooks/twilio", app.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("MessageSid={sid}&MessageStatus=delivered")),
    )
    .await;
    assert_eq!(code, 401);
    assert_eq!(
        body["error"],
        "invalid signature: missing `X-Twilio-Signature`"
    );

    assert!(app.events().is_empty());
    assert_eq!(app.inbound_rows().await, 0);
}

async fn twilio_rejects_malformed_forms_and_unknown_ids<S: Backend>(store: S) {
    let app = app(store).await;
    let (_, sid) = app.sent_sms().await;

    let (code, body) = app
        .twilio(
            "/webhooks/twilio",
            &[("MessageStatus", "delivered")],
            TWILIO_TOKEN,
            None,
        )
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("missing `MessageSid` (or `SmsSid`)"))
    );
    let (code, body) = app
        .twilio(
            "/webhooks/twilio",
            &[("MessageSid", &sid)],
            TWILIO_TOKEN,
            None,
        )
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("missing `MessageStatus` (or `SmsStatus`)"))
    );
    // A JSON body is not a status callback (signed over the URL alone, as Twilio would).
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(format!("{}/webhooks/twilio", app.base).as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let (code, body) = answer(
        app.http
            .post(format!("{}/webhooks/twilio", app.base))
            .header("Content-Type", "application/json")
            .header("X-Twilio-Signature", signature)
            .body("{}"),
    )
    .await;
    assert_eq!(code, 400, "{body}");

    let (code, body) = app
        .twilio(
            "/webhooks/twilio",
            &status_fields("SM_not_ours", "delivered"),
            TWILIO_TOKEN,
            None,
        )
        .await;
    assert_eq!(
        (code, body),
        (404, json!({"error": "unknown message id `SM_not_ours`"}))
    );
    assert!(app.events().is_empty());
    assert_eq!(app.inbound_rows().await, 0);
}

async fn twilio_embedded_id_maps_before_any_delivery_is_recorded<S: Backend>(store: S) {
    let app = app(store).await;
    // Twilio may call back before our completion is recorded: the execution id in the
    // StatusCallback URL maps the event anyway.
    let queued = Sms {
        to: "+15558675310".into(),
        body: "hi".into(),
    }
    .trigger(&app.runtime)
    .await
    .unwrap();
    let path = format!("/webhooks/twilio?buildamp_id={}", queued.id);
    let (code, _) = app
        .twilio(
            &path,
            &status_fields("SM_early", "queued"),
            TWILIO_TOKEN,
            None,
        )
        .await;
    assert_eq!(code, 200);
    let [event] = app.events().try_into().unwrap();
    assert_eq!(event.execution, queued.id);
    assert_eq!(sms(&event).status, SmsState::Queued);

    // An embedded id that names nothing falls back to the table, then 404; a malformed one is 400.
    let path = format!("/webhooks/twilio?buildamp_id={}", uuid::Uuid::now_v7());
    let (code, _) = app
        .twilio(&path, &status_fields("SM_none", "sent"), TWILIO_TOKEN, None)
        .await;
    assert_eq!(code, 404);
    let (code, _) = app
        .twilio(
            "/webhooks/twilio?buildamp_id=42",
            &status_fields("SM_none", "sent"),
            TWILIO_TOKEN,
            None,
        )
        .await;
    assert_eq!(code, 400);
    drop(app.receiver);
}

fn resend_event(kind: &str, email_id: &str, extra: Value) -> String {
    let mut data = json!({
        "email_id": email_id,
        "from": "Acme <onboarding@resend.dev>",
        "to": ["delivered@resend.dev"],
        "subject": "Sending this example",
        "created_at": "2026-01-01T00:00:00.000Z",
    });
    data.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"type": kind, "created_at": "2026-01-01T00:00:01.000Z", "data": data}).to_string()
}

async fn sent_mail<S: Backend>(app: &App<S>) -> ExecutionId {
    let id = Mail {
        to: "delivered@resend.dev".into(),
    }
    .trigger(&app.runtime)
    .await
    .unwrap()
    .id;
    assert_eq!(app.runtime.executor().run_once().await.unwrap(), 1);
    id
}

async fn resend_events_are_typed_mapped_and_deduplicated<S: Backend>(store: S) {
    let app = app(store).await;
    let execution = sent_mail(&app).await;
    let now = t0().timestamp();

    let bounced = resend_event(
        "email.bounced",
        "email-0",
        json!({"bounce": {"message": "The recipient's mailbox is full", "type": "Transient"}}),
    );
    assert_eq!(
        app.resend("msg_1", now, &bounced, RESEND_SECRET).await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.resend("msg_1", now, &bounced, RESEND_SECRET).await,
        (200, json!({"success": true, "duplicate": true}))
    );
    let clicked = resend_event(
        "email.clicked",
        "email-0",
        json!({"click": {"link": "https://example.com/a"}}),
    );
    assert_eq!(
        app.resend("msg_2", now, &clicked, RESEND_SECRET).await.0,
        200
    );
    // Not about an email we sent: acknowledged, not routed.
    let contact = json!({"type": "contact.created", "data": {"id": "c-1"}}).to_string();
    assert_eq!(
        app.resend("msg_3", now, &contact, RESEND_SECRET).await,
        (200, json!({"success": true}))
    );

    let [bounce, click] = app.events().try_into().expect("two events, once each");
    assert_eq!(
        (bounce.provider, bounce.execution, bounce.event_id.as_str()),
        (Provider::Resend, execution, "msg_1")
    );
    let InboundKind::Email(bounce) = bounce.kind else {
        panic!()
    };
    assert_eq!(bounce.kind, EmailEventKind::Bounced);
    assert_eq!(
        bounce.reason.as_deref(),
        Some("The recipient's mailbox is full")
    );
    assert_eq!(bounce.to, ["delivered@resend.dev"]);
    let InboundKind::Email(click) = click.kind else {
        panic!()
    };
    assert_eq!(click.kind, EmailEventKind::Clicked);
    assert_eq!(click.link.as_deref(), Some("https://example.com/a"));
}

async fn resend_rejects_wrong_secret_stale_tampered_and_malformed<S: Backend>(store: S) {
    let app = app(store).await;
    sent_mail(&app).await;
    let now = t0().timestamp();
    let body = resend_event("email.delivered", "email-0", json!({}));

    let wrong = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let (code, reply) = app.resend("m1", now, &body, wrong).await;
    assert_eq!(
        (code, reply["error"].as_str()),
        (401, Some("invalid signature: no signature matches"))
    );
    let (code, reply) = app.resend("m2", now - 301, &body, RESEND_SECRET).await;
    assert_eq!(
        (code, reply["error"].as_str()),
        (
            401,
            Some("invalid signature: the timestamp is 301s old, beyond the 300s tolerance")
        )
    );
    // Signed one body, sent another.
    let signature = sign::standard(&[RESEND_SECRET], "m3", now, body.as_bytes()).unwrap();
    let (code, _) = answer(
        app.http
            .post(format!("{}/webhooks/resend", app.base))
            .header("svix-id", "m3")
            .header("svix-timestamp", now.to_string())
            .header("svix-signature", signature)
            .body(body.replace("delivered", "complained")),
    )
    .await;
    assert_eq!(code, 401);
    assert!(app.events().is_empty());

    let (code, reply) = app.resend("m4", now, "not json", RESEND_SECRET).await;
    assert_eq!(code, 400);
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .starts_with("the body is not JSON")
    );
    let no_id = json!({"type": "email.delivered", "data": {}}).to_string();
    let (code, reply) = app.resend("m5", now, &no_id, RESEND_SECRET).await;
    assert_eq!(
        (code, reply["error"].as_str()),
        (400, Some("missing `data.email_id`"))
    );
    let unknown = resend_event("email.delivered", "email-unknown", json!({}));
    assert_eq!(app.resend("m6", now, &unknown, RESEND_SECRET).await.0, 404);
    assert!(app.events().is_empty());
    assert_eq!(app.inbound_rows().await, 0);
}

async fn resend_embedded_tag_maps_to_the_correlation_id<S: Backend>(store: S) {
    let app = app(store).await;
    let correlation = uuid::Uuid::now_v7();
    let queued = Mail {
        to: "delivered@resend.dev".into(),
    }
    .trigger(&app.runtime)
    .correlation_id(correlation)
    .await
    .unwrap();
    let now = t0().timestamp();
    for (n, extra) in [
        json!({"tags": {"buildamp_id": correlation.to_string()}}),
        json!({"tags": [{"name": "buildamp_id", "value": correlation.to_string()}]}),
        json!({"headers": [{"name": "X-BuildAmp-Id", "value": correlation.to_string()}]}),
    ]
    .into_iter()
    .enumerate()
    {
        let body = resend_event("email.sent", "re_not_in_table", extra);
        let (code, _) = app
            .resend(&format!("e{n}"), now, &body, RESEND_SECRET)
            .await;
        assert_eq!(code, 200);
    }
    let events = app.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.execution == queued.id));
}

async fn a_failing_handler_gets_the_event_again_from_the_dispatcher<S: Backend>(store: S) {
    let app = app(store).await;
    let (execution, sid) = app.sent_sms().await;
    *app.failures_left.lock().unwrap() = 1;
    let fields = status_fields(&sid, "delivered");

    // Recorded before the answer: the provider is told it arrived, whatever the handler did.
    let (code, body) = app
        .twilio("/webhooks/twilio", &fields, TWILIO_TOKEN, Some("t"))
        .await;
    assert_eq!((code, body), (200, json!({"success": true})));
    assert!(app.events().is_empty());
    assert_eq!(app.inbound_rows().await, 1, "the event is kept");
    // The provider's own retry is a repeat: the event is ours to hand over now.
    let (code, body) = app
        .twilio("/webhooks/twilio", &fields, TWILIO_TOKEN, Some("t"))
        .await;
    assert_eq!((code, body["duplicate"].clone()), (200, json!(true)));
    // Not before its back-off (2 s after the first failure), then once.
    assert_eq!(app.dispatcher.dispatch_once().await.unwrap(), 0);
    app.clock.advance(std::time::Duration::from_secs(2));
    assert_eq!(app.dispatcher.dispatch_once().await.unwrap(), 1);
    let [event] = app.events().try_into().unwrap();
    assert_eq!(event.execution, execution);
    assert_eq!(sms(&event).status, SmsState::Delivered);
    // Handled: never handed over again.
    app.clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(app.dispatcher.dispatch_once().await.unwrap(), 0);
    assert_eq!(app.events().len(), 1);
}

async fn an_event_whose_request_is_cut_off_mid_handler_is_handed_over_after_its_lease<
    S: Backend,
>(
    store: S,
) {
    let app = app(store).await;
    let (execution, sid) = app.sent_sms().await;
    *app.hangs_left.lock().unwrap() = 1;
    let fields: Vec<(String, String)> = status_fields(&sid, "delivered")
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // The provider sends, the handler starts, and the provider hangs up (its timeout; or the
    // process is killed): the request's future is dropped mid-handler.
    let mut entered = app.entered.subscribe();
    let signed = app.twilio_request(&fields, TWILIO_TOKEN);
    let request = tokio::spawn(async move { signed.send().await.map(drop) });
    entered.wait_for(|n| *n >= 1).await.unwrap();
    request.abort();
    assert!(app.events().is_empty());
    // Recorded, and leased to that request: nobody hands it over before the lease ends...
    assert_eq!(app.inbound_rows().await, 1);
    assert_eq!(app.dispatcher.dispatch_once().await.unwrap(), 0);
    // ...and then the dispatcher does, once.
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(app.dispatcher.dispatch_once().await.unwrap(), 1);
    let [event] = app.events().try_into().unwrap();
    assert_eq!(event.execution, execution);
    assert_eq!(app.dispatcher.dispatch_once().await.unwrap(), 0);
}

async fn an_oversized_body_is_413_in_the_runtimes_json<S: Backend>(store: S) {
    let app = app(store).await;
    for path in ["/webhooks/resend", "/webhooks/twilio"] {
        let (code, body) = answer(
            app.http
                .post(format!("{}{path}", app.base))
                .header("Content-Type", "application/json")
                .body("x".repeat(300 * 1024)),
        )
        .await;
        assert_eq!(
            (code, body),
            (
                413,
                json!({"error": "the payload is larger than the 262144-byte limit"})
            ),
            "{path}"
        );
    }
    assert_eq!(app.inbound_rows().await, 0);
}

async fn health_reports_the_endpoints_and_the_database<S: Backend>(store: S) {
    let app = app(store).await;
    let (code, body) = answer(app.http.get(format!("{}/webhooks/health", app.base))).await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        json!({
            "status": "healthy",
            "service": "webhook_handlers",
            "endpoints": {"twilio": "/webhooks/twilio", "resend": "/webhooks/resend"},
            "signature_verification": "enabled",
            "timestamp": "2026-01-01T00:00:00Z",
        })
    );
}

async fn retention_prunes_inbound_records_with_the_executions<S: Backend>(store: S) {
    let app = app(store).await;
    let (_, sid) = app.sent_sms().await;
    let (code, _) = app
        .twilio(
            "/webhooks/twilio",
            &status_fields(&sid, "delivered"),
            TWILIO_TOKEN,
            None,
        )
        .await;
    assert_eq!(code, 200);
    let before: Vec<String> = tables(&app).await;
    assert!(before.contains(&"message_external_ids".to_owned()));
    assert!(before.contains(&"inbound_events".to_owned()));
    app.runtime.prune().await.unwrap();
    assert_eq!(tables(&app).await, before, "nothing is old yet");
    // Past the retention period (a week), the execution, its external id and the event record go.
    app.clock
        .advance(std::time::Duration::from_secs(8 * 24 * 3600));
    app.runtime.prune().await.unwrap();
    assert_eq!(tables(&app).await, Vec::<String>::new());
}

async fn tables<S: Backend>(app: &App<S>) -> Vec<String> {
    let mut tables: Vec<String> = app
        .runtime
        .store()
        .every_row_as_text()
        .await
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| t == "message_external_ids" || t == "inbound_events")
        .collect();
    tables.sort();
    tables
}

#[test]
fn configuration_names_every_missing_variable() {
    let error =
        InboundConfig::from_env(&env(&[]), &[Provider::Twilio, Provider::Resend]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "inbound webhooks are not configured: set TWILIO_AUTH_TOKEN; set RESEND_WEBHOOK_SECRET; \
         set BUILDAMP_PUBLIC_URL"
    );
    let error = InboundConfig::from_env(
        &env(&[
            ("RESEND_WEBHOOK_SECRET", "whsec_not base64!"),
            ("VERIFY_WEBHOOK_SIGNATURES", "maybe"),
        ]),
        &[Provider::Resend],
    )
    .unwrap_err();
    assert_eq!(error.problems.len(), 2, "{error}");
    assert!(!error.to_string().contains("not base64!"), "{error}");

    let error = InboundConfig::from_env(&env(&[]), &[Provider::Ses]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "inbound webhooks are not configured: set SES_SNS_TOPIC_ARNS"
    );
    let error = InboundConfig::from_env(
        &env(&[("SES_SNS_TOPIC_ARNS", "ses-events")]),
        &[Provider::Ses],
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`ses-events` is not an SNS topic ARN"),
        "{error}"
    );

    let error = InboundConfig::from_env(
        &env(&[
            ("TWILIO_AUTH_TOKEN", "t"),
            ("BUILDAMP_PUBLIC_URL", "api.example.com/hooks"),
        ]),
        &[Provider::Twilio],
    )
    .unwrap_err();
    assert_eq!(
        error.problems,
        ["BUILDAMP_PUBLIC_URL must be an absolute http(s) URL, like https://api.example.com"]
    );

    // Only Resend configured: Twilio's variables are not required.
    let config = InboundConfig::from_env(
        &env(&[("RESEND_WEBHOOK_SECRET", RESEND_SECRET)]),
        &[Provider::Resend],
    )
    .unwrap();
    assert!(config.verifies_signatures());
    assert_eq!(config.warning(), None);
    assert!(!format!("{config:?}").contains(RESEND_SECRET));
}

#[test]
fn turning_verification_off_is_allowed_only_with_a_loud_warning() {
    let config = InboundConfig::from_env(
        &env(&[("VERIFY_WEBHOOK_SIGNATURES", "false")]),
        &[Provider::Twilio, Provider::Resend],
    )
    .expect("no secrets are needed when verification is off");
    assert!(!config.verifies_signatures());
    let warning = config.warning().unwrap();
    assert!(warning.contains("NOT verified"), "{warning}");
    assert!(warning.contains("never in production"), "{warning}");
}

#[tokio::test]
async fn with_verification_off_unsigned_events_are_processed() {
    let (store, _file) = support::sqlite_store().await;
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(store, env(&[]), &clock, |b| b).await;
    let queued = Mail { to: "a@b.c".into() }.trigger(&runtime).await.unwrap();
    let config = InboundConfig::from_env(
        &env(&[("VERIFY_WEBHOOK_SIGNATURES", "0")]),
        &[Provider::Resend],
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(0));
    let count = seen.clone();
    let router = Inbound::new(runtime.store().clone(), config)
        .on_event(move |_| {
            *count.lock().unwrap() += 1;
            async { Ok(()) }
        })
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let body = resend_event(
        "email.delivered",
        "x",
        json!({"tags": {"buildamp_id": queued.id.to_string()}}),
    );
    let (code, _) = answer(
        reqwest::Client::new()
            .post(format!("{base}/webhooks/resend"))
            .body(body),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(*seen.lock().unwrap(), 1);
    let (_, health) = answer(reqwest::Client::new().get(format!("{base}/webhooks/health"))).await;
    assert_eq!(health["signature_verification"], "disabled");
    assert_eq!(health["endpoints"], json!({"resend": "/webhooks/resend"}));
    let response = reqwest::Client::new()
        .post(format!("{base}/webhooks/twilio"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "only configured providers are routed"
    );
}

// --- Amazon SES through SNS -------------------------------------------------------------------

struct SesApp<S: Backend> {
    runtime: Runtime<S>,
    clock: ManualClock,
    base: String,
    aws: FakeAws,
    events: Arc<Mutex<Vec<InboundEvent>>>,
    http: reqwest::Client,
}

async fn ses_app<S: Backend>(store: S) -> SesApp<S> {
    let receiver = Receiver::answering(200).await;
    // The test certificate is valid from 2026-12-03.
    let clock = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
            .unwrap()
            .into(),
    );
    let runtime = runtime_with(store, env(&[("RECEIVER", &receiver.base)]), &clock, |b| b).await;
    let config = InboundConfig::from_env(
        &env(&[("SES_SNS_TOPIC_ARNS", &format!(" {SES_TOPIC} , "))]),
        &[Provider::Ses],
    )
    .expect("configured");
    let aws = FakeAws::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let router = Inbound::new(runtime.store().clone(), config)
        .clock(clock.clone())
        .aws_fetcher(aws.clone())
        .on_event(move |event| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(event);
                Ok(())
            }
        })
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    SesApp {
        runtime,
        clock,
        base,
        aws,
        events,
        http: reqwest::Client::new(),
    }
}

impl<S: Backend> SesApp<S> {
    /// Posts an SNS message the way SNS does (JSON, as `text/plain`).
    async fn post(&self, message: &Value) -> (u16, Value) {
        answer(
            self.http
                .post(format!("{}/webhooks/ses", self.base))
                .header("Content-Type", "text/plain; charset=UTF-8")
                .header("x-amz-sns-message-type", message["Type"].as_str().unwrap())
                .body(message.to_string()),
        )
        .await
    }

    fn visited(&self) -> Vec<String> {
        self.aws.visited.lock().unwrap().clone()
    }

    async fn recorded(&self) -> usize {
        self.runtime
            .store()
            .every_row_as_text()
            .await
            .iter()
            .filter(|(table, _)| table == "inbound_events")
            .count()
    }
}

async fn ses_confirms_its_subscription_only_at_aws<S: Backend>(store: S) {
    let app = ses_app(store).await;
    let confirm = format!(
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={SES_TOPIC}&Token=t0k"
    );
    let subscription = |url: &str| {
        sns_message(
            "SubscriptionConfirmation",
            &[
                ("MessageId", "sub-1"),
                ("Message", "You have chosen to subscribe to the topic."),
                ("SubscribeURL", url),
                ("Token", "t0k"),
            ],
        )
    };
    // A validly signed message whose SubscribeURL is not AWS's: nothing is visited.
    let (status, body) = app
        .post(&subscription(
            "https://collector.example.com/?Action=ConfirmSubscription",
        ))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("sns.<region>.amazonaws.com"),
        "{body}"
    );
    assert_eq!(
        app.visited(),
        [CERT_URL],
        "only the certificate was fetched"
    );
    // The real one is confirmed by visiting it.
    let (status, body) = app.post(&subscription(&confirm)).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"success": true, "confirmed": true}))
    );
    assert_eq!(
        app.visited(),
        [CERT_URL, confirm.as_str()],
        "the certificate is cached"
    );
    // Forged: the signature covers the SubscribeURL.
    let mut forged = subscription(&confirm);
    forged["SubscribeURL"] = confirm.replace("t0k", "other").into();
    assert_eq!(app.post(&forged).await.0, 401);
    assert_eq!(
        app.visited().len(),
        2,
        "nothing visited for a forged message"
    );
    assert_eq!(app.recorded().await, 0);
}

async fn ses_events_are_verified_topic_checked_mapped_and_deduplicated<S: Backend>(store: S) {
    let app = ses_app(store).await;
    let execution = Mail {
        to: "ada@example.com".into(),
    }
    .trigger(&app.runtime)
    .await
    .unwrap()
    .id;
    let events = [
        ses_event(
            "n-1",
            execution,
            json!({"eventType": "Delivery", "delivery": {"timestamp": "2027-01-01T00:00:02.000Z",
                "recipients": ["ada@example.com"], "smtpResponse": "250 ok"}}),
        ),
        ses_event(
            "n-2",
            execution,
            json!({"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
                "bounceSubType": "General", "timestamp": "2027-01-01T00:00:03.000Z",
                "bouncedRecipients": [{"emailAddress": "bob@example.com",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}}),
        ),
        ses_event(
            "n-3",
            execution,
            json!({"eventType": "Bounce", "bounce": {"bounceType": "Transient",
                "bounceSubType": "MailboxFull", "bouncedRecipients": [{"emailAddress": "cy@example.com"}]}}),
        ),
        ses_event(
            "n-4",
            execution,
            json!({"notificationType": "Complaint", "complaint": {"complaintFeedbackType": "abuse",
                "complainedRecipients": [{"emailAddress": "ada@example.com"}]}}),
        ),
        ses_event(
            "n-5",
            execution,
            json!({"eventType": "Open", "open": {"timestamp": "2027-01-01T00:10:00.000Z"}}),
        ),
        ses_event(
            "n-6",
            execution,
            json!({"eventType": "Click", "click": {"link": "https://example.com/offer"}}),
        ),
    ];
    for event in &events {
        let (status, body) = app.post(event).await;
        assert_eq!((status, &body), (200, &json!({"success": true})));
    }
    // SNS delivers at least once: the same message again is acknowledged, not handed over.
    let (status, body) = app.post(&events[0]).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"success": true, "duplicate": true}))
    );
    let seen = app.events.lock().unwrap().clone();
    /// What each event says: its kind, recipients, bounce hardness, and reason or link.
    type Said = (EmailEventKind, Vec<String>, Option<bool>, Option<String>);
    let summary: Vec<Said> = seen
        .iter()
        .map(|e| {
            assert_eq!((e.provider, e.execution), (Provider::Ses, execution));
            assert_eq!(e.external_id, "0100018c-ses-message-id");
            let InboundKind::Email(email) = &e.kind else {
                panic!("not an email event: {e:?}")
            };
            (
                email.kind.clone(),
                email.to.clone(),
                email.hard_bounce,
                email.reason.clone().or_else(|| email.link.clone()),
            )
        })
        .collect();
    let s = |v: &str| v.to_owned();
    assert_eq!(
        summary,
        [
            (
                EmailEventKind::Delivered,
                vec![s("ada@example.com")],
                None,
                None
            ),
            (
                EmailEventKind::Bounced,
                vec![s("bob@example.com")],
                Some(true),
                Some(s(
                    "Permanent bounce (General): smtp; 550 5.1.1 user unknown"
                ))
            ),
            (
                EmailEventKind::Bounced,
                vec![s("cy@example.com")],
                Some(false),
                Some(s("Transient bounce (MailboxFull)"))
            ),
            (
                EmailEventKind::Complained,
                vec![s("ada@example.com")],
                None,
                Some(s("abuse"))
            ),
            (
                EmailEventKind::Opened,
                vec![s("ada@example.com")],
                None,
                None
            ),
            (
                EmailEventKind::Clicked,
                vec![s("ada@example.com")],
                None,
                Some(s("https://example.com/offer"))
            ),
        ]
    );
    assert_eq!(app.recorded().await, 6);

    // Signed by AWS, but for someone else's topic: refused, nothing recorded.
    let mut elsewhere = ses_event("n-7", execution, json!({"eventType": "Delivery"}));
    elsewhere["TopicArn"] = "arn:aws:sns:us-east-1:999999999999:theirs".into();
    let resigned = sns_message(
        "Notification",
        &[
            ("MessageId", "n-7"),
            ("Message", elsewhere["Message"].as_str().unwrap()),
            ("TopicArn", "arn:aws:sns:us-east-1:999999999999:theirs"),
        ],
    );
    let (status, body) = app.post(&resigned).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("SES_SNS_TOPIC_ARNS")
    );
    // Tampered after signing, or a certificate URL outside AWS: 401, nothing recorded.
    let mut tampered = events[4].clone();
    tampered["Message"] = tampered["Message"]
        .as_str()
        .unwrap()
        .replace("Open", "Click")
        .into();
    assert_eq!(app.post(&tampered).await.0, 401);
    let mut moved = events[4].clone();
    moved["SigningCertURL"] = "https://certs.example.com/SimpleNotificationService-test.pem".into();
    assert_eq!(app.post(&moved).await.0, 401);
    // An unknown message: 404 naming it, nothing recorded.
    let stranger = ses_event("n-8", ExecutionId::new(), json!({"eventType": "Delivery"}));
    let mut stranger_event: Value =
        serde_json::from_str(stranger["Message"].as_str().unwrap()).unwrap();
    stranger_event["mail"]["tags"] = json!({});
    stranger_event["mail"]["messageId"] = "unknown-ses-id".into();
    let unknown = sns_message(
        "Notification",
        &[
            ("MessageId", "n-8"),
            ("Message", &stranger_event.to_string()),
        ],
    );
    let (status, body) = app.post(&unknown).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(app.recorded().await, 6);
    assert_eq!(
        app.visited(),
        [CERT_URL],
        "one certificate fetch; nothing fetched from outside AWS"
    );
}

/// Providers report late and out of order: `delivered` after `opened`, a repeat of `sent`. The
/// timeline keeps each event as it arrived; the state it adds up to never moves back.
async fn the_timeline_keeps_every_event_in_arrival_order_and_its_state_never_moves_back<
    S: Backend,
>(
    store: S,
) {
    use buildamp::tracking::timeline::{DeliveryStatus, delivery_state};
    let app = ses_app(store).await;
    let execution = Mail {
        to: "ada@example.com".into(),
    }
    .trigger(&app.runtime)
    .await
    .unwrap()
    .id;
    assert!(app.runtime.timeline(execution).await.unwrap().is_empty());
    let arrivals = [
        ("n-1", json!({"eventType": "Send", "send": {}})),
        (
            "n-2",
            json!({"eventType": "Open", "open": {"timestamp": "2027-01-01T00:10:00.000Z"}}),
        ),
        (
            "n-3",
            json!({"eventType": "Delivery", "delivery": {"timestamp": "2027-01-01T00:00:02.000Z",
                "recipients": ["ada@example.com"]}}),
        ),
        ("n-4", json!({"eventType": "Send", "send": {}})),
    ];
    for (id, event) in arrivals {
        app.clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(app.post(&ses_event(id, execution, event)).await.0, 200);
    }
    let timeline = app.runtime.timeline(execution).await.unwrap();
    let statuses: Vec<DeliveryStatus> = timeline.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            DeliveryStatus::Sent,
            DeliveryStatus::Opened,
            DeliveryStatus::Delivered,
            DeliveryStatus::Sent
        ]
    );
    assert_eq!(delivery_state(&timeline), Some(DeliveryStatus::Opened));
    // The provider's own time: the event's, else the message's (SES's `mail.timestamp`).
    assert_eq!(timeline[2].at.to_rfc3339(), "2027-01-01T00:00:02+00:00");
    assert_eq!(timeline[0].at.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    assert_eq!(
        timeline[0].received_at.to_rfc3339(),
        "2027-01-01T00:00:01+00:00"
    );
    assert!(
        timeline
            .windows(2)
            .all(|w| w[0].received_at < w[1].received_at)
    );
    // What `GET /buildamp/executions/{id}` serves (the Elm `Execution`'s timeline).
    let stored = app.runtime.execution(execution).await.unwrap().unwrap();
    let view = buildamp::api::ExecutionView::from(&stored).with_timeline(timeline);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["delivery_state"], "opened");
    assert_eq!(json["timeline"].as_array().unwrap().len(), 4);
    assert_eq!(json["timeline"][2]["status"], "delivered");
    assert_eq!(
        json["timeline"][2]["recipients"],
        json!(["ada@example.com"])
    );
}
