//! Gives meaning to the entries of `#[target(...)]`: one function a key, then (in [`check`], a
//! pass of its own) the rules that span several keys, then the IR. Every problem is reported into
//! the [`Ctxt`], at the narrowest token.

use std::collections::BTreeMap;
use std::time::Duration;

use proc_macro2::Span;
use syn::{Attribute, LitStr, Meta};

use crate::attr::{Entry, Value, parse_entries};
use crate::check;
use crate::ctxt::Ctxt;
use crate::duration::{parse_duration, parse_rate};
use crate::ir::{
    Auth, BodyEncoding, Choice, Exposure, ExternalId, Field, FormLists, Header, Method,
    RetryPolicy, Target, UrlSource,
};
use crate::suggest::did_you_mean;
use crate::template::{is_env_name, is_header_name, parse_auth, parse_template, parse_url};

/// Every key `#[target(...)]` accepts.
pub const KEYS: [&str; 19] = [
    "url",
    "method",
    "auth",
    "headers",
    "content_type",
    "form_lists",
    "timeout",
    "retry_policy",
    "max_attempts",
    "retry_on",
    "backoff",
    "max_concurrency",
    "rate_limit",
    "file_upload",
    "server_only",
    "idempotency_header",
    "external_id",
    "response",
    "error",
];

const RETRY_POLICIES: [&str; 3] = ["exponential", "fixed", "none"];

/// Headers the HTTP client owns; setting them by hand breaks the request.
const CLIENT_HEADERS: [&str; 4] = ["Host", "Content-Length", "Transfer-Encoding", "Connection"];

/// The default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Parses and checks one `#[target(...)]`. `fields` is `None` when the input had no named fields
/// (an error already reported), so field-based rules are skipped rather than misfired.
pub(crate) fn parse_target(
    cx: &Ctxt,
    attr: &Attribute,
    fields: Option<&[Field]>,
) -> Option<Target> {
    let tokens = match &attr.meta {
        Meta::List(list) => list.tokens.clone(),
        other => {
            cx.error_spanned_by(
                other,
                "expected `#[target(url = \"https://...\", method = \"POST\", ...)]`",
            );
            return None;
        }
    };
    let entries = parse_entries(cx, tokens);
    let keyed = keyed(cx, &entries.entries);
    let get = |key: &str| keyed.get(key).copied();

    let url = get("url").and_then(|e| choice(cx, e, url_source));
    if get("url").is_none() && !entries.malformed_keys.iter().any(|k| k == "url") {
        cx.error_spanned_by(
            attr.path(),
            "missing `url` in `#[target]`: add `url = \"https://...\"`",
        );
    }
    let method = match get("method") {
        Some(e) => method(cx, e),
        None => Some(Method::Post),
    };
    let auth = match get("auth") {
        Some(e) => choice(cx, e, auth_value),
        None => Some(Choice::Fixed(Auth::None)),
    };
    let headers = get("headers").map(|e| headers(cx, e)).unwrap_or_default();
    let content_type = get("content_type").and_then(|e| content_type(cx, e));
    let form_lists = get("form_lists").and_then(|e| form_lists(cx, e));
    let timeout = match get("timeout") {
        Some(e) => {
            string(cx, e, "\"30s\"").and_then(|s| spanned(cx, &s, parse_duration(&s.value())))
        }
        None => Some(DEFAULT_TIMEOUT),
    };
    let policy = get("retry_policy").and_then(|e| retry_policy(cx, e));
    let backoff = get("backoff").and_then(|e| backoff(cx, e));
    let max_attempts = get("max_attempts").and_then(|e| {
        positive(
            cx,
            e,
            "max_attempts = 5",
            "would never send: the first attempt counts, so use at least 1",
        )
    });
    let retry_on = get("retry_on").map(|e| retry_on(cx, e)).unwrap_or_default();
    let max_concurrency = get("max_concurrency").and_then(|e| {
        positive(
            cx,
            e,
            "max_concurrency = 10",
            "would never send: allow at least 1 delivery in flight",
        )
    });
    let rate_limit = get("rate_limit")
        .and_then(|e| string(cx, e, "\"100/min\""))
        .and_then(|s| spanned(cx, &s, parse_rate(&s.value())));
    let file_upload = get("file_upload")
        .and_then(|e| boolean(cx, e))
        .unwrap_or(false);
    let server_only = get("server_only")
        .and_then(|e| boolean(cx, e))
        .unwrap_or(false);
    let idempotency_header = get("idempotency_header")
        .and_then(|e| string(cx, e, "\"Idempotency-Key\""))
        .and_then(|s| {
            let name = s.value();
            if is_header_name(&name) {
                Some(name)
            } else {
                cx.error_at(s.span(), format!("`{name}` is not a valid header name"));
                None
            }
        });
    let response = get("response").and_then(|e| type_path(cx, e));
    let error = get("error").and_then(|e| type_path(cx, e));
    let external_id = get("external_id")
        .and_then(|e| string(cx, e, "\"json:/id\""))
        .and_then(|s| spanned(cx, &s, parse_external_id(&s.value())));

    let keys = Keys {
        keyed: &keyed,
        method,
        auth: auth.as_ref(),
        headers: &headers,
        content_type,
        policy: policy.as_ref(),
        max_attempts,
        file_upload,
        idempotency_header: idempotency_header.as_deref(),
        fields,
    };
    // The rules that span several keys: their own pass, over what the keys said.
    check::target(cx, &keys);
    let (encoding, retry, max_attempts) = keys.resolve(backoff);

    if cx.has_errors() {
        return None;
    }
    Some(Target {
        url: url?,
        method: method?,
        auth: auth?,
        headers: headers.into_iter().map(|(h, _)| h).collect(),
        encoding,
        form_lists: form_lists.unwrap_or_default(),
        response,
        error,
        timeout: timeout?,
        retry,
        max_attempts,
        retry_on,
        max_concurrency,
        rate_limit,
        idempotency_header,
        external_id,
        exposure: if server_only {
            Exposure::ServerOnly
        } else {
            Exposure::Frontend
        },
    })
}

/// What the keys of one `#[target]` said, each value already checked on its own, with the
/// entries (and so the spans) they came from: the input of the cross-key [`check`] pass, and of
/// [`Keys::resolve`], which combines them into the IR's values.
pub(crate) struct Keys<'a> {
    /// Every known key's entry.
    pub(crate) keyed: &'a BTreeMap<&'static str, &'a Entry>,
    pub(crate) method: Option<Method>,
    pub(crate) auth: Option<&'a Choice<Auth>>,
    pub(crate) headers: &'a [(Header, Span)],
    pub(crate) content_type: Option<(BodyEncoding, Span)>,
    pub(crate) policy: Option<&'a RetryPolicy>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) file_upload: bool,
    pub(crate) idempotency_header: Option<&'a str>,
    /// The payload's fields; `None` when the input had no named fields (already reported).
    pub(crate) fields: Option<&'a [Field]>,
}

impl Keys<'_> {
    /// The entry of `key`, if it was given.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.keyed.get(key).copied()
    }

    /// How the body is encoded: multipart with `file_upload`, else `content_type`, else JSON.
    pub(crate) fn encoding(&self) -> BodyEncoding {
        match (self.content_type, self.file_upload) {
            (_, true) => BodyEncoding::Multipart,
            (Some((encoding, _)), false) => encoding,
            (None, false) => BodyEncoding::Json,
        }
    }

    /// The IR's combined values: the encoding, the retry policy (`backoff` is an explicit
    /// schedule) and the attempt budget (one with `retry_policy = "none"`). Conflicts between the
    /// keys were reported by the check pass.
    fn resolve(&self, backoff: Option<Vec<Duration>>) -> (BodyEncoding, RetryPolicy, Option<u32>) {
        let retry = match (self.policy, backoff) {
            (_, Some(schedule)) => RetryPolicy::Schedule(schedule),
            (Some(policy), None) => policy.clone(),
            (None, None) => RetryPolicy::exponential(),
        };
        let max_attempts = match (&retry, self.max_attempts) {
            (RetryPolicy::None, _) => Some(1),
            (_, n) => n,
        };
        (self.encoding(), retry, max_attempts)
    }
}

/// Indexes entries by key, reporting unknown and duplicate keys.
fn keyed<'a>(cx: &Ctxt, entries: &'a [Entry]) -> BTreeMap<&'static str, &'a Entry> {
    let mut keyed = BTreeMap::new();
    for entry in entries {
        let key = entry.key.to_string();
        match KEYS.iter().find(|k| **k == key) {
            None => {
                let hint = match did_you_mean(&key, &KEYS) {
                    hint if hint.is_empty() => format!("; expected one of: {}", KEYS.join(", ")),
                    hint => hint,
                };
                cx.error_at(
                    entry.key.span(),
                    format!("unknown key `{key}` in `#[target]`{hint}"),
                );
            }
            Some(known) if keyed.contains_key(known) => {
                cx.error_at(
                    entry.key.span(),
                    format!("duplicate key `{key}`: set it once"),
                );
            }
            Some(known) => {
                keyed.insert(*known, entry);
            }
        }
    }
    keyed
}

/// Reports `result`'s error at `lit`.
fn spanned<T>(cx: &Ctxt, lit: &LitStr, result: Result<T, String>) -> Option<T> {
    result.map_err(|msg| cx.error_at(lit.span(), msg)).ok()
}

fn mismatch(cx: &Ctxt, entry: &Entry, expected: &str) {
    cx.error_spanned_by(
        &entry.value_tokens,
        format!(
            "`{}` takes {expected}; found {}",
            entry.key,
            entry.value.kind()
        ),
    );
}

fn string(cx: &Ctxt, entry: &Entry, example: &str) -> Option<LitStr> {
    match &entry.value {
        Value::Str(s) => Some(s.clone()),
        _ => {
            mismatch(
                cx,
                entry,
                &format!("a string, like `{} = {example}`", entry.key),
            );
            None
        }
    }
}

/// A type named by path (`response = StripePaymentIntentResponse`); rustc itself checks that it
/// exists and deserializes, at these tokens.
fn type_path(cx: &Ctxt, entry: &Entry) -> Option<syn::Path> {
    match &entry.value {
        Value::Path(path) => Some(path.clone()),
        _ => {
            mismatch(
                cx,
                entry,
                &format!(
                    "a type, like `{} = StripePaymentIntentResponse` (not in quotes)",
                    entry.key
                ),
            );
            None
        }
    }
}

fn boolean(cx: &Ctxt, entry: &Entry) -> Option<bool> {
    match &entry.value {
        Value::Bool(b) => Some(b.value),
        _ => {
            mismatch(cx, entry, "`true` or `false`");
            None
        }
    }
}

/// A whole number of at least 1.
fn positive(cx: &Ctxt, entry: &Entry, example: &str, zero: &str) -> Option<u32> {
    let Value::Int(int) = &entry.value else {
        mismatch(cx, entry, &format!("a whole number, like `{example}`"));
        return None;
    };
    match int.base10_parse::<u32>() {
        Ok(0) => {
            cx.error_at(int.span(), format!("`{} = 0` {zero}", entry.key));
            None
        }
        Ok(n) => Some(n),
        Err(e) => {
            cx.error_at(int.span(), e);
            None
        }
    }
}

/// A value's meaning, or the message (and where) to report.
type Meaning<T> = Result<T, (Span, String)>;

/// A value, or `if_env!("VAR", when_set, otherwise)` choosing between two at run time.
fn choice<T>(cx: &Ctxt, entry: &Entry, one: fn(&Entry, &Value) -> Meaning<T>) -> Option<Choice<T>> {
    let report =
        |r: Result<T, (Span, String)>| r.map_err(|(span, msg)| cx.error_at(span, msg)).ok();
    match &entry.value {
        Value::Macro { name, args } if name == "if_env" => {
            let [condition, when_set, otherwise] = args.as_slice() else {
                cx.error_at(name.span(), format!("`if_env!` takes three arguments: `{} = if_env!(\"DEVELOPMENT\", <when set>, <otherwise>)`", entry.key));
                return None;
            };
            let var = match condition {
                Value::Str(s) if is_env_name(&s.value()) => Some(s.value()),
                other => {
                    cx.error_at(other.span(), "the first argument of `if_env!` is an environment variable name, like \"DEVELOPMENT\"");
                    None
                }
            };
            let when_set = report(one(entry, when_set));
            let otherwise = report(one(entry, otherwise));
            Some(Choice::IfEnv {
                var: var?,
                when_set: when_set?,
                otherwise: otherwise?,
            })
        }
        value => report(one(entry, value)).map(Choice::Fixed),
    }
}

fn nested_macro_error(entry: &Entry, name: &syn::Ident) -> (Span, String) {
    let msg = if name == "if_env" {
        "`if_env!` cannot be nested: choose between two plain values".to_owned()
    } else {
        format!(
            "unknown macro `{name}!` in `{}`: use `env!(\"VAR\")` or `if_env!(\"VAR\", <when set>, <otherwise>)`",
            entry.key
        )
    };
    (name.span(), msg)
}

fn url_source(entry: &Entry, value: &Value) -> Meaning<UrlSource> {
    match value {
        Value::Str(s) => parse_url(&s.value())
            .map(UrlSource::Template)
            .map_err(|msg| (s.span(), msg)),
        Value::Macro { name, args } if name == "env" => match args.as_slice() {
            [Value::Str(s)] if is_env_name(&s.value()) => Ok(UrlSource::Env(s.value())),
            [Value::Str(s)] => Err((
                s.span(),
                format!("`{}` is not an environment variable name", s.value()),
            )),
            _ => Err((
                name.span(),
                "`env!` takes one variable name: `url = env!(\"CUSTOM_SERVICE_URL\")`".to_owned(),
            )),
        },
        Value::Macro { name, .. } => Err(nested_macro_error(entry, name)),
        other => Err((
            other.span(),
            format!(
                "`url` takes a string, `env!(\"VAR\")` or `if_env!(...)`; found {}",
                other.kind()
            ),
        )),
    }
}

fn auth_value(entry: &Entry, value: &Value) -> Meaning<Auth> {
    match value {
        Value::Str(s) => parse_auth(&s.value()).map_err(|msg| (s.span(), msg)),
        Value::Macro { name, .. } if name == "env" => Err((
            name.span(),
            "`auth` names its variables inside the scheme: write `auth = \"Bearer {API_KEY}\"`"
                .to_owned(),
        )),
        Value::Macro { name, .. } => Err(nested_macro_error(entry, name)),
        other => Err((
            other.span(),
            format!(
                "`auth` takes a string, like `auth = \"Bearer {{API_KEY}}\"`; found {}",
                other.kind()
            ),
        )),
    }
}

fn method(cx: &Ctxt, entry: &Entry) -> Option<Method> {
    let lit = string(cx, entry, "\"POST\"")?;
    let text = lit.value();
    let method = match text.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        _ => {
            cx.error_at(
                lit.span(),
                format!(
                    "unknown method `{text}`: expected one of {}{}",
                    Method::NAMES.join(", "),
                    did_you_mean(&text, &Method::NAMES)
                ),
            );
            return None;
        }
    };
    Some(method)
}

fn form_lists(cx: &Ctxt, entry: &Entry) -> Option<FormLists> {
    let lit = string(cx, entry, "\"repeat\"")?;
    let text = lit.value();
    let style = FormLists::NAMES
        .into_iter()
        .find(|(name, _)| *name == text)
        .map(|(_, style)| style);
    if style.is_none() {
        cx.error_at(
            lit.span(),
            format!("unknown list style `{text}`: expected `\"brackets\"` (`key[0]=a&key[1]=b`, Stripe's) or `\"repeat\"` (`key=a&key=b`, Twilio's)"),
        );
    }
    style
}

fn content_type(cx: &Ctxt, entry: &Entry) -> Option<(BodyEncoding, Span)> {
    let lit = string(cx, entry, "\"application/x-www-form-urlencoded\"")?;
    let text = lit.value();
    let encoding = [
        BodyEncoding::Json,
        BodyEncoding::Form,
        BodyEncoding::Multipart,
    ]
    .into_iter()
    .find(|e| e.media_type() == text);
    if encoding.is_none() {
        cx.error_at(
            lit.span(),
            format!(
                "unknown content type `{text}`: expected one of {}",
                BodyEncoding::MEDIA_TYPES
                    .map(|m| format!("`{m}`"))
                    .join(", "),
            ),
        );
    }
    encoding.map(|e| (e, lit.span()))
}

fn retry_policy(cx: &Ctxt, entry: &Entry) -> Option<RetryPolicy> {
    let lit = string(cx, entry, "\"exponential\"")?;
    match lit.value().as_str() {
        "exponential" => Some(RetryPolicy::exponential()),
        "fixed" => Some(RetryPolicy::Fixed(RetryPolicy::FIXED_DELAY)),
        "none" => Some(RetryPolicy::None),
        other => {
            cx.error_at(lit.span(), format!(
                "unknown retry policy `{other}`: expected `exponential`, `fixed` or `none` (or an explicit `backoff = [\"4s\", \"8s\"]`){}",
                did_you_mean(other, &RETRY_POLICIES)
            ));
            None
        }
    }
}

fn backoff(cx: &Ctxt, entry: &Entry) -> Option<Vec<Duration>> {
    let Value::List(items, span) = &entry.value else {
        mismatch(
            cx,
            entry,
            "a list of durations, like `backoff = [\"4s\", \"8s\", \"10s\"]`",
        );
        return None;
    };
    if items.is_empty() {
        cx.error_at(
            *span,
            "`backoff` is empty: list the delay before each retry, like `[\"4s\", \"8s\"]`",
        );
        return None;
    }
    let delays: Vec<Option<Duration>> = items
        .iter()
        .map(|item| match item {
            Value::Str(s) => spanned(cx, s, parse_duration(&s.value())),
            other => {
                cx.error_at(
                    other.span(),
                    format!(
                        "`backoff` lists durations like \"4s\"; found {}",
                        other.kind()
                    ),
                );
                None
            }
        })
        .collect();
    delays.into_iter().collect()
}

fn retry_on(cx: &Ctxt, entry: &Entry) -> Vec<u16> {
    let Value::List(items, _) = &entry.value else {
        mismatch(
            cx,
            entry,
            "a list of status codes, like `retry_on = [409, 423]`",
        );
        return Vec::new();
    };
    let mut codes = Vec::new();
    for item in items {
        match item {
            Value::Int(int) => match int.base10_parse::<u16>() {
                Ok(code @ 400..=599) => codes.push(code),
                Ok(code) => cx.error_at(
                    int.span(),
                    format!("`{code}` is not an error status: `retry_on` takes 4xx and 5xx codes"),
                ),
                Err(e) => cx.error_at(int.span(), e),
            },
            other => cx.error_at(
                other.span(),
                format!(
                    "`retry_on` lists status codes like 409; found {}",
                    other.kind()
                ),
            ),
        }
    }
    codes
}

fn headers(cx: &Ctxt, entry: &Entry) -> Vec<(Header, Span)> {
    let Value::Map(pairs, _) = &entry.value else {
        mismatch(
            cx,
            entry,
            "a map, like `headers = { \"X-API-Version\" = \"2024-01-01\" }`",
        );
        return Vec::new();
    };
    let mut headers: Vec<(Header, Span)> = Vec::new();
    for (key, value) in pairs {
        let name = key.value();
        if !is_header_name(&name) {
            cx.error_at(key.span(), format!("`{name}` is not a valid header name"));
        } else if let Some(owned) = CLIENT_HEADERS
            .iter()
            .find(|h| h.eq_ignore_ascii_case(&name))
        {
            cx.error_at(
                key.span(),
                format!("`{owned}` is set by the HTTP client from the request: remove it"),
            );
        } else if name.eq_ignore_ascii_case("authorization") {
            cx.error_at(key.span(), "credentials go in `auth = \"Bearer {API_KEY}\"`, which is resolved at send time and never stored: move this header there");
        } else if headers
            .iter()
            .any(|(h, _)| h.name.eq_ignore_ascii_case(&name))
        {
            cx.error_at(
                key.span(),
                format!("duplicate header `{name}`: set it once"),
            );
        } else if let Some(template) = spanned(cx, value, parse_template(&value.value())) {
            headers.push((
                Header {
                    name,
                    value: template,
                },
                key.span(),
            ));
        }
    }
    headers
}

/// `external_id = "json:/id"` or `"header:X-Message-Id"`: where a provider's id for what we sent
/// is in its response.
fn parse_external_id(value: &str) -> Result<ExternalId, String> {
    if let Some(pointer) = value.strip_prefix("json:") {
        if pointer.starts_with('/') {
            return Ok(ExternalId::Json(pointer.to_owned()));
        }
        return Err(format!(
            "`{value}`: after `json:` comes a JSON pointer starting with `/`, like `json:/id` or `json:/data/0/id`"
        ));
    }
    if let Some(name) = value.strip_prefix("header:") {
        if is_header_name(name) {
            return Ok(ExternalId::Header(name.to_owned()));
        }
        return Err(format!("`{name}` is not a valid header name"));
    }
    Err(format!(
        "`{value}` does not say where the provider's id is: use `\"json:/id\"` (a JSON pointer into the response body) or `\"header:X-Message-Id\"` (a response header)"
    ))
}
