//! A webhook's target: where and how its payload is delivered, as `#[derive(BuildAmpWebhook)]`
//! wrote it into a `static`.
//!
//! These types are built by the derive from a checked `#[target(...)]`; their values never need
//! re-validating. Secrets appear here only as variable names: values are read from the
//! environment when a request is built, and never stored.

use std::time::Duration;

use crate::env::Env;
pub use crate::queue::RetryPolicy;
use crate::queue::RetryRules;

/// Where and how a webhook's payload is delivered.
#[derive(Debug)]
pub struct Target {
    /// The URL, or how to find it at run time.
    pub url: Choice<UrlSource>,
    /// The HTTP method.
    pub method: Method,
    /// Credentials, resolved from the environment at send time and never stored.
    pub auth: Choice<Auth>,
    /// Extra headers, in declaration order.
    pub headers: &'static [Header],
    /// How the payload becomes the body (GET and DELETE send a query string instead).
    pub encoding: BodyEncoding,
    /// How a form body or a query string writes lists.
    pub form_lists: FormLists,
    /// Wire names of the `Vec<u8>` fields, sent as file parts of a multipart body.
    pub file_fields: &'static [&'static str],
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// When to try again after a retryable failure.
    pub retry: RetryPolicy,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Status codes retried in addition to 408, 429 and 5xx.
    pub retry_on: &'static [u16],
    /// At most this many deliveries in flight to this target at once.
    pub max_concurrency: Option<u32>,
    /// At most this many deliveries started per window.
    pub rate_limit: Option<RateLimit>,
    /// A header carrying the execution id, so the receiver can deduplicate retries.
    pub idempotency_header: Option<&'static str>,
    /// Where the provider's id for a delivered message is in its response: recorded in
    /// `message_external_ids`, so the provider's status events map back to the execution.
    pub external_id: Option<ExternalId>,
    /// Never exposed to the frontend: no Elm trigger, refused by the HTTP API.
    pub server_only: bool,
    /// The type a 2xx body must parse as (`response = Type`), if the target names one.
    pub response: Option<ResponseType>,
    /// The type the provider's refusals are read as (`error = Type`), if the target names one.
    pub error: Option<ResponseType>,
}

/// A type a target's answer is read as (its `response` or its `error`), by name and by a reader
/// the derive instantiated.
pub struct ResponseType {
    /// The type as written in `#[target(response = ...)]` or `#[target(error = ...)]`.
    pub name: &'static str,
    /// Reads a body as the type and writes it back as JSON the way serde serializes it (the
    /// form the generated Elm decoders read), saying why the body is not the type.
    pub read: fn(&[u8]) -> Result<serde_json::Value, String>,
}

impl std::fmt::Debug for ResponseType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// `body` read as a `T`, then serialized again: the reader behind [`ResponseType::read`].
///
/// # Errors
/// As [`parse_as`], or the `T` cannot be written as JSON (serde's message).
pub fn read_as<T: serde::de::DeserializeOwned + serde::Serialize>(
    body: &[u8],
) -> Result<serde_json::Value, String> {
    serde_json::to_value(parse_as::<T>(body)?).map_err(|e| e.to_string())
}

/// `body` read as JSON of type `T`; an empty body reads as JSON `null` (what a 204 means).
///
/// # Errors
/// serde's message, after the path of the field where the body stops being a `T`
/// (`at data.amount: invalid type: ...`).
pub fn parse_as<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"null".as_slice()
    } else {
        body
    };
    let mut json = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut json) {
        Ok(value) => json.end().map(|()| value).map_err(|e| e.to_string()),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Err(if path == "." {
                inner.to_string()
            } else {
                format!("at {path}: {inner}")
            })
        }
    }
}

/// Where a provider's id is in a successful response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalId {
    /// A JSON pointer (RFC 6901) into the response body, like `/id` or `/sid`.
    Json(&'static str),
    /// A response header.
    Header(&'static str),
}

impl Target {
    /// Every environment variable this target reads, given the `if_env!` choices `env` makes now,
    /// sorted, each once. The runtime checks them at start-up, so a missing one is reported before
    /// any delivery.
    pub fn env_vars(&self, env: &(impl Env + ?Sized)) -> Vec<&'static str> {
        let mut vars = Vec::new();
        match self.url.select(env) {
            UrlSource::Template(t) => vars.extend(t.vars()),
            UrlSource::Env(var) => vars.push(*var),
        }
        if let Some(t) = self.auth.select(env).template() {
            vars.extend(t.vars());
        }
        for header in self.headers {
            vars.extend(header.value.vars());
        }
        vars.sort_unstable();
        vars.dedup();
        vars
    }

    /// The `if_env!` choices `env` makes now, as an object of variable name to truthiness: stored
    /// with an execution when it is triggered, so that the request is built from the branch its
    /// URL came from, whatever the executor's own environment says.
    pub fn branches(&self, env: &(impl Env + ?Sized)) -> serde_json::Value {
        let mut branches = serde_json::Map::new();
        for var in [self.url.deciding_var(), self.auth.deciding_var()]
            .into_iter()
            .flatten()
        {
            branches.insert(var.to_owned(), env.is_truthy(var).into());
        }
        branches.into()
    }

    /// The variables among [`Target::env_vars`] that `env` does not set.
    pub fn missing_env_vars(&self, env: &(impl Env + ?Sized)) -> Vec<&'static str> {
        let mut missing = self.env_vars(env);
        missing.retain(|v| env.var(v).is_none());
        missing
    }

    /// How this target's failures are retried.
    pub fn retry_rules(&self) -> RetryRules<'_> {
        RetryRules {
            policy: &self.retry,
            retry_on: self.retry_on,
        }
    }
}

/// A value that is fixed, or chosen by whether an environment variable is truthy
/// (`if_env!("DEVELOPMENT", when_set, otherwise)`).
#[derive(Debug)]
pub enum Choice<T: 'static> {
    /// Always this value.
    Fixed(T),
    /// Chosen at run time.
    IfEnv {
        /// The deciding variable; see [`Env::is_truthy`].
        var: &'static str,
        /// The value when it is truthy.
        when_set: T,
        /// The value otherwise.
        otherwise: T,
    },
}

impl<T> Choice<T> {
    /// The variable an `if_env!` choice reads, if this is one.
    pub fn deciding_var(&self) -> Option<&'static str> {
        match self {
            Choice::Fixed(_) => None,
            Choice::IfEnv { var, .. } => Some(var),
        }
    }

    /// The value chosen when the execution was triggered, as [`Target::branches`] recorded it;
    /// for a variable `branches` does not name (a row stored before branches were recorded),
    /// the value `env` selects now.
    pub fn select_recorded(&self, branches: &serde_json::Value, env: &(impl Env + ?Sized)) -> &T {
        match self {
            Choice::IfEnv {
                var,
                when_set,
                otherwise,
            } => match branches.get(*var).and_then(serde_json::Value::as_bool) {
                Some(true) => when_set,
                Some(false) => otherwise,
                None => self.select(env),
            },
            Choice::Fixed(v) => v,
        }
    }

    /// The value `env` selects now.
    pub fn select(&self, env: &(impl Env + ?Sized)) -> &T {
        match self {
            Choice::Fixed(v) => v,
            Choice::IfEnv {
                var,
                when_set,
                otherwise,
            } => {
                if env.is_truthy(var) {
                    when_set
                } else {
                    otherwise
                }
            }
        }
    }
}

/// Where a URL comes from.
#[derive(Debug)]
pub enum UrlSource {
    /// A template such as `https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages`.
    Template(Template),
    /// The whole URL, read from this variable at run time (`env!("VAR")`).
    Env(&'static str),
}

impl UrlSource {
    /// The URL with every placeholder filled from `env`.
    ///
    /// # Errors
    /// [`MissingEnvVar`] naming the first variable `env` does not set.
    pub fn resolve(&self, env: &(impl Env + ?Sized)) -> Result<String, MissingEnvVar> {
        match self {
            UrlSource::Template(t) => t.resolve(env),
            UrlSource::Env(var) => env.var(var).ok_or(MissingEnvVar { name: var }),
        }
    }
}

/// A string with `{VAR}` placeholders.
#[derive(Debug)]
pub struct Template {
    /// The text as written in the model.
    pub source: &'static str,
    /// The text split into literal runs and placeholders.
    pub parts: &'static [Part],
}

impl Template {
    /// The placeholder names, in order.
    pub fn vars(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(*v),
            Part::Literal(_) => None,
        })
    }

    /// Whether the template holds no placeholder (its value is the source itself, safe to store).
    pub fn is_literal(&self) -> bool {
        self.vars().next().is_none()
    }

    /// The text with every placeholder filled from `env`.
    ///
    /// # Errors
    /// [`MissingEnvVar`] naming the first variable `env` does not set.
    pub fn resolve(&self, env: &(impl Env + ?Sized)) -> Result<String, MissingEnvVar> {
        let mut out = String::with_capacity(self.source.len());
        for part in self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(name) => out.push_str(&env.var(name).ok_or(MissingEnvVar { name })?),
            }
        }
        Ok(out)
    }
}

/// A piece of a [`Template`].
#[derive(Debug)]
pub enum Part {
    /// Text sent as written.
    Literal(&'static str),
    /// The value of an environment variable.
    Var(&'static str),
}

/// An environment variable a target needs is not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{name}` is not set")]
pub struct MissingEnvVar {
    /// The variable's name (never its value).
    pub name: &'static str,
}

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`, payload as a query string.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`, payload as a query string.
    Delete,
}

impl Method {
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

/// How a target authenticates.
#[derive(Debug)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <value>`.
    Bearer(Template),
    /// `Authorization: Basic base64(<value>)`, the value being `user:password`.
    Basic(Template),
    /// A header of its own, such as `X-Postmark-Server-Token`.
    Header {
        /// The header name.
        name: &'static str,
        /// The header value.
        value: Template,
    },
}

impl Auth {
    /// The template holding the credential, if any.
    pub fn template(&self) -> Option<&Template> {
        match self {
            Auth::None => None,
            Auth::Bearer(t) | Auth::Basic(t) | Auth::Header { value: t, .. } => Some(t),
        }
    }
}

/// A request header. One whose value holds a placeholder is resolved at send time and never stored.
#[derive(Debug)]
pub struct Header {
    /// The header name.
    pub name: &'static str,
    /// The value.
    pub value: Template,
}

/// How the payload becomes the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`, nested values in Stripe's bracket convention.
    Form,
    /// `multipart/form-data`; `Vec<u8>` fields become file parts.
    Multipart,
}

/// How a form body or a query string writes a list (`form_lists` in `#[target]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FormLists {
    /// Indexed brackets, `MediaUrl[0]=a&MediaUrl[1]=b` (Stripe's convention, the default).
    #[default]
    Brackets,
    /// The key repeated, `MediaUrl=a&MediaUrl=b` (Twilio's, and most form parsers').
    Repeat,
}

/// At most `count` deliveries started per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Deliveries per window.
    pub count: u32,
    /// The window.
    pub per: Duration,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    static MAILGUN: Template = Template {
        source: "https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages",
        parts: &[
            Part::Literal("https://api.mailgun.net/v3/"),
            Part::Var("MAILGUN_DOMAIN"),
            Part::Literal("/messages"),
        ],
    };

    #[test]
    fn resolves_placeholders_from_the_environment() {
        let env = [("MAILGUN_DOMAIN", "mg.example.com")];
        assert_eq!(
            MAILGUN.resolve(&env).unwrap(),
            "https://api.mailgun.net/v3/mg.example.com/messages"
        );
        assert_eq!(
            MAILGUN.resolve(&[] as &[(&str, &str)]),
            Err(MissingEnvVar {
                name: "MAILGUN_DOMAIN"
            })
        );
    }

    #[test]
    fn if_env_selects_by_truthiness() {
        let choice = Choice::IfEnv {
            var: "DEVELOPMENT",
            when_set: "dev",
            otherwise: "prod",
        };
        for (value, expected) in [
            ("1", "dev"),
            ("true", "dev"),
            ("yes", "dev"),
            ("0", "prod"),
            ("false", "prod"),
            ("", "prod"),
            ("OFF", "prod"),
        ] {
            assert_eq!(
                *choice.select(&[("DEVELOPMENT", value)]),
                expected,
                "DEVELOPMENT={value:?}"
            );
        }
        assert_eq!(*choice.select(&[] as &[(&str, &str)]), "prod");
    }

    /// A target with every option at its simplest, for tests to adjust.
    pub(crate) fn plain() -> Target {
        Target {
            url: Choice::Fixed(UrlSource::Env("URL")),
            method: Method::Post,
            auth: Choice::Fixed(Auth::None),
            headers: &[],
            encoding: BodyEncoding::Json,
            form_lists: FormLists::Brackets,
            file_fields: &[],
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::None,
            max_attempts: 1,
            retry_on: &[],
            max_concurrency: None,
            rate_limit: None,
            idempotency_header: None,
            external_id: None,
            server_only: false,
            response: None,
            error: None,
        }
    }

    #[test]
    fn retries_408_429_5xx_and_the_configured_codes_only() {
        let target = Target {
            retry_on: &[409],
            ..plain()
        };
        for status in [408, 409, 429, 500, 502, 503, 599] {
            assert!(
                target.retry_rules().is_retryable(status),
                "{status} should be retried"
            );
        }
        for status in [200, 301, 400, 401, 403, 404, 410, 422] {
            assert!(
                !target.retry_rules().is_retryable(status),
                "{status} is permanent"
            );
        }
    }

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::Exponential {
            initial: Duration::from_secs(1),
            multiplier: 2,
            max: Duration::from_secs(300),
        };
        let delays: Vec<u64> = (1..=10)
            .map(|n| policy.delay_after(n).unwrap().as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(policy.delay_after(1000), Some(Duration::from_secs(300)));
    }

    #[test]
    fn schedule_repeats_its_last_entry() {
        static DELAYS: [Duration; 3] = [
            Duration::from_secs(4),
            Duration::from_secs(8),
            Duration::from_secs(10),
        ];
        let policy = RetryPolicy::Schedule(std::borrow::Cow::Borrowed(&DELAYS));
        let delays: Vec<u64> = (1..=5)
            .map(|n| policy.delay_after(n).unwrap().as_secs())
            .collect();
        assert_eq!(delays, [4, 8, 10, 10, 10]);
        assert_eq!(RetryPolicy::None.delay_after(1), None);
        assert_eq!(
            RetryPolicy::Fixed(Duration::from_secs(30)).delay_after(7),
            Some(Duration::from_secs(30))
        );
    }
}
