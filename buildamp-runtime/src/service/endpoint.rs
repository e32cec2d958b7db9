//! Customers' endpoints as data: where an endpoint is, what it subscribes to, how it is retried,
//! authenticated and signed. An endpoint is checked once, when it is written ([`EndpointSpec`]
//! into [`Endpoint`]); the store keeps its settings in clear and its secrets sealed
//! ([`super::secrets`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::filter::{Filter, valid_pattern};
use super::secrets::Secret;
use crate::protect::Limits;
use crate::queue::{RetryPolicy, RetryRules};
use crate::target::RateLimit;

/// An endpoint's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EndpointId(pub Uuid);

impl EndpointId {
    /// A fresh id (UUIDv7: ids sort by creation).
    pub fn new() -> Self {
        EndpointId(Uuid::now_v7())
    }
}

impl Default for EndpointId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether an endpoint receives events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Receives every event it subscribes to.
    #[default]
    Enabled,
    /// Events are queued for it but not delivered until it is enabled again (no attempt is spent
    /// while it waits).
    Paused,
    /// Receives nothing: new events skip it, and deliveries still queued for it dead-letter.
    Disabled,
}

impl EndpointStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Paused => "paused",
            EndpointStatus::Disabled => "disabled",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Enabled, Self::Paused, Self::Disabled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Where an endpoint runs: production endpoints must use HTTPS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// A developer's endpoint.
    Development,
    /// A staging endpoint.
    Staging,
    /// A production endpoint (HTTPS only).
    #[default]
    Production,
}

impl Environment {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }

    /// The environment named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Development, Self::Staging, Self::Production]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// How deliveries are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningScheme {
    /// Standard Webhooks v1: `webhook-id`, `webhook-timestamp`, `webhook-signature` (one `v1,`
    /// signature per active secret). Replays are refused by the timestamp.
    #[default]
    StandardWebhooks,
    /// `X-Signature: sha256=<hex HMAC-SHA256 of the body>` (seed 000's form). It signs no
    /// timestamp, so a captured delivery can be replayed: use it only for receivers that need it.
    XSignatureSha256,
    /// `X-Signature: sha1=<hex HMAC-SHA1 of the body>`, for receivers that only know SHA-1.
    /// Replayable, like `x_signature_sha256`.
    HmacSha1,
}

/// What a delivery's body is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyShape {
    /// The envelope: `event_type`, `event_id`, `timestamp`, `data`, `metadata` (seed 003's
    /// standard payload).
    #[default]
    Envelope,
    /// The event's `data` alone, with `sequence` added on an ordered endpoint: for receivers
    /// that expect a flat payload (transaction callbacks, seed 000's). The event's type and id
    /// are in the `X-Event-Type` and `X-Event-Id` headers.
    Data,
}

/// A duration written as `"500ms"`, `"4s"`, `"5m"` or `"1h"` (or a number of seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            s.serialize_str(&format!("{}s", ms / 1000))
        } else {
            s.serialize_str(&format!("{ms}ms"))
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Dur(Duration::from_secs(s))),
            Raw::Text(t) => parse_duration(&t).map(Dur).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{t}` is not a duration: write `500ms`, `4s`, `5m` or `1h`"
                ))
            }),
        }
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

/// A rate written as `"100/min"`, `"10/s"`, `"1000/h"` or `"5/10s"` (a count per duration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(pub RateLimit);

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let RateLimit { count, per } = self.0;
        let per = match per.as_secs() {
            _ if per.subsec_nanos() != 0 => format!("{}ms", per.as_millis()),
            1 => "s".to_owned(),
            60 => "min".to_owned(),
            3600 => "h".to_owned(),
            secs => format!("{secs}s"),
        };
        s.serialize_str(&format!("{count}/{per}"))
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_rate(&text).map(Rate).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a rate: write `100/min`, `10/s`, `1000/h` or `5/10s`"
            ))
        })
    }
}

fn parse_rate(text: &str) -> Option<RateLimit> {
    let (count, per) = text.trim().split_once('/')?;
    let count: u32 = count.trim().parse().ok()?;
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        other => parse_duration(other)?,
    };
    Some(RateLimit { count, per })
}

/// Limits that every executor process shares, so they hold however many run: deliveries in
/// flight at once and deliveries per window. A delivery over a limit waits for its turn without
/// spending an attempt, and other endpoints' deliveries go on meanwhile. Unset: unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointLimits {
    /// Deliveries in flight at once (`10`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Deliveries per window (`"100/min"`), counted until a window after each one ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
}

impl EndpointLimits {
    /// The limits as the admission rule reads them.
    pub fn limits(&self) -> Limits {
        Limits {
            max_concurrency: self.max_concurrency,
            rate: self.rate.map(|r| r.0),
        }
    }
}

/// How an endpoint's failed deliveries are retried. The default: 5 attempts, exponential from
/// 1 s, ×2, capped at 300 s (with the executor's jitter), on network errors, timeouts, 408, 429
/// and 5xx; `schedule` replaces the exponential backoff with explicit delays (the last repeats).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first delay.
    pub initial: Dur,
    /// The growth factor.
    pub multiplier: u32,
    /// The cap.
    pub max: Dur,
    /// Explicit delays instead (`["4s", "8s", "10s"]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<Dur>>,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 5,
            initial: Dur(Duration::from_secs(1)),
            multiplier: 2,
            max: Dur(Duration::from_secs(300)),
            schedule: None,
        }
    }
}

impl RetrySpec {
    /// The queue's policy for this spec.
    pub fn policy(&self) -> RetryPolicy {
        match &self.schedule {
            Some(delays) => RetryPolicy::Schedule(Cow::Owned(delays.iter().map(|d| d.0).collect())),
            None => RetryPolicy::Exponential {
                initial: self.initial.0,
                multiplier: self.multiplier,
                max: self.max.0,
            },
        }
    }
}

/// How BuildAmp authenticates to an endpoint, beside the signature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EndpointAuth {
    /// Nothing but the signature.
    #[default]
    None,
    /// An API key in a header.
    ApiKey {
        /// The header (default `X-API-Key`).
        #[serde(default = "api_key_header")]
        header: String,
        /// The key.
        key: Secret,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// `Authorization: Basic`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: Bearer <JWT>`, an HS256 token minted for every request (`iat`, `exp`,
    /// `jti` = the delivery's id, `sub` = the endpoint's id).
    Jwt {
        /// The HMAC key.
        secret: Secret,
        /// The `iss` claim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issuer: Option<String>,
        /// The `aud` claim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
        /// How long a token is valid (default 5 minutes).
        #[serde(default = "jwt_ttl")]
        ttl: Dur,
    },
}

fn api_key_header() -> String {
    "X-API-Key".to_owned()
}

fn jwt_ttl() -> Dur {
    Dur(Duration::from_secs(300))
}

impl EndpointAuth {
    /// The auth without its secrets, as the API shows it.
    pub fn view(&self) -> serde_json::Value {
        match self {
            EndpointAuth::None => serde_json::json!({"type": "none"}),
            EndpointAuth::ApiKey { header, .. } => {
                serde_json::json!({"type": "api_key", "header": header})
            }
            EndpointAuth::Bearer { .. } => serde_json::json!({"type": "bearer"}),
            EndpointAuth::Basic { username, .. } => {
                serde_json::json!({"type": "basic", "username": username})
            }
            EndpointAuth::Jwt {
                issuer,
                audience,
                ttl,
                ..
            } => {
                serde_json::json!({"type": "jwt", "issuer": issuer, "audience": audience, "ttl": ttl})
            }
        }
    }
}

/// One signing secret (`whsec_` + base64). During a rotation the old one stays active until it
/// expires, and every delivery carries a signature per active secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    /// The secret.
    pub secret: Secret,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops signing (`None`: the current secret).
    pub expires_at: Option<DateTime<Utc>>,
}

impl SigningSecret {
    /// Whether it still signs at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// What is sealed: every secret of an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sealed {
    pub(crate) signing: Vec<SigningSecret>,
    pub(crate) auth: EndpointAuth,
}

/// An endpoint's settings: everything but its identity and its secrets. Stored in clear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Event types it receives: names or patterns (`lead.*`, `*`).
    pub subscriptions: Vec<String>,
    /// Which events of those it receives, by content.
    #[serde(default)]
    pub filter: Filter,
    /// Headers sent with every delivery.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-attempt timeout.
    pub timeout: Dur,
    /// How failures are retried.
    #[serde(default)]
    pub retry: RetrySpec,
    /// Concurrency and rate limits, shared by every executor.
    #[serde(default)]
    pub limits: EndpointLimits,
    /// How deliveries are signed.
    #[serde(default)]
    pub signing: SigningScheme,
    /// The auth kind, without secrets (the sealed part holds the whole).
    #[serde(default)]
    pub auth: serde_json::Value,
    /// Receive the events of one ordering key one at a time, in publish order, each numbered
    /// (`metadata.sequence`, `X-Sequence`): the next waits until the previous one is delivered
    /// or dead-lettered. Events without a key, and other keys, are not held back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ordered: bool,
    /// What the body is: the envelope (default), or the data alone.
    #[serde(default, skip_serializing_if = "is_envelope")]
    pub body: BodyShape,
    /// Where deliveries go while the endpoint's circuit is open (its own URL's circuit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_url: Option<String>,
    /// Why BuildAmp disabled the endpoint (it answered 410 Gone, or failed for too long); cleared
    /// when it is enabled again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

fn is_envelope(body: &BodyShape) -> bool {
    *body == BodyShape::Envelope
}

/// An endpoint, its secrets opened.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// Its id.
    pub id: EndpointId,
    /// The tenant it belongs to (`""` when the app has one); it receives only that tenant's
    /// events.
    pub application: String,
    /// Where deliveries go.
    pub url: String,
    /// What it is, for people.
    pub description: String,
    /// Whether it receives events.
    pub status: EndpointStatus,
    /// Where it runs.
    pub environment: Environment,
    /// Its settings.
    pub config: EndpointConfig,
    /// Its authentication.
    pub auth: EndpointAuth,
    /// Its signing secrets, the newest first.
    pub secrets: Vec<SigningSecret>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The default per-attempt timeout of an endpoint.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Endpoint {
    /// How its failures are retried.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.config.retry.policy()
    }

    /// Its retry rules over `policy` (from [`Endpoint::retry_policy`]).
    pub fn retry_rules(policy: &RetryPolicy) -> RetryRules<'_> {
        RetryRules {
            policy,
            retry_on: &[],
        }
    }

    /// The secrets that sign at `now`.
    pub fn active_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        self.secrets
            .iter()
            .filter(|s| s.active(now))
            .map(|s| s.secret.expose())
            .collect()
    }

    /// The endpoint as the API shows it: no secret, only how many signing secrets are active.
    pub fn view(&self, now: DateTime<Utc>) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "application": self.application,
            "url": self.url,
            "description": self.description,
            "status": self.status,
            "environment": self.environment,
            "subscriptions": self.config.subscriptions,
            "filter": self.config.filter,
            "headers": self.config.headers,
            "timeout": self.config.timeout,
            "retry": self.config.retry,
            "limits": self.config.limits,
            "ordered": self.config.ordered,
            "body": self.config.body,
            "failover_url": self.config.failover_url,
            "disabled_reason": self.config.disabled_reason,
            "signing": {
                "scheme": self.config.signing,
                "active_secrets": self.active_secrets(now).len(),
                "secrets": self.secrets.iter().map(|s| serde_json::json!({
                    "created_at": s.created_at, "expires_at": s.expires_at,
                })).collect::<Vec<_>>(),
            },
            "auth": self.auth.view(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// A field of an endpoint that is not valid: its path in the request and what to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {message}")]
pub struct InvalidEndpoint {
    /// The field (`url`, `retry.max_attempts`, `filter.rules[0].value`).
    pub path: String,
    /// What is wrong and the fix.
    pub message: String,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> InvalidEndpoint {
    InvalidEndpoint {
        path: path.into(),
        message: message.into(),
    }
}

/// What creating or updating an endpoint takes; every field but `url` and `subscriptions` has a
/// default. Over HTTP it is the JSON body of `POST /endpoints` (and, every field optional, of
/// `PATCH /endpoints/{id}`).
// Deserialize only: a spec may hold secrets (`secret`, `auth`), and nothing should write one out.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Where deliveries go: `https://`, or `http://` outside production.
    pub url: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// The tenant it belongs to (only at creation).
    pub application: Option<String>,
    /// Where it runs (default `production`).
    pub environment: Option<Environment>,
    /// Whether it receives events (default `enabled`).
    pub status: Option<EndpointStatus>,
    /// Event types or patterns it receives.
    pub subscriptions: Option<Vec<String>>,
    /// Content filter.
    pub filter: Option<Filter>,
    /// Headers sent with every delivery.
    pub headers: Option<BTreeMap<String, String>>,
    /// Per-attempt timeout (default 30 s).
    pub timeout: Option<Dur>,
    /// Retry policy.
    pub retry: Option<RetrySpec>,
    /// Concurrency and rate limits (`{"max_concurrency": 10, "rate": "100/min"}`).
    pub limits: Option<EndpointLimits>,
    /// Where deliveries go while the endpoint's circuit is open; `""` removes it.
    pub failover_url: Option<String>,
    /// One ordering key's events one at a time, in order (default `false`).
    pub ordered: Option<bool>,
    /// How deliveries are signed (default Standard Webhooks).
    pub signing: Option<SigningScheme>,
    /// What the body is (default the envelope).
    pub body: Option<BodyShape>,
    /// A signing secret of your own (`whsec_` + base64 of 24 to 64 bytes); one is generated
    /// otherwise. Only at creation: use secret rotation afterwards.
    pub secret: Option<Secret>,
    /// Authentication towards the endpoint.
    pub auth: Option<EndpointAuth>,
}

/// Headers an endpoint may not set: the transport's, and the ones BuildAmp signs and names.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-signature",
    "x-event-type",
    "x-event-id",
    "authorization",
];

/// Limits that keep one endpoint from holding the executor.
pub(crate) struct Bounds {
    /// The longest per-attempt timeout (the lease must outlast it).
    pub(crate) max_timeout: Duration,
}

impl EndpointSpec {
    /// Applies this spec over `base` (an existing endpoint's settings, or the defaults for a new
    /// one), checking every field; the secrets are not touched here.
    pub(crate) fn apply(
        self,
        base: &mut Endpoint,
        creating: bool,
        bounds: &Bounds,
        known_event: &dyn Fn(&str) -> Option<bool>,
    ) -> Result<(), InvalidEndpoint> {
        if let Some(url) = self.url {
            base.url = url;
        }
        if let Some(d) = self.description {
            base.description = d;
        }
        match (self.application, creating) {
            (Some(a), true) => base.application = a,
            (Some(_), false) => {
                return Err(invalid(
                    "application",
                    "an endpoint's application is set when it is created: create a new endpoint instead",
                ));
            }
            (None, _) => {}
        }
        if let Some(e) = self.environment {
            base.environment = e;
        }
        if let Some(s) = self.status {
            base.status = s;
            if s == EndpointStatus::Enabled {
                base.config.disabled_reason = None;
            }
        }
        if let Some(s) = self.subscriptions {
            base.config.subscriptions = s;
        }
        if let Some(f) = self.filter {
            base.config.filter = f;
        }
        if let Some(h) = self.headers {
            base.config.headers = h;
        }
        if let Some(t) = self.timeout {
            base.config.timeout = t;
        }
        if let Some(r) = self.retry {
            base.config.retry = r;
        }
        if let Some(l) = self.limits {
            base.config.limits = l;
        }
        if let Some(o) = self.ordered {
            base.config.ordered = o;
        }
        if let Some(f) = self.failover_url {
            base.config.failover_url = Some(f).filter(|f| !f.is_empty());
        }
        if let Some(s) = self.signing {
            base.config.signing = s;
        }
        if let Some(b) = self.body {
            base.config.body = b;
        }
        if let Some(a) = self.auth {
            base.auth = a;
        }
        if self.secret.is_some() && !creating {
            return Err(invalid(
                "secret",
                "a signing secret is chosen at creation; rotate it with `POST /endpoints/{id}/secret/rotate`",
            ));
        }
        base.config.auth = base.auth.view();
        check(base, bounds, known_event)
    }
}

/// The rules a delivery URL follows (`path` names the field).
fn check_url(path: &str, url: &str, environment: Environment) -> Result<(), InvalidEndpoint> {
    let parsed = url::Url::parse(url)
        .map_err(|err| invalid(path, format!("not an absolute URL ({err})")))?;
    match (parsed.scheme(), environment) {
        ("https", _) => {}
        ("http", Environment::Production) => {
            return Err(invalid(
                path,
                "production endpoints must use https://: use an https URL, or set `environment` to `development` or `staging`",
            ));
        }
        ("http", _) => {}
        (other, _) => {
            return Err(invalid(
                path,
                format!("scheme `{other}` is not delivered: use https://"),
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(path, "the URL has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            path,
            "credentials in the URL would be stored in clear: use `auth` instead",
        ));
    }
    Ok(())
}

/// Every rule an endpoint's settings must follow.
fn check(
    e: &Endpoint,
    bounds: &Bounds,
    known_event: &dyn Fn(&str) -> Option<bool>,
) -> Result<(), InvalidEndpoint> {
    check_url("url", &e.url, e.environment)?;
    if let Some(failover) = &e.config.failover_url {
        check_url("failover_url", failover, e.environment)?;
    }
    if e.config.subscriptions.is_empty() {
        return Err(invalid(
            "subscriptions",
            "subscribe to at least one event type, like `[\"lead.created\"]` or `[\"lead.*\"]`",
        ));
    }
    for (i, s) in e.config.subscriptions.iter().enumerate() {
        if !valid_pattern(s) {
            return Err(invalid(
                format!("subscriptions[{i}]"),
                format!(
                    "`{s}` is not an event type or pattern: dotted lowercase segments, `*` for one segment (`lead.*`)"
                ),
            ));
        }
        if !s.contains('*') && known_event(s) == Some(false) {
            return Err(invalid(
                format!("subscriptions[{i}]"),
                format!("no event type is named `{s}`: `GET /buildamp/event-types` lists them"),
            ));
        }
    }
    e.config
        .filter
        .compile()
        .map_err(|f| invalid(f.path, f.message))?;
    for name in e.config.headers.keys() {
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(invalid(
                format!("headers.{name}"),
                "not a valid header name",
            ));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(invalid(
                format!("headers.{name}"),
                "BuildAmp sets this header itself: use `auth` for credentials",
            ));
        }
    }
    for (name, value) in &e.config.headers {
        if axum::http::HeaderValue::from_str(value).is_err() {
            return Err(invalid(
                format!("headers.{name}"),
                "the value holds characters HTTP does not allow",
            ));
        }
    }
    let timeout = e.config.timeout.0;
    if timeout.is_zero() || timeout > bounds.max_timeout {
        return Err(invalid(
            "timeout",
            format!(
                "a timeout is between 1ms and {}s (the executor's lease must outlast it)",
                bounds.max_timeout.as_secs()
            ),
        ));
    }
    let r = &e.config.retry;
    if !(1..=50).contains(&r.max_attempts) {
        return Err(invalid("retry.max_attempts", "between 1 and 50 attempts"));
    }
    if !(1..=10).contains(&r.multiplier) {
        return Err(invalid("retry.multiplier", "between 1 and 10"));
    }
    let day = Duration::from_secs(86_400);
    if r.initial.0 > day || r.max.0 > day || r.initial > r.max {
        return Err(invalid(
            "retry",
            "`initial` must not exceed `max`, and neither a day",
        ));
    }
    if let Some(s) = &r.schedule {
        if s.is_empty() || s.len() > 50 {
            return Err(invalid(
                "retry.schedule",
                "between 1 and 50 delays, like [\"4s\", \"8s\", \"10s\"]",
            ));
        }
        if let Some(i) = s.iter().position(|d| d.0 > day) {
            return Err(invalid(format!("retry.schedule[{i}]"), "at most a day"));
        }
    }
    let limits = &e.config.limits;
    if limits.max_concurrency == Some(0) {
        return Err(invalid(
            "limits.max_concurrency",
            "at least 1 (leave it out for no limit; pause the endpoint to stop deliveries)",
        ));
    }
    if let Some(Rate(rate)) = limits.rate
        && (rate.count == 0 || rate.per < Duration::from_secs(1) || rate.per > day)
    {
        return Err(invalid(
            "limits.rate",
            "at least one delivery per window of 1s to a day, like `100/min`",
        ));
    }
    match &e.auth {
        EndpointAuth::ApiKey { header, key } => {
            if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(invalid("auth.header", "not a valid header name"));
            }
            if key.expose().is_empty() || axum::http::HeaderValue::from_str(key.expose()).is_err() {
                return Err(invalid(
                    "auth.key",
                    "an API key is non-empty printable text",
                ));
            }
        }
        EndpointAuth::Bearer { token }
            if token.expose().is_empty()
                || axum::http::HeaderValue::from_str(token.expose()).is_err() =>
        {
            return Err(invalid("auth.token", "a token is non-empty printable text"));
        }
        EndpointAuth::Basic { username, .. } if username.contains(':') || username.is_empty() => {
            return Err(invalid(
                "auth.username",
                "a non-empty user name without `:`",
            ));
        }
        EndpointAuth::Jwt { secret, ttl, .. } => {
            if secret.expose().len() < 32 {
                return Err(invalid("auth.secret", "an HS256 key of at least 32 bytes"));
            }
            if ttl.0 < Duration::from_secs(1) || ttl.0 > Duration::from_secs(3600) {
                return Err(invalid("auth.ttl", "between 1s and 1h"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks a signing secret given by the caller: `whsec_` + base64 of 24 to 64 bytes.
pub(crate) fn check_secret(secret: &Secret) -> Result<(), InvalidEndpoint> {
    use base64::Engine as _;
    let ok = secret
        .expose()
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .is_some_and(|k| (24..=64).contains(&k.len()));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "secret",
            "a signing secret is `whsec_` followed by base64 of 24 to 64 random bytes; leave it out to get a generated one",
        ))
    }
}

/// A new endpoint's starting point, before its spec is applied.
pub(crate) fn blank(id: EndpointId, now: DateTime<Utc>) -> Endpoint {
    Endpoint {
        id,
        application: String::new(),
        url: String::new(),
        description: String::new(),
        status: EndpointStatus::Enabled,
        environment: Environment::Production,
        config: EndpointConfig {
            subscriptions: Vec::new(),
            filter: Filter::default(),
            headers: BTreeMap::new(),
            timeout: Dur(DEFAULT_TIMEOUT),
            retry: RetrySpec::default(),
            limits: EndpointLimits::default(),
            signing: SigningScheme::default(),
            auth: EndpointAuth::None.view(),
            ordered: false,
            body: BodyShape::Envelope,
            failover_url: None,
            disabled_reason: None,
        },
        auth: EndpointAuth::None,
        secrets: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(spec: serde_json::Value) -> Result<Endpoint, InvalidEndpoint> {
        let spec: EndpointSpec = serde_json::from_value(spec).unwrap();
        let mut e = blank(EndpointId::new(), Utc::now());
        let known = |name: &str| Some(["lead.created", "lead.updated"].contains(&name));
        spec.apply(
            &mut e,
            true,
            &Bounds {
                max_timeout: Duration::from_secs(120),
            },
            &known,
        )?;
        Ok(e)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let e = build(
            serde_json::json!({"url": "https://example.com/hook", "subscriptions": ["lead.*"]}),
        )
        .unwrap();
        assert_eq!(e.status, EndpointStatus::Enabled);
        assert_eq!(e.environment, Environment::Production);
        assert_eq!(e.config.signing, SigningScheme::StandardWebhooks);
        assert_eq!(e.config.timeout, Dur(Duration::from_secs(30)));
        assert_eq!(e.config.retry.max_attempts, 5);
        assert_eq!(
            e.retry_policy(),
            RetryPolicy::Exponential {
                initial: Duration::from_secs(1),
                multiplier: 2,
                max: Duration::from_secs(300)
            }
        );
        let schedule = build(serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.created"], "retry": {"max_attempts": 4, "schedule": ["4s", "8s", "10s"]}})).unwrap();
        assert_eq!(
            schedule.retry_policy().delay_after(3),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            schedule.retry_policy().delay_after(9),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn bad_fields_are_named() {
        for (spec, path, says) in [
            (
                serde_json::json!({"url": "http://example.com", "subscriptions": ["lead.created"]}),
                "url",
                "must use https",
            ),
            (
                serde_json::json!({"url": "ftp://example.com", "subscriptions": ["lead.created"], "environment": "development"}),
                "url",
                "scheme `ftp`",
            ),
            (
                serde_json::json!({"url": "https://u:p@example.com", "subscriptions": ["lead.created"]}),
                "url",
                "credentials",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": []}),
                "subscriptions",
                "at least one",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.creatd"]}),
                "subscriptions[0]",
                "no event type",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["Lead"]}),
                "subscriptions[0]",
                "not an event type",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "headers": {"Authorization": "x"}}),
                "headers.Authorization",
                "sets this header",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "timeout": "10m"}),
                "timeout",
                "between",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "retry": {"max_attempts": 0}}),
                "retry.max_attempts",
                "between 1 and 50",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "failover_url": "http://backup.example.com"}),
                "failover_url",
                "must use https",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "limits": {"max_concurrency": 0}}),
                "limits.max_concurrency",
                "at least 1",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "limits": {"rate": "0/min"}}),
                "limits.rate",
                "at least one delivery",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "auth": {"type": "jwt", "secret": "short"}}),
                "auth.secret",
                "32 bytes",
            ),
            (
                serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "filter": {"rules": [{"field_path": "data.a", "operator": "in", "value": 3}]}}),
                "filter.rules[0].value",
                "a list",
            ),
        ] {
            let e = build(spec.clone()).unwrap_err();
            assert_eq!(e.path, path, "{spec}");
            assert!(e.message.contains(says), "{spec}: {}", e.message);
        }
        assert!(build(serde_json::json!({"url": "http://127.0.0.1:9/x", "subscriptions": ["*"], "environment": "development"})).is_ok());
    }

    #[test]
    fn views_and_debug_hold_no_secret() {
        let e = build(serde_json::json!({"url": "https://example.com", "subscriptions": ["lead.*"], "auth": {"type": "basic", "username": "bob", "password": "hunter2-secret"}})).unwrap();
        let shown = format!("{} {:?}", e.view(Utc::now()), e);
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("bob"));
    }

    #[test]
    fn durations_read_as_written() {
        for (text, d) in [
            ("500ms", Duration::from_millis(500)),
            ("4s", Duration::from_secs(4)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
        ] {
            assert_eq!(parse_duration(text), Some(d));
        }
        assert_eq!(parse_duration("4"), None);
        assert_eq!(parse_duration("4 days"), None);
        assert_eq!(
            serde_json::to_value(Dur(Duration::from_millis(1500))).unwrap(),
            "1500ms"
        );
    }

    #[test]
    fn rates_read_and_print_as_written() {
        for (text, count, secs, printed) in [
            ("100/min", 100, 60, "100/min"),
            ("10/s", 10, 1, "10/s"),
            ("1000/h", 1000, 3600, "1000/h"),
            ("5/10s", 5, 10, "5/10s"),
            ("20 / 1m", 20, 60, "20/min"),
        ] {
            let rate: Rate = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert_eq!(
                rate.0,
                RateLimit {
                    count,
                    per: Duration::from_secs(secs)
                }
            );
            assert_eq!(serde_json::to_value(rate).unwrap(), printed);
        }
        let err = serde_json::from_value::<Rate>(serde_json::json!("100 per minute")).unwrap_err();
        assert!(err.to_string().contains("write `100/min`"), "{err}");
    }
}
