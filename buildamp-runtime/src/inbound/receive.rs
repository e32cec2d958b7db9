//! Receiving providers' status events about what we sent: `POST /webhooks/twilio` (SMS status
//! callbacks), `POST /webhooks/resend` (email events), `POST /webhooks/ses` (Amazon SES events
//! through an SNS subscription) and `GET /webhooks/health`.
//!
//! Each request is handled in this order, and stops at the first failure:
//!
//! 1. **Verify** the signature (`401`, nothing processed): Twilio's `X-Twilio-Signature` over the
//!    public URL and the form fields; Resend's `svix-*` headers (Standard Webhooks); SNS's RSA
//!    signature with the certificate at its `SigningCertURL` (validated as AWS's before it is
//!    fetched, then cached), and the message's topic must be one of [`SES_TOPICS_VAR`] (`403`):
//!    SNS signs every topic's messages, not only yours. An SNS `SubscriptionConfirmation` is
//!    confirmed here, by visiting its `SubscribeURL` only when that is an
//!    `sns.<region>.amazonaws.com` URL (`400` otherwise, nothing visited).
//! 2. **Parse** the body (`400`, naming the field).
//! 3. **Map** the provider's message id to our execution (`404` when it names none). The embedded
//!    strategy comes first: our id carried by the provider (the `buildamp_id` query parameter of a
//!    Twilio `StatusCallback` URL; a Resend or SES tag, or an `X-BuildAmp-Id` header), which is an
//!    execution id or a correlation id. Then the database strategy: `message_external_ids`, written when a
//!    target with `external_id = "json:/sid"` (say) was delivered.
//! 4. **Record** (`inbound_events`), durably, before answering: a repeat of an event recorded
//!    already is acknowledged (`200`, `"duplicate": true`) and not handed over again. The event id
//!    is only what the signature covers: Resend's `svix-id`, SNS's `MessageId`, and for Twilio the SHA-256 of the
//!    signed URL and parameters (its `I-Twilio-Idempotency-Token` is not signed, so a replayed
//!    request with a fresh token is still a repeat).
//! 5. **Handle**: the event is leased to this request, and every registered handler gets the
//!    typed [`InboundEvent`] at once. If one fails, or the request is cut off (the provider
//!    disconnects, the process dies), the event stays unhandled and the [`InboundDispatcher`]
//!    hands it over again after the lease: at least once across crashes, exactly once when
//!    nothing fails. The provider's answer does not wait on it: `200` once the event is recorded.
//!
//! Success is `200 {"success": true}`; failures are the runtime's one error body
//! ([`crate::http::ApiError`]: `{"error": "..."}`), whose message never holds a secret or an
//! expected signature.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::env::Env;
use crate::error::{HandlerError, error_chain};
use crate::http::ApiError;
use crate::maintenance::{Service, redelivery_delay};
use crate::queue::ExecutionId;
use crate::signing::sns::{self, AwsFetch, CertificateCache, HttpsFetch};
use crate::signing::verify::{self, DEFAULT_TOLERANCE};
use crate::store::{InboundRecord, InboundRow, Store, StoreError};
pub use crate::tracking::{
    EmailEvent, EmailEventKind, InboundEvent, InboundKind, Provider, SmsState, SmsStatus,
};

/// The variable that turns signature verification off (`false`), for local development only.
pub const VERIFY_VAR: &str = "VERIFY_WEBHOOK_SIGNATURES";
/// The Twilio auth token, which signs Twilio's requests.
pub const TWILIO_TOKEN_VAR: &str = "TWILIO_AUTH_TOKEN";
/// The Resend webhook signing secret (`whsec_...`).
pub const RESEND_SECRET_VAR: &str = "RESEND_WEBHOOK_SECRET";
/// The ARNs of the SNS topics SES publishes to, comma-separated: messages of any other topic are
/// refused, signed by AWS or not.
pub const SES_TOPICS_VAR: &str = "SES_SNS_TOPIC_ARNS";
/// The public base URL providers call (`https://api.example.com`): Twilio signs the URL it
/// requested, which a proxy in front of the app hides from it.
pub const PUBLIC_URL_VAR: &str = "BUILDAMP_PUBLIC_URL";
/// The name of our id where a provider carries it: a query parameter of Twilio's
/// `StatusCallback`, or a Resend tag.
pub const EMBEDDED_ID: &str = "buildamp_id";
/// The header carrying our id in an email (Resend reports the email's headers).
pub const EMBEDDED_ID_HEADER: &str = "X-BuildAmp-Id";

/// A secret read from the environment. Its `Debug` never shows it.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The inbound endpoints' settings, checked at start-up.
#[derive(Clone, Debug)]
pub struct InboundConfig {
    providers: Vec<Provider>,
    verify: bool,
    twilio_token: Option<Secret>,
    resend_secret: Option<Secret>,
    public_url: Option<String>,
    ses_topics: Vec<String>,
    tolerance: Duration,
}

/// Why the inbound endpoints cannot start: every problem, named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "inbound webhooks are not configured: {}",
    problems.join("; ")
)]
pub struct InboundConfigError {
    /// Each problem, naming its variable.
    pub problems: Vec<String>,
}

impl InboundConfig {
    /// Reads the settings for `providers` from `env`: [`TWILIO_TOKEN_VAR`] and [`PUBLIC_URL_VAR`]
    /// for Twilio, [`RESEND_SECRET_VAR`] for Resend, [`SES_TOPICS_VAR`] for SES, each required
    /// while signatures are verified.
    /// [`VERIFY_VAR`]` = false` turns verification off: allowed, with a loud warning (see
    /// [`InboundConfig::warning`]), and never to be used in production.
    ///
    /// # Errors
    /// Every missing or malformed variable, named.
    pub fn from_env(
        env: &(impl Env + ?Sized),
        providers: &[Provider],
    ) -> Result<Self, InboundConfigError> {
        let mut problems = Vec::new();
        let verify = match env.var(VERIFY_VAR).as_deref().map(str::trim) {
            None | Some("") => true,
            Some(v)
                if ["true", "1", "yes", "on"]
                    .iter()
                    .any(|t| v.eq_ignore_ascii_case(t)) =>
            {
                true
            }
            Some(v)
                if ["false", "0", "no", "off"]
                    .iter()
                    .any(|f| v.eq_ignore_ascii_case(f)) =>
            {
                false
            }
            Some(_) => {
                problems.push(format!("{VERIFY_VAR} must be `true` or `false`"));
                true
            }
        };
        let mut required = |name: &'static str, wanted: bool| -> Option<String> {
            let value = env.var(name).filter(|v| !v.trim().is_empty());
            if value.is_none() && wanted && verify {
                problems.push(format!("set {name}"));
            }
            value
        };
        let twilio = providers.contains(&Provider::Twilio);
        let resend = providers.contains(&Provider::Resend);
        let twilio_token = required(TWILIO_TOKEN_VAR, twilio).map(Secret);
        let resend_secret = required(RESEND_SECRET_VAR, resend).map(Secret);
        let public_url = required(PUBLIC_URL_VAR, twilio);
        let ses_topics: Vec<String> = required(SES_TOPICS_VAR, providers.contains(&Provider::Ses))
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for topic in &ses_topics {
            let parts: Vec<&str> = topic.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" {
                problems.push(format!(
                    "{SES_TOPICS_VAR}: `{topic}` is not an SNS topic ARN, like arn:aws:sns:us-east-1:123456789012:ses-events"
                ));
            }
        }
        if let Some(url) = &public_url
            && !matches!(url::Url::parse(url), Ok(u) if u.scheme() == "https" || u.scheme() == "http")
        {
            problems.push(format!(
                "{PUBLIC_URL_VAR} must be an absolute http(s) URL, like https://api.example.com"
            ));
        }
        if let Some(secret) = &resend_secret
            && verify
            && verify::standard_key(&secret.0).is_err()
        {
            problems.push(format!(
                "{RESEND_SECRET_VAR} must be the signing secret Resend shows (`whsec_` and base64)"
            ));
        }
        if !problems.is_empty() {
            return Err(InboundConfigError { problems });
        }
        let config = InboundConfig {
            providers: providers.to_vec(),
            verify,
            twilio_token,
            resend_secret,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            ses_topics,
            tolerance: DEFAULT_TOLERANCE,
        };
        if let Some(warning) = config.warning() {
            tracing::warn!("{warning}");
        }
        Ok(config)
    }

    /// How far a Resend timestamp may be from now (default five minutes).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Whether signatures are verified.
    pub fn verifies_signatures(&self) -> bool {
        self.verify
    }

    /// The warning logged at start-up when verification is off.
    pub fn warning(&self) -> Option<String> {
        (!self.verify).then(|| {
            format!(
                "!!! {VERIFY_VAR}=false: inbound webhook signatures are NOT verified. Anyone who \
                 can reach /webhooks/* can forge provider events. Use this only on a development \
                 machine, never in production. !!!"
            )
        })
    }
}

type Handler = Arc<
    dyn Fn(InboundEvent) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>
        + Send
        + Sync,
>;

/// How long a provider's request may take, its body included (providers give up sooner).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request (or the dispatcher) holds an event while its handlers run.
const LEASE: Duration = Duration::from_secs(60);

/// The inbound endpoints, ready to mount: `Inbound::new(store, config).on_event(..).router()`,
/// or [`Inbound::build`] for the routes and the dispatcher that hands over events whose first
/// hand-over failed.
pub struct Inbound<S> {
    store: S,
    config: InboundConfig,
    handlers: Vec<Handler>,
    clock: Arc<dyn Clock>,
    lease: Duration,
    body_limit: usize,
    aws: CertificateCache<Box<dyn AwsFetch>>,
}

impl<S: Store> Inbound<S> {
    /// Endpoints over `store` (the runtime's: `runtime.store().clone()`), with no handler yet.
    pub fn new(store: S, config: InboundConfig) -> Self {
        Inbound {
            store,
            config,
            handlers: Vec::new(),
            clock: Arc::new(SystemClock),
            lease: LEASE,
            body_limit: 256 * 1024,
            aws: CertificateCache::new(Box::new(HttpsFetch::default())),
        }
    }

    /// How SNS signing certificates are fetched and SES subscriptions confirmed (default: HTTPS
    /// GETs of the AWS URLs, once each is validated; tests, which cannot reach AWS, pass a
    /// fixture).
    pub fn aws_fetcher(mut self, fetcher: impl AwsFetch + 'static) -> Self {
        self.aws = CertificateCache::new(Box::new(fetcher));
        self
    }

    /// How long an event is held while its handlers run before it is handed over again
    /// (default 60 s). Handlers that take longer are given the event twice.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The largest body accepted, in bytes (default 256 KiB; providers' events are a few KiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Adds a handler for every event. Handlers run in the order added; if one fails, the event
    /// is handed to all of them again later, so they must tolerate repeats.
    pub fn on_event<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(InboundEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.handlers
            .push(Arc::new(move |event| Box::pin(handler(event))));
        self
    }

    /// The clock that judges Resend timestamps and SNS certificates' validity (tests use a
    /// manual one).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Splits the endpoints into their routes and the dispatcher that hands events over again:
    /// mount the router, and start the dispatcher with [`crate::maintenance::start`].
    pub fn build(self) -> (Router, InboundDispatcher<S>) {
        let shared = Arc::new(self);
        let dispatcher = InboundDispatcher {
            inbound: shared.clone(),
            interval: Duration::from_secs(1),
        };
        (Self::routes(shared), dispatcher)
    }

    /// The routes alone (see [`Inbound::build`] for the dispatcher they need).
    pub fn router(self) -> Router {
        Self::routes(Arc::new(self))
    }

    /// The routes: `GET /webhooks/health`, and `POST /webhooks/twilio`, `/webhooks/resend` and
    /// `/webhooks/ses` for the configured providers.
    fn routes(shared: Arc<Self>) -> Router {
        let mut router = Router::new().route("/webhooks/health", get(health::<S>));
        if shared.config.providers.contains(&Provider::Twilio) {
            router = router.route("/webhooks/twilio", post(twilio::<S>));
        }
        if shared.config.providers.contains(&Provider::Resend) {
            router = router.route("/webhooks/resend", post(resend::<S>));
        }
        if shared.config.providers.contains(&Provider::Ses) {
            router = router.route("/webhooks/ses", post(ses::<S>));
        }
        let limit = shared.body_limit;
        // Over the limit or too slow, the answer is the runtime's JSON, like every other.
        let router = router
            .layer(axum::extract::DefaultBodyLimit::max(limit))
            .with_state(shared);
        crate::http::request_timeout(router, REQUEST_TIMEOUT)
    }
}

fn unauthorized(error: &verify::VerifyError) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("invalid signature: {error}"),
    )
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn health<S: Store>(State(inbound): State<Arc<Inbound<S>>>) -> Response {
    let healthy = inbound.store.next_due().await.is_ok();
    let endpoints: serde_json::Map<String, Value> = inbound
        .config
        .providers
        .iter()
        .map(|p| {
            (
                p.as_str().to_owned(),
                json!(format!("/webhooks/{}", p.as_str())),
            )
        })
        .collect();
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "service": "webhook_handlers",
        "endpoints": endpoints,
        "signature_verification": if inbound.config.verify { "enabled" } else { "disabled" },
        "timestamp": inbound.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn twilio<S: Store>(
    State(inbound): State<Arc<Inbound<S>>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = crate::http::body(body, inbound.body_limit)?;
    if !crate::http::has_media_type(&headers, "application/x-www-form-urlencoded") {
        return Err(bad_request(
            "expected an application/x-www-form-urlencoded body",
        ));
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    if inbound.config.verify {
        let token = inbound.config.twilio_token.as_ref().map_or("", |s| &s.0);
        let url = format!(
            "{}{uri}",
            inbound.config.public_url.as_deref().unwrap_or_default()
        );
        verify::twilio(
            token,
            &url,
            &params,
            None,
            header(&headers, "x-twilio-signature"),
        )
        .map_err(|e| unauthorized(&e))?;
    }
    let field = |names: &[&str]| {
        names.iter().find_map(|name| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        })
    };
    let sid = field(&["MessageSid", "SmsSid"])
        .ok_or_else(|| bad_request("missing `MessageSid` (or `SmsSid`)"))?;
    let status = field(&["MessageStatus", "SmsStatus"])
        .ok_or_else(|| bad_request("missing `MessageStatus` (or `SmsStatus`)"))?;
    let embedded = uri
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == EMBEDDED_ID)
                .map(|(_, v)| v.into_owned())
        })
        .map(|v| embedded_id(&v))
        .transpose()?;
    let execution = find_execution(&inbound.store, embedded, &sid).await?;
    // Only what the signature covers identifies the event (see the module docs).
    let base = inbound.config.public_url.as_deref().unwrap_or_default();
    let event_id = verify::twilio_signed_digest(&format!("{base}{uri}"), &params);
    let event = InboundEvent {
        provider: Provider::Twilio,
        event_id,
        external_id: sid,
        execution,
        kind: InboundKind::Sms(SmsStatus {
            status: SmsState::parse(&status),
            to: field(&["To"]),
            from: field(&["From"]),
            error_code: field(&["ErrorCode"]),
            error_message: field(&["ErrorMessage"]),
        }),
    };
    process(&inbound, event, &status).await
}

async fn resend<S: Store>(
    State(inbound): State<Arc<Inbound<S>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = crate::http::body(body, inbound.body_limit)?;
    let either =
        |svix: &str, standard: &str| header(&headers, svix).or_else(|| header(&headers, standard));
    let id = either("svix-id", "webhook-id");
    if inbound.config.verify {
        let secret = inbound.config.resend_secret.as_ref().map_or("", |s| &s.0);
        verify::standard(
            secret,
            id,
            either("svix-timestamp", "webhook-timestamp"),
            either("svix-signature", "webhook-signature"),
            &body,
            inbound.clock.now().timestamp(),
            inbound.config.tolerance,
        )
        .map_err(|e| unauthorized(&e))?;
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("the body is not JSON: {e}")))?;
    let kind = payload["type"]
        .as_str()
        .ok_or_else(|| bad_request("missing `type`"))?
        .to_owned();
    let data = payload
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| bad_request("missing `data` (an object)"))?;
    if !kind.starts_with("email.") {
        // Contact and domain events are not about a message we sent: acknowledged, not routed.
        return Ok(success(false));
    }
    let email_id = ["email_id", "id"]
        .iter()
        .find_map(|k| data[*k].as_str().filter(|s| !s.is_empty()))
        .ok_or_else(|| bad_request("missing `data.email_id`"))?
        .to_owned();
    let embedded = resend_embedded(data).map(|v| embedded_id(&v)).transpose()?;
    let execution = find_execution(&inbound.store, embedded, &email_id).await?;
    let event_id = match id {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!(
            "{email_id}:{kind}:{}",
            payload["created_at"].as_str().unwrap_or_default()
        ),
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let to = match &data["to"] {
        Value::Array(list) => list.iter().filter_map(text).collect(),
        Value::String(one) => vec![one.clone()],
        _ => Vec::new(),
    };
    let event = InboundEvent {
        provider: Provider::Resend,
        event_id,
        external_id: email_id,
        execution,
        kind: InboundKind::Email(EmailEvent {
            kind: EmailEventKind::parse(&kind),
            created_at: text(&payload["created_at"]),
            from: text(&data["from"]),
            to,
            subject: text(&data["subject"]),
            reason: text(&data["bounce"]["message"]).or_else(|| text(&data["failed"]["reason"])),
            link: text(&data["click"]["link"]),
            hard_bounce: data["bounce"]["type"].as_str().map(|t| t == "Permanent"),
            data: data.clone(),
        }),
    };
    process(&inbound, event, &kind).await
}

/// `POST /webhooks/ses`: an SNS message (SNS posts its JSON as `text/plain`, so the body is read
/// as JSON whatever its type says).
async fn ses<S: Store>(
    State(inbound): State<Arc<Inbound<S>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = crate::http::body(body, inbound.body_limit)?;
    let message: Value = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("the body is not an SNS message (JSON): {e}")))?;
    let kind = message["Type"]
        .as_str()
        .ok_or_else(|| bad_request("missing `Type`"))?
        .to_owned();
    let topic = message["TopicArn"].as_str().unwrap_or_default().to_owned();
    if inbound.config.verify {
        inbound
            .aws
            .verify(&message, inbound.clock.now().timestamp())
            .await
            .map_err(|e| unauthorized(&e))?;
        if !inbound.config.ses_topics.contains(&topic) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "topic `{topic}` is not one of {SES_TOPICS_VAR}: add it there to receive its messages"
                ),
            ));
        }
    }
    match kind.as_str() {
        "SubscriptionConfirmation" => {
            let url = sns::subscribe_url(&message)
                .map_err(|e| bad_request(format!("the subscription was not confirmed: {e}")))?;
            inbound.aws.fetcher().get(url).await.map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("the subscription could not be confirmed at AWS: {e}"),
                )
            })?;
            tracing::info!(topic, "confirmed the SNS subscription of the SES endpoint");
            let body = json!({"success": true, "confirmed": true});
            Ok((StatusCode::OK, axum::Json(body)).into_response())
        }
        "UnsubscribeConfirmation" => {
            // Not resubscribed: whoever unsubscribed meant it. A new subscription confirms anew.
            tracing::warn!(
                topic,
                "the SES endpoint was unsubscribed from its SNS topic"
            );
            Ok(success(false))
        }
        "Notification" => ses_notification(&inbound, &message).await,
        other => Err(bad_request(format!("`{other}` is not an SNS message type"))),
    }
}

/// An SES event (the `Message` of an SNS notification): its message mapped to our execution,
/// recorded and handed over like the other providers' events.
async fn ses_notification<S: Store>(
    inbound: &Inbound<S>,
    message: &Value,
) -> Result<Response, ApiError> {
    let event_id = message["MessageId"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request("missing `MessageId`"))?
        .to_owned();
    let event: Value = message["Message"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .filter(Value::is_object)
        .ok_or_else(|| bad_request("`Message` is not an SES event (a JSON object in a string)"))?;
    // Configuration-set event publishing says `eventType`; identity notifications say
    // `notificationType`.
    let ses_type = event["eventType"]
        .as_str()
        .or_else(|| event["notificationType"].as_str())
        .ok_or_else(|| bad_request("missing `Message.eventType` (or `notificationType`)"))?
        .to_owned();
    let mail = &event["mail"];
    let message_id = mail["messageId"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request("missing `Message.mail.messageId`"))?
        .to_owned();
    let embedded = ses_embedded(mail).map(|v| embedded_id(&v)).transpose()?;
    let execution = find_execution(&inbound.store, embedded, &message_id).await?;
    let (kind, detail) = match ses_type.as_str() {
        "Send" => (EmailEventKind::Sent, "send"),
        "Delivery" => (EmailEventKind::Delivered, "delivery"),
        "Bounce" => (EmailEventKind::Bounced, "bounce"),
        "Complaint" => (EmailEventKind::Complained, "complaint"),
        "Open" => (EmailEventKind::Opened, "open"),
        "Click" => (EmailEventKind::Clicked, "click"),
        "DeliveryDelay" => (EmailEventKind::DeliveryDelayed, "deliveryDelay"),
        "Reject" => (EmailEventKind::Failed, "reject"),
        "Rendering Failure" => (EmailEventKind::Failed, "failure"),
        other => (EmailEventKind::Other(format!("ses.{other}")), ""),
    };
    let detail = &event[detail];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let addresses = |list: &Value, key: Option<&str>| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| text(key.map_or(r, |k| &r[k])))
            .collect()
    };
    let to = match ses_type.as_str() {
        "Bounce" => addresses(&detail["bouncedRecipients"], Some("emailAddress")),
        "Complaint" => addresses(&detail["complainedRecipients"], Some("emailAddress")),
        "Delivery" => addresses(&detail["recipients"], None),
        _ => Vec::new(),
    };
    let to = if to.is_empty() {
        addresses(&mail["destination"], None)
    } else {
        to
    };
    let reason = match ses_type.as_str() {
        "Bounce" => {
            let diagnostic = detail["bouncedRecipients"][0]["diagnosticCode"].as_str();
            Some(format!(
                "{} bounce ({}){}",
                detail["bounceType"].as_str().unwrap_or("Undetermined"),
                detail["bounceSubType"].as_str().unwrap_or("Undetermined"),
                diagnostic.map(|d| format!(": {d}")).unwrap_or_default()
            ))
        }
        "Complaint" => text(&detail["complaintFeedbackType"]),
        "Reject" => text(&detail["reason"]),
        "Rendering Failure" => text(&detail["errorMessage"]),
        "DeliveryDelay" => text(&detail["delayType"]),
        _ => None,
    };
    let kind_name = format!("ses.{ses_type}");
    let event = InboundEvent {
        provider: Provider::Ses,
        event_id,
        external_id: message_id,
        execution,
        kind: InboundKind::Email(EmailEvent {
            kind,
            created_at: text(&detail["timestamp"]).or_else(|| text(&mail["timestamp"])),
            from: text(&mail["source"]),
            to,
            subject: text(&mail["commonHeaders"]["subject"]),
            reason,
            link: text(&detail["link"]),
            hard_bounce: (ses_type == "Bounce")
                .then(|| detail["bounceType"].as_str() == Some("Permanent")),
            data: event.clone(),
        }),
    };
    process(inbound, event, &kind_name).await
}

/// Our id in an SES event's `mail`: a `buildamp_id` message tag (`tags` maps each name to its
/// values), or an `X-BuildAmp-Id` header (when the configuration set includes headers).
fn ses_embedded(mail: &Value) -> Option<String> {
    mail["tags"][EMBEDDED_ID][0]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            mail["headers"].as_array()?.iter().find_map(|h| {
                h["name"]
                    .as_str()
                    .filter(|n| n.eq_ignore_ascii_case(EMBEDDED_ID_HEADER))
                    .and(h["value"].as_str())
                    .map(str::to_owned)
            })
        })
}

/// Our id in a Resend event: a `buildamp_id` tag (an object of names to values, or a list of
/// `{name, value}`), or an `X-BuildAmp-Id` header.
fn resend_embedded(data: &Value) -> Option<String> {
    let named = |list: &Value, name: &str| {
        list.as_array()?.iter().find_map(|entry| {
            entry["name"]
                .as_str()
                .filter(|n| n.eq_ignore_ascii_case(name))
                .and(entry["value"].as_str())
                .map(str::to_owned)
        })
    };
    data["tags"][EMBEDDED_ID]
        .as_str()
        .map(str::to_owned)
        .or_else(|| named(&data["tags"], EMBEDDED_ID))
        .or_else(|| named(&data["headers"], EMBEDDED_ID_HEADER))
}

fn embedded_id(value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| {
        bad_request(format!(
            "`{EMBEDDED_ID}` is not an execution or correlation id"
        ))
    })
}

/// The execution a message belongs to: the embedded id first, then `message_external_ids`.
async fn find_execution<S: Store>(
    store: &S,
    embedded: Option<Uuid>,
    external_id: &str,
) -> Result<ExecutionId, ApiError> {
    if let Some(id) = embedded
        && let Some(found) = store.find_embedded_id(id).await?
    {
        return Ok(found);
    }
    if let Some(found) = store.find_external_id(external_id).await? {
        return Ok(found);
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("unknown message id `{external_id}`"),
    ))
}

/// Records the event durably (a repeat stops here), leased to this request, then hands it to
/// every handler. The answer is `200` once it is recorded, whatever the handlers do: an event
/// they did not take is handed over again by the [`InboundDispatcher`].
async fn process<S: Store>(
    inbound: &Inbound<S>,
    event: InboundEvent,
    kind: &str,
) -> Result<Response, ApiError> {
    let json = serde_json::to_value(&event).map_err(|e| ApiError::internal(&e))?;
    let record = InboundRecord {
        provider: event.provider.as_str().to_owned(),
        event_id: event.event_id.clone(),
        kind: kind.to_owned(),
        execution_id: Some(event.execution),
        event: json,
    };
    let now = inbound.clock.now();
    if !inbound
        .store
        .record_inbound(&record, now, inbound.lease_until(now))
        .await?
    {
        return Ok(success(true));
    }
    inbound.hand_over(event, 1).await?;
    Ok(success(false))
}

impl<S: Store> Inbound<S> {
    fn lease_until(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX)
    }

    /// Gives a recorded event to every handler, then marks it handled; if one fails, offers it
    /// again later (the `delivery`-th time it was handed over decides how much later).
    async fn hand_over(&self, event: InboundEvent, delivery: u32) -> Result<(), StoreError> {
        let provider = event.provider.as_str();
        for handler in &self.handlers {
            if let Err(error) = handler(event.clone()).await {
                let delay = redelivery_delay(delivery);
                tracing::error!(
                    provider,
                    event_id = event.event_id,
                    error = %error_chain(&*error),
                    retry_in_secs = delay.as_secs(),
                    "an inbound event handler failed; the event will be handed over again"
                );
                let at = self.clock.now() + chrono::Duration::from_std(delay).expect("in range");
                return self
                    .store
                    .retry_inbound(provider, &event.event_id, at)
                    .await;
            }
        }
        self.store
            .handled_inbound(provider, &event.event_id, self.clock.now())
            .await
    }
}

/// Hands recorded inbound events to the handlers again when their first hand-over failed or was
/// cut off (after its lease). Start it beside the routes: `maintenance::start(dispatcher)`.
pub struct InboundDispatcher<S> {
    inbound: Arc<Inbound<S>>,
    interval: Duration,
}

impl<S: Store> InboundDispatcher<S> {
    /// Events claimed at once.
    const BATCH: usize = 100;

    /// How often it looks for events to hand over (default 1 s).
    pub fn every(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Hands one batch of due events to the handlers. Returns how many it took.
    ///
    /// # Errors
    /// The store failed; the events come back after their lease.
    pub async fn dispatch_once(&self) -> Result<usize, StoreError> {
        let inbound = &self.inbound;
        let now = inbound.clock.now();
        let rows = inbound
            .store
            .claim_inbound(now, inbound.lease_until(now), Self::BATCH)
            .await?;
        let count = rows.len();
        for row in rows {
            let InboundRow {
                provider,
                event_id,
                event,
                deliveries,
            } = row;
            match serde_json::from_value::<InboundEvent>(event) {
                Ok(event) => {
                    let delivery = u32::try_from(deliveries).unwrap_or(u32::MAX);
                    inbound.hand_over(event, delivery).await?;
                }
                Err(error) => {
                    // Written by this code, so unreadable only after a downgrade: keep it for a
                    // person, and try again much later.
                    tracing::error!(provider, event_id, %error, "a recorded inbound event cannot be read; it is kept");
                    let at = now + chrono::Duration::hours(1);
                    inbound
                        .store
                        .retry_inbound(&provider, &event_id, at)
                        .await?;
                }
            }
        }
        Ok(count)
    }
}

impl<S: Store> Service for InboundDispatcher<S> {
    const NAME: &'static str = "inbound dispatcher";

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<u64, StoreError> {
        crate::maintenance::until_empty(|| self.dispatch_once()).await
    }
}

fn success(duplicate: bool) -> Response {
    let body = if duplicate {
        json!({"success": true, "duplicate": true})
    } else {
        json!({"success": true})
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}
