//! The HTTP API the Elm client calls, over real HTTP on 127.0.0.1, against Postgres and SQLite:
//! status codes, the authorizer, the size limit, idempotency and correlation headers, the
//! execution's JSON (what `BuildAmp.Webhooks.decodeExecution` reads), and the event stream.

#[path = "support/elm_eval.rs"]
#[allow(unreachable_pub, dead_code)]
mod eval;
mod support;

conformance! {
    a_trigger_is_accepted_and_can_be_read_back,
    unknown_and_server_only_webhooks_are_404,
    a_bad_payload_is_422_with_the_field_path,
    size_limit_and_content_type_are_enforced,
    the_authorizer_can_refuse_triggers_and_reads,
    idempotency_key_and_correlation_id_are_honoured,
    an_idempotency_key_is_scoped_to_its_webhook_and_never_shows_another_callers_execution,
    an_unknown_caller_learns_nothing_before_it_is_refused,
    status_streams_are_capped_per_caller_and_overall,
    many_streams_on_one_execution_share_one_watcher_and_all_end,
    slow_headers_are_cut_off_and_a_slow_body_is_answered_408,
    the_event_stream_reports_pending_then_sent,
    declared_answers_reach_the_elm_decoders_as_serde_writes_them,
}

use std::time::Duration;

use axum::http::HeaderMap;

use buildamp::api::{self, ApiConfig, Authorizer, Caller, ReadRequest, Refused, TriggerRequest};
use buildamp::http::{ServeLimits, serve};
use buildamp::{BuildAmpWebhook, ManualClock, Runtime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::{Backend, Receiver, env, runtime_with, t0};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// A frontend webhook with a nested payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/notify", auth = "Bearer {NOTIFY_KEY}")]
pub struct Notify {
    /// Who gets it.
    pub to: Vec<Recipient>,
    /// What it says.
    pub message: String,
}

/// A recipient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    /// The address.
    pub email: String,
    /// How many times to send.
    pub copies: u8,
}

/// A second frontend webhook, for keys scoped per webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/ping")]
pub struct Ping {
    /// Anything.
    pub note: String,
}

/// A frontend webhook that names its answers, which the typed Elm execution reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/charges", response = Receipt, error = Refusal)]
pub struct Charge {
    /// In cents.
    pub amount: u32,
}

/// What the target answers to a `Charge`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The charge's id.
    pub id: String,
    /// Where it stands (`state` on the wire).
    #[serde(rename = "state")]
    pub status: String,
    /// Where to pay: the provider calls it `link`, serde writes it back as `url`.
    #[serde(default, alias = "link", skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What the target answers when it refuses a `Charge`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// What went wrong.
    pub error: RefusalDetail,
}

/// A refusal's detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusalDetail {
    /// A code for programs.
    pub code: String,
    /// A message for people.
    pub message: String,
}

/// A webhook the frontend may not trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/internal", server_only = true)]
pub struct InternalOnly {
    /// Anything.
    pub x: u32,
}

/// Signed-in callers (`X-Session`) may trigger, except messages containing "forbidden", and may
/// read only their own executions (correlation id = their session).
struct Sessions;

impl Authorizer for Sessions {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        match headers.get("x-session").and_then(|v| v.to_str().ok()) {
            Some(session) => Ok(Caller(session.to_owned())),
            None => Err(Refused("sign in first".into())),
        }
    }

    async fn authorize_trigger(&self, request: &TriggerRequest<'_>) -> Result<(), Refused> {
        if let Some(notify) = request.payload::<Notify>()
            && notify.message.contains("forbidden")
        {
            return Err(Refused("you may not send that message".into()));
        }
        Ok(())
    }

    async fn authorize_read(&self, request: &ReadRequest<'_>) -> Result<(), Refused> {
        let session = request
            .headers
            .get("x-session")
            .and_then(|v| v.to_str().ok());
        match (session, request.execution.correlation_id) {
            (Some(s), Some(c)) if s == c.to_string() => Ok(()),
            _ => Err(Refused("not your execution".into())),
        }
    }
}

const SESSION: &str = "0190a4c2-7d4e-7000-8000-000000000001";

struct App<S: Backend> {
    runtime: Runtime<S>,
    base: String,
    http: reqwest::Client,
    receiver: Receiver,
}

async fn app_with<S: Backend>(store: S, config: ApiConfig) -> App<S> {
    let receiver = Receiver::answering(200).await;
    let clock = ManualClock::new(t0());
    let runtime = runtime_with(
        store,
        env(&[("RECEIVER", &receiver.base), ("NOTIFY_KEY", "nk_SECRET")]),
        &clock,
        |b| b,
    )
    .await;
    let router = api::router_with(runtime.clone(), Sessions, config);
    let base = serve_limited(router, ServeLimits::default()).await;
    App {
        runtime,
        base,
        http: reqwest::Client::new(),
        receiver,
    }
}

/// Serves `router` on a free port of 127.0.0.1 the way the README says to; returns its base URL.
async fn serve_limited(router: axum::Router, limits: ServeLimits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, router, limits, CancellationToken::new()));
    base
}

async fn app<S: Backend>(store: S) -> App<S> {
    app_with(store, ApiConfig::default()).await
}

fn notify() -> Value {
    json!({"to": [{"email": "ada@example.com", "copies": 1}], "message": "hello"})
}

impl<S: Backend> App<S> {
    fn post(&self, name: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/buildamp/webhooks/{name}", self.base))
            .header("Content-Type", "application/json")
            .header("X-Session", SESSION)
            .header("X-Correlation-Id", SESSION)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .header("X-Session", SESSION)
    }
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned())),
    )
}

async fn a_trigger_is_accepted_and_can_be_read_back<S: Backend>(store: S) {
    let app = app(store).await;
    let (code, created) = send(app.post("Notify").body(notify().to_string())).await;
    assert_eq!(code, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Exactly the fields `decodeExecution` reads.
    assert_eq!(
        created,
        json!({
            "id": id,
            "webhook": "Notify",
            "status": {"state": "pending"},
            "attempts": 0,
            "max_attempts": 3,
            "correlation_id": SESSION,
            "created_at": t0().timestamp_millis(),
            "updated_at": t0().timestamp_millis(),
            "payload": notify(),
        })
    );
    let (code, read) = send(app.get(&format!("/buildamp/executions/{id}"))).await;
    assert_eq!((code, &read), (200, &created));

    app.runtime.executor().run_once().await.unwrap();
    let (_, read) = send(app.get(&format!("/buildamp/executions/{id}"))).await;
    assert_eq!(
        read["status"],
        json!({"state": "sent", "response": {"status": 200, "body": "", "value": null}})
    );
    let (code, listed) = send(app.get("/buildamp/executions?webhook=Notify&status=sent")).await;
    assert_eq!(code, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    let (_, none) = send(app.get("/buildamp/executions?status=dead_letter")).await;
    assert_eq!(none, json!([]));
    let (code, _) = send(app.get("/buildamp/executions?status=lost")).await;
    assert_eq!(code, 400);
    let (code, _) = send(app.get(&format!("/buildamp/executions/{}", uuid::Uuid::now_v7()))).await;
    assert_eq!(code, 404);
    let (code, _) = send(app.get("/buildamp/executions/not-a-uuid")).await;
    assert_eq!(code, 404);
    // The secret was resolved at send time, and is nowhere in what the API returns.
    assert!(!read.to_string().contains("nk_SECRET"));
}

/// A declared answer is served as serde writes it back (an alias read, the canonical name
/// written), which is what the generated decoders of this very file read: delivered, refused and
/// not the declared type, each as the typed Elm execution sees it.
async fn declared_answers_reach_the_elm_decoders_as_serde_writes_them<S: Backend>(store: S) {
    let app = app(store).await;
    app.receiver.script(|_, n| {
        let (status, body) = match n {
            0 => (
                201,
                json!({"id": "ch_1", "state": "created", "link": "https://pay.example/ch_1"}),
            ),
            1 => (
                402,
                json!({"error": {"code": "card_declined", "message": "Declined."}}),
            ),
            _ => (200, json!({"id": 5})),
        };
        support::Reply::Full {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.to_string(),
        }
    });
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api.rs");
    let schema = buildamp_codegen::elm::schema(&[("api.rs".into(), file)]).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (code, created) = send(app.post("Charge").body(r#"{"amount": 500}"#)).await;
        assert_eq!(code, 202, "{created}");
        app.runtime.executor().run_once().await.unwrap();
        let id = created["id"].as_str().unwrap();
        let (_, read) = send(app.get(&format!("/buildamp/executions/{id}"))).await;
        statuses.push(read["status"].clone());
    }

    let value = &statuses[0]["response"]["value"];
    assert_eq!(
        value,
        &json!({"id": "ch_1", "state": "created", "url": "https://pay.example/ch_1"})
    );
    let eval::Answer::Answered(receipt) = eval::answer(&schema, "Charge", &statuses[0]).unwrap()
    else {
        panic!("not answered: {}", statuses[0]);
    };
    let back: Receipt = serde_json::from_value(eval::encode(&schema, "Receipt", &receipt)).unwrap();
    assert_eq!(
        back,
        Receipt {
            id: "ch_1".into(),
            status: "created".into(),
            url: Some("https://pay.example/ch_1".into()),
        }
    );

    assert_eq!(statuses[1]["state"], "dead_letter", "{}", statuses[1]);
    let eval::Answer::Refused(402, Some(refusal)) =
        eval::answer(&schema, "Charge", &statuses[1]).unwrap()
    else {
        panic!("not refused with a refusal: {}", statuses[1]);
    };
    let back: Refusal = serde_json::from_value(eval::encode(&schema, "Refusal", &refusal)).unwrap();
    assert_eq!(back.error.code, "card_declined");

    assert_eq!(statuses[2]["state"], "sent", "{}", statuses[2]);
    let eval::Answer::Unreadable(why) = eval::answer(&schema, "Charge", &statuses[2]).unwrap()
    else {
        panic!("not unreadable: {}", statuses[2]);
    };
    assert!(why.contains("did not parse as `Receipt`"), "{why}");
    assert_eq!(statuses[2]["response"]["value"], Value::Null);

    // Before any answer there is none; the untyped decoders keep reading every state.
    let (_, pending) = send(app.post("Charge").body(r#"{"amount": 1}"#)).await;
    assert_eq!(
        eval::answer(&schema, "Charge", &pending["status"]).unwrap(),
        eval::Answer::NotAnswered
    );
}

async fn unknown_and_server_only_webhooks_are_404<S: Backend>(store: S) {
    let app = app(store).await;
    let (code, body) = send(app.post("Nope").body("{}")).await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"error": "no webhook `Nope` is exposed to the frontend"})
        )
    );
    let (code, body) = send(app.post("InternalOnly").body(r#"{"x": 1}"#)).await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"error": "no webhook `InternalOnly` is exposed to the frontend"})
        )
    );
    let (_, listed) = send(app.get("/buildamp/executions")).await;
    assert_eq!(listed, json!([]), "nothing was enqueued");
}

async fn a_bad_payload_is_422_with_the_field_path<S: Backend>(store: S) {
    let app = app(store).await;
    let cases = [
        (
            json!({"to": [{"email": "a@b.c", "copies": 300}], "message": "m"}),
            "to[0].copies",
            "invalid value: integer `300`, expected u8",
        ),
        (
            json!({"to": [{"copies": 1}], "message": "m"}),
            "to[0]",
            "missing field `email`",
        ),
        (json!({"to": []}), "", "missing field `message`"),
        (
            json!({"to": "ada", "message": "m"}),
            "to",
            "invalid type: string \"ada\", expected a sequence",
        ),
    ];
    for (payload, path, message) in cases {
        let (code, body) = send(app.post("Notify").body(payload.to_string())).await;
        assert_eq!(code, 422, "{payload}");
        assert_eq!(body["path"], path, "{payload}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(message),
            "{payload}: {body}"
        );
    }
    let (code, body) = send(app.post("Notify").body("{not json")).await;
    assert_eq!(code, 422, "{body}");
    let (_, listed) = send(app.get("/buildamp/executions")).await;
    assert_eq!(listed, json!([]), "nothing was enqueued");
}

async fn size_limit_and_content_type_are_enforced<S: Backend>(store: S) {
    let app = app_with(
        store,
        ApiConfig {
            body_limit: 1024,
            ..ApiConfig::default()
        },
    )
    .await;
    let big = json!({"to": [], "message": "x".repeat(2000)});
    let (code, body) = send(app.post("Notify").body(big.to_string())).await;
    assert_eq!(
        (code, body),
        (
            413,
            json!({"error": "the payload is larger than the 1024-byte limit"})
        )
    );
    let (code, _) = send(
        app.http
            .post(format!("{}/buildamp/webhooks/Notify", app.base))
            .header("Content-Type", "text/plain")
            .header("X-Session", SESSION)
            .body(notify().to_string()),
    )
    .await;
    assert_eq!(code, 415);
    // The media type must be exactly JSON (parameters allowed).
    for (content_type, expected) in [
        ("application/jsonfoo", 415),
        ("application/json-patch+json", 415),
        ("APPLICATION/JSON; charset=utf-8", 202),
    ] {
        let (code, _) = send(
            app.http
                .post(format!("{}/buildamp/webhooks/Notify", app.base))
                .header("Content-Type", content_type)
                .header("X-Session", SESSION)
                .header("X-Correlation-Id", SESSION)
                .body(notify().to_string()),
        )
        .await;
        assert_eq!(code, expected, "{content_type}");
    }
    let (code, _) = send(app.post("Notify").body(notify().to_string())).await;
    assert_eq!(code, 202, "a payload within the limit passes");
}

async fn the_authorizer_can_refuse_triggers_and_reads<S: Backend>(store: S) {
    let app = app(store).await;
    let (code, body) = send(
        app.http
            .post(format!("{}/buildamp/webhooks/Notify", app.base))
            .header("Content-Type", "application/json")
            .body(notify().to_string()),
    )
    .await;
    assert_eq!((code, body), (401, json!({"error": "sign in first"})));
    let forbidden = json!({"to": [], "message": "a forbidden word"});
    let (code, body) = send(app.post("Notify").body(forbidden.to_string())).await;
    assert_eq!(
        (code, body),
        (403, json!({"error": "you may not send that message"}))
    );
    let (_, listed) = send(app.get("/buildamp/executions")).await;
    assert_eq!(listed, json!([]), "refused triggers enqueue nothing");

    let (_, created) = send(app.post("Notify").body(notify().to_string())).await;
    let id = created["id"].as_str().unwrap();
    let (code, body) = send(
        app.http
            .get(format!("{}/buildamp/executions/{id}", app.base))
            .header("X-Session", "someone-else"),
    )
    .await;
    assert_eq!((code, body), (403, json!({"error": "not your execution"})));
    let (_, others) = send(
        app.http
            .get(format!("{}/buildamp/executions", app.base))
            .header("X-Session", "someone-else"),
    )
    .await;
    assert_eq!(others, json!([]), "the list shows only readable executions");
    let (code, _) = send(
        app.http
            .get(format!("{}/buildamp/executions/{id}/events", app.base))
            .header("X-Session", "someone-else"),
    )
    .await;
    assert_eq!(code, 403);
}

async fn idempotency_key_and_correlation_id_are_honoured<S: Backend>(store: S) {
    let app = app(store).await;
    let first = send(
        app.post("Notify")
            .header("Idempotency-Key", "order-42")
            .body(notify().to_string()),
    )
    .await;
    let again = send(
        app.post("Notify")
            .header("Idempotency-Key", "order-42")
            .body(notify().to_string()),
    )
    .await;
    assert_eq!(first.0, 202);
    assert_eq!(again.0, 200);
    assert_eq!(first.1["id"], again.1["id"]);
    assert_eq!(first.1["correlation_id"], SESSION);
    let (code, body) = send(
        app.http
            .post(format!("{}/buildamp/webhooks/Notify", app.base))
            .header("Content-Type", "application/json")
            .header("X-Session", SESSION)
            .header("X-Correlation-Id", "not-a-uuid")
            .body(notify().to_string()),
    )
    .await;
    assert_eq!(
        (code, body),
        (400, json!({"error": "`X-Correlation-Id` must be a UUID"}))
    );
    let (_, listed) =
        send(app.get(&format!("/buildamp/executions?correlation_id={SESSION}"))).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

async fn an_idempotency_key_is_scoped_to_its_webhook_and_never_shows_another_callers_execution<
    S: Backend,
>(
    store: S,
) {
    let app = app(store).await;
    let keyed = |name: &str, body: Value| {
        app.post(name)
            .header("Idempotency-Key", "shared-key")
            .body(body.to_string())
    };
    let (code, notify_first) = send(keyed("Notify", notify())).await;
    assert_eq!(code, 202);
    // The same key for another webhook is another execution, not the Notify one (whose payload
    // this caller did not send).
    let (code, ping) = send(keyed("Ping", json!({"note": "hi"}))).await;
    assert_eq!(code, 202);
    assert_ne!(ping["id"], notify_first["id"]);
    assert_eq!(ping["webhook"], "Ping");
    // Another caller repeating a key it cannot read gets no execution, and no payload.
    let (code, body) = send(
        app.http
            .post(format!("{}/buildamp/webhooks/Notify", app.base))
            .header("Content-Type", "application/json")
            .header("X-Session", "someone-else")
            .header("Idempotency-Key", "shared-key")
            .body(notify().to_string()),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            409,
            json!({"error": "this `Idempotency-Key` was used already for this webhook: choose another"})
        )
    );
    // The caller who may read it gets it back.
    let (code, again) = send(keyed("Notify", notify())).await;
    assert_eq!((code, &again["id"]), (200, &notify_first["id"]));
}

async fn an_unknown_caller_learns_nothing_before_it_is_refused<S: Backend>(store: S) {
    let app = app(store).await;
    let anonymous = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{}{path}", app.base))
            .header("Content-Type", "application/json")
    };
    let refused = (401, json!({"error": "sign in first"}));
    // Neither which webhooks exist (404), nor their schema (422), nor the limits (413, 415).
    for (path, body) in [
        ("/buildamp/webhooks/Nope", notify().to_string()),
        ("/buildamp/webhooks/InternalOnly", "{}".to_owned()),
        ("/buildamp/webhooks/Notify", "{\"to\": 3}".to_owned()),
        ("/buildamp/webhooks/Notify", "x".repeat(300 * 1024)),
    ] {
        let answer = send(anonymous(reqwest::Method::POST, path).body(body)).await;
        assert_eq!(answer, refused, "{path}");
    }
    let answer = send(
        app.http
            .post(format!("{}/buildamp/webhooks/Notify", app.base))
            .header("Content-Type", "text/plain")
            .body("hello"),
    )
    .await;
    assert_eq!(answer, refused);
    // Nor which executions exist.
    for path in [
        "/buildamp/executions".to_owned(),
        "/buildamp/executions/not-an-id".to_owned(),
        format!("/buildamp/executions/{}", uuid::Uuid::now_v7()),
        format!("/buildamp/executions/{}/events", uuid::Uuid::now_v7()),
    ] {
        let answer = send(anonymous(reqwest::Method::GET, &path)).await;
        assert_eq!(answer, refused, "{path}");
    }
}

/// Reads server-sent events until `n` `status` events arrived or the stream ended.
async fn next_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    n: usize,
) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                assert!(block.contains("event: status"), "{block}");
                events.push(serde_json::from_str(data).unwrap());
            }
            if events.len() == n {
                return events;
            }
        }
        match response.chunk().await.unwrap() {
            Some(chunk) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
            None => return events,
        }
    }
}

async fn the_event_stream_reports_pending_then_sent<S: Backend>(store: S) {
    let app = app_with(
        store,
        ApiConfig {
            poll_interval: Duration::from_millis(10),
            ..ApiConfig::default()
        },
    )
    .await;
    let (_, created) = send(app.post("Notify").body(notify().to_string())).await;
    let id = created["id"].as_str().unwrap();
    let mut stream = app
        .get(&format!("/buildamp/executions/{id}/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut buffer = String::new();
    let [pending] = next_events(&mut stream, &mut buffer, 1)
        .await
        .try_into()
        .unwrap();
    assert_eq!(pending["status"], json!({"state": "pending"}));

    app.runtime.executor().run_once().await.unwrap();
    // The stream may catch the attempt in flight (`sending`) before it reports `sent`, then ends.
    let rest = next_events(&mut stream, &mut buffer, usize::MAX).await;
    let states: Vec<&str> = rest
        .iter()
        .map(|e| e["status"]["state"].as_str().unwrap())
        .collect();
    assert!(
        states == ["sent"] || states == ["sending", "sent"],
        "{states:?}"
    );
    let sent = rest.last().unwrap();
    assert_eq!(sent["id"], id);
    assert_eq!(sent["attempts"], 1);
    assert!(
        stream.chunk().await.unwrap().is_none(),
        "the stream ends after a final state"
    );
}

async fn status_streams_are_capped_per_caller_and_overall<S: Backend>(store: S) {
    let app = app_with(
        store,
        ApiConfig {
            max_streams_per_caller: 2,
            max_streams: 3,
            ..ApiConfig::default()
        },
    )
    .await;
    let other = "0190a4c2-7d4e-7000-8000-000000000002";
    let (_, mine) = send(app.post("Notify").body(notify().to_string())).await;
    let (_, theirs) = send(
        app.http
            .post(format!("{}/buildamp/webhooks/Notify", app.base))
            .header("Content-Type", "application/json")
            .header("X-Session", other)
            .header("X-Correlation-Id", other)
            .body(notify().to_string()),
    )
    .await;
    let open = |session: &str, id: &Value| {
        app.http
            .get(format!(
                "{}/buildamp/executions/{}/events",
                app.base,
                id.as_str().unwrap()
            ))
            .header("X-Session", session)
            .send()
    };
    let first = open(SESSION, &mine["id"]).await.unwrap();
    let second = open(SESSION, &mine["id"]).await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open(SESSION, &mine["id"]).await.unwrap();
    assert_eq!(third.status(), 429, "two per caller");
    let body: Value = serde_json::from_slice(&third.bytes().await.unwrap()).unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("at most 2 status streams")
    );
    let theirs_first = open(other, &theirs["id"]).await.unwrap();
    assert_eq!(
        theirs_first.status(),
        200,
        "another caller has its own share"
    );
    let over = open(other, &theirs["id"]).await.unwrap();
    assert_eq!(over.status(), 503, "three in all");
    drop((first, second, theirs_first));
}

async fn many_streams_on_one_execution_share_one_watcher_and_all_end<S: Backend>(store: S) {
    let app = app_with(
        store,
        ApiConfig {
            poll_interval: Duration::from_millis(10),
            max_streams_per_caller: 64,
            ..ApiConfig::default()
        },
    )
    .await;
    let (_, created) = send(app.post("Notify").body(notify().to_string())).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut streams = Vec::new();
    for _ in 0..40 {
        let mut stream = app
            .get(&format!("/buildamp/executions/{id}/events"))
            .send()
            .await
            .unwrap();
        let mut buffer = String::new();
        let [pending] = next_events(&mut stream, &mut buffer, 1)
            .await
            .try_into()
            .unwrap();
        assert_eq!(pending["status"], json!({"state": "pending"}));
        streams.push((stream, buffer));
    }
    app.runtime.executor().run_once().await.unwrap();
    for (mut stream, mut buffer) in streams {
        let rest = next_events(&mut stream, &mut buffer, usize::MAX).await;
        assert_eq!(rest.last().unwrap()["status"]["state"], "sent");
    }
}

async fn slow_headers_are_cut_off_and_a_slow_body_is_answered_408<S: Backend>(store: S) {
    let app = app(store).await;
    let router = api::router_with(
        app.runtime.clone(),
        Sessions,
        ApiConfig {
            request_timeout: Duration::from_millis(300),
            ..ApiConfig::default()
        },
    );
    let base = serve_limited(
        router,
        ServeLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ServeLimits::default()
        },
    )
    .await;
    let address = base.trim_start_matches("http://").to_owned();
    // Headers that never end: the server closes the connection (a bounded wait, not a timing).
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"POST /buildamp/webhooks/Notify HTTP/1.1\r\nHost: x\r\nX-Ses")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest))
        .await
        .expect("the server closes a connection whose headers never end")
        .ok();
    // A body that stops halfway: 408, in the API's JSON.
    let mut trickle = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /buildamp/webhooks/Notify HTTP/1.1\r\nHost: x\r\nX-Session: {SESSION}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\":"
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&answer).contains("}") {
            let n = trickle.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(answered.is_ok(), "answered within the bound");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"the request was not complete within 0.3 s"}"#),
        "{answer}"
    );
}

/// The generated Elm decodes the execution by these keys and states: every key the API writes
/// (and every state) must appear in the module's decoders.
#[test]
fn the_elm_module_reads_every_key_the_api_writes() {
    use buildamp::api::{ExecutionView, ResponseView, StatusView};
    use buildamp::tracking::timeline::{DeliveryEvent, DeliveryStatus};
    let module = buildamp_codegen::elm::generate(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
    )
    .unwrap();
    let view = ExecutionView {
        id: "i".into(),
        webhook: "W".into(),
        status: StatusView::Pending,
        attempts: 0,
        max_attempts: 1,
        correlation_id: None,
        created_at: 0,
        updated_at: 0,
        payload: Value::Null,
        timeline: Vec::new(),
        delivery_state: None,
    };
    let received = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let view = view.with_timeline(vec![DeliveryEvent {
        provider: buildamp::tracking::Provider::Ses,
        status: DeliveryStatus::Bounced,
        at: received,
        received_at: received,
        recipients: vec!["ada@example.com".into()],
        detail: Some("Permanent bounce (General)".into()),
    }]);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["delivery_state"], "bounced");
    assert_eq!(
        json["timeline"][0],
        json!({"provider": "ses", "status": "bounced", "at": 1_800_000_000_000_i64,
               "received_at": 1_800_000_000_000_i64, "recipients": ["ada@example.com"],
               "detail": "Permanent bounce (General)"})
    );
    for key in json["timeline"][0].as_object().unwrap().keys() {
        assert!(
            module.contains(&format!("Decode.field \"{key}\""))
                || module.contains(&format!("optionalField \"{key}\"")),
            "the Elm module does not read the delivery event's `{key}`"
        );
    }
    use DeliveryStatus::*;
    for status in [
        Scheduled,
        Queued,
        Sending,
        Sent,
        DeliveryDelayed,
        Delivered,
        Read,
        Opened,
        Clicked,
        Complained,
        Canceled,
        Undelivered,
        Bounced,
        Failed,
    ] {
        let name = serde_json::to_value(status).unwrap();
        assert!(
            module.contains(&format!("                    {name} ->")),
            "the Elm module does not read the status {name}"
        );
    }
    for key in json.as_object().unwrap().keys() {
        assert!(
            module.contains(&format!("Decode.field \"{key}\""))
                || module.contains(&format!("optionalField \"{key}\""))
                || module.contains(&format!("fieldWithDefault \"{key}\"")),
            "the Elm module does not read `{key}`"
        );
    }
    let response = ResponseView {
        status: 200,
        body: String::new(),
        value: Value::Null,
        problem: Some(String::new()),
    };
    let states = [
        StatusView::Pending,
        StatusView::Sending,
        StatusView::Sent {
            response: response.clone(),
        },
        StatusView::Failed {
            error: String::new(),
            attempts: 1,
            response: Some(response.clone()),
        },
        StatusView::DeadLetter {
            reason: String::new(),
            response: Some(response.clone()),
        },
    ];
    let reads = |key: &str| {
        module.contains(&format!("Decode.field \"{key}\""))
            || module.contains(&format!("optionalField \"{key}\""))
    };
    for state in states {
        let json = serde_json::to_value(&state).unwrap();
        let tag = json["state"].as_str().unwrap();
        assert!(
            module.contains(&format!("        \"{tag}\" ->")),
            "state `{tag}`"
        );
        for key in json.as_object().unwrap().keys().filter(|k| *k != "state") {
            assert!(
                reads(key),
                "the Elm module does not read `{key}` of `{tag}`"
            );
        }
    }
    let json = serde_json::to_value(&response).unwrap();
    for key in json.as_object().unwrap().keys() {
        assert!(
            reads(key),
            "the Elm module does not read the response's `{key}`"
        );
    }
}
