//! The intermediate representation of a webhook model: normalised values, never raw strings.
//!
//! Both emitters (the Rust expansion behind `#[derive(BuildAmpWebhook)]` and the Elm module) read
//! this IR, and nothing but [`crate::parse`] builds it, so the two can never disagree about what a
//! `#[target(...)]` means. Emitters never re-validate: every value here has passed its checks.

use std::time::Duration;

/// One `#[derive(BuildAmpWebhook)]` struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// The webhook's name: the struct's identifier (`SendGridEmail`), unique per application.
    pub name: String,
    /// Where and how the payload is delivered.
    pub target: Target,
    /// The payload's fields, in declaration order.
    pub fields: Vec<Field>,
}

impl Webhook {
    /// The wire names of the file fields, sent as file parts of a multipart body.
    pub fn file_fields(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.is_file)
            .map(|f| f.wire_name.as_str())
            .collect()
    }
}

/// A payload field, as far as the target configuration needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The Rust field name.
    pub name: String,
    /// The name on the wire, after serde's `rename` and `rename_all`.
    pub wire_name: String,
    /// Whether the field holds file bytes (`Vec<u8>` or `Option<Vec<u8>>`), sent as a file part.
    pub is_file: bool,
}

/// The checked `#[target(...)]` of a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Where to send the request.
    pub url: Choice<UrlSource>,
    /// The HTTP method.
    pub method: Method,
    /// Credentials, resolved from the environment at send time.
    pub auth: Choice<Auth>,
    /// Extra request headers, in declaration order. Values may hold `{VAR}` placeholders.
    pub headers: Vec<Header>,
    /// How the payload becomes the request body (GET and DELETE send it as a query string).
    pub encoding: BodyEncoding,
    /// How a form body or a query string writes lists.
    pub form_lists: FormLists,
    /// The type a 2xx body must parse as (`response = Type`), with its tokens' spans, so that
    /// rustc reports an unknown or unparsable type at the attribute.
    pub response: Option<syn::Path>,
    /// The type a refusal's body is (`error = Type`), such as Stripe's `{"error": {...}}`.
    pub error: Option<syn::Path>,
    /// Per-attempt timeout (default 30 s).
    pub timeout: Duration,
    /// When to try again after a retryable failure.
    pub retry: RetryPolicy,
    /// Attempts in all, the first included; `None` leaves it to the runtime's default
    /// (`buildamp_runtime::queue::DEFAULT_MAX_ATTEMPTS`, defined only there).
    pub max_attempts: Option<u32>,
    /// Status codes retried in addition to 408, 429 and 5xx.
    pub retry_on: Vec<u16>,
    /// At most this many deliveries in flight to this target at once.
    pub max_concurrency: Option<u32>,
    /// At most this many deliveries started per window.
    pub rate_limit: Option<RateLimit>,
    /// A header that carries the execution id, so the receiver can deduplicate retries.
    pub idempotency_header: Option<String>,
    /// Where the provider's id for a delivered message is in its response, so inbound status
    /// events can be mapped back to the execution.
    pub external_id: Option<ExternalId>,
    /// Whether the frontend may trigger this webhook.
    pub exposure: Exposure,
}

/// Where a provider's id is in a successful response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternalId {
    /// A JSON pointer (RFC 6901) into the response body, like `/id`.
    Json(String),
    /// A response header.
    Header(String),
}

/// A value that is fixed, or chosen at run time by whether an environment variable is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice<T> {
    /// Always this value.
    Fixed(T),
    /// `if_env!("VAR", when_set, otherwise)`.
    IfEnv {
        /// The variable whose truthiness decides (set, and not empty, `0`, `false`, `no`, `off`).
        var: String,
        /// The value when the variable is truthy.
        when_set: T,
        /// The value otherwise.
        otherwise: T,
    },
}

impl<T> Choice<T> {
    /// Every value this choice can take.
    pub fn values(&self) -> Vec<&T> {
        match self {
            Choice::Fixed(v) => vec![v],
            Choice::IfEnv {
                when_set,
                otherwise,
                ..
            } => vec![when_set, otherwise],
        }
    }
}

/// Where a target's URL comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlSource {
    /// A URL template, such as `https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages`.
    Template(Template),
    /// `env!("VAR")`: the whole URL, read from the environment at run time.
    Env(String),
}

/// A string with `{VAR}` placeholders, filled from the environment at send time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The text as written.
    pub source: String,
    /// The text split into literal runs and placeholders.
    pub parts: Vec<Part>,
}

impl Template {
    /// The placeholder names, in order of appearance.
    pub fn vars(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Var(v) => Some(v.as_str()),
                Part::Literal(_) => None,
            })
            .collect()
    }
}

/// A piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text sent as written.
    Literal(String),
    /// `{NAME}`: the value of an environment variable.
    Var(String),
}

/// An HTTP method a target may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`: the payload travels as a query string.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`: the payload travels as a query string.
    Delete,
}

impl Method {
    /// Every method, as written in `method = "..."`.
    pub const NAMES: [&'static str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether the payload travels as a query string rather than a body.
    pub fn sends_query(self) -> bool {
        matches!(self, Method::Get | Method::Delete)
    }
}

/// How a target authenticates. Secrets are never written in the model, only variable names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (also what `""` means in an `if_env!` branch).
    None,
    /// `Authorization: Bearer <template>`.
    Bearer(Template),
    /// `Authorization: Basic base64(<template>)`; the template is `user:password`.
    Basic(Template),
    /// A header of its own, such as `X-Postmark-Server-Token: {POSTMARK_TOKEN}`.
    Header {
        /// The header name.
        name: String,
        /// The header value.
        value: Template,
    },
}

/// A request header from `headers = { "Name" = "value" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The header name as written.
    pub name: String,
    /// The value; one with placeholders is resolved at send time and never stored.
    pub value: Template,
}

/// How the payload is encoded in the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    /// `application/json` (the default).
    Json,
    /// `application/x-www-form-urlencoded`, nested values in Stripe's bracket convention.
    Form,
    /// `multipart/form-data`; `Vec<u8>` fields become file parts.
    Multipart,
}

/// How a form body or a query string writes a list: `form_lists = "brackets"` (the default) or
/// `"repeat"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FormLists {
    /// Indexed brackets, `MediaUrl[0]=a&MediaUrl[1]=b` (Stripe's convention).
    #[default]
    Brackets,
    /// The key repeated, `MediaUrl=a&MediaUrl=b` (Twilio's, and most form parsers').
    Repeat,
}

impl FormLists {
    /// The accepted `form_lists` values, each with its style.
    pub const NAMES: [(&'static str, FormLists); 2] = [
        ("brackets", FormLists::Brackets),
        ("repeat", FormLists::Repeat),
    ];
}

impl BodyEncoding {
    /// The accepted `content_type` values.
    pub const MEDIA_TYPES: [&'static str; 3] = [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ];

    /// The media type this encoding sends.
    pub fn media_type(self) -> &'static str {
        match self {
            BodyEncoding::Json => Self::MEDIA_TYPES[0],
            BodyEncoding::Form => Self::MEDIA_TYPES[1],
            BodyEncoding::Multipart => Self::MEDIA_TYPES[2],
        }
    }
}

/// When a failed delivery is tried again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryPolicy {
    /// `min(initial × multiplier^(n-1), max)` before attempt n+1, with jitter.
    Exponential {
        /// The delay after the first failure.
        initial: Duration,
        /// The growth factor per attempt.
        multiplier: u32,
        /// The cap.
        max: Duration,
    },
    /// The same delay every time.
    Fixed(Duration),
    /// An explicit schedule; its last entry repeats.
    Schedule(Vec<Duration>),
    /// A single attempt.
    None,
}

impl RetryPolicy {
    /// The default policy: 1 s, 2 s, 4 s, 8 s, 16 s, … capped at 300 s.
    pub fn exponential() -> Self {
        RetryPolicy::Exponential {
            initial: Duration::from_secs(1),
            multiplier: 2,
            max: Duration::from_secs(300),
        }
    }

    /// The delay of `retry_policy = "fixed"`.
    pub const FIXED_DELAY: Duration = Duration::from_secs(30);
}

/// At most `count` deliveries started per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Deliveries per window.
    pub count: u32,
    /// The window.
    pub per: Duration,
}

/// Who may trigger a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// The Elm client gets a trigger function and the HTTP API accepts it (after the app's authorizer).
    Frontend,
    /// Triggered from Rust only: absent from generated Elm and refused by the HTTP API.
    ServerOnly,
}

/// One `#[derive(BuildAmpEvent)]` struct: an event type customers' endpoints subscribe to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventType {
    /// The Rust struct's identifier (`LeadCreated`).
    pub rust: String,
    /// The event's name: dotted lowercase segments (`lead.created`), unique across the program.
    pub name: String,
    /// The version of the event's schema (`"1"`, `"1.2"`), sent in every envelope's metadata.
    pub version: String,
    /// What the event means, for the catalog and the JSON Schema: the `description` key, else the
    /// struct's doc comment.
    pub description: String,
}
