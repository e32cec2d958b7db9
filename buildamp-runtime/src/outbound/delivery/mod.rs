//! One HTTP attempt: build the request from a claimed row and its registered target (resolving
//! secrets from the environment only now), or take one an endpoint's delivery prepared, send it,
//! and read a bounded response. The only module that knows reqwest.
//!
//! Two clients: one for `#[target]`s (URLs the developer wrote), and one for customers' endpoints
//! whose resolver is the SSRF guard ([`guard`]), with no proxy.

pub mod encode;
pub mod guard;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::env::Env;
use crate::queue::AttemptResult;
use crate::service::deliver::Prepared;
use crate::store::Claimed;
use crate::target::{Auth, BodyEncoding, ExternalId, Method, ResponseType, Target};

/// Limits on what is read back from a target.
#[derive(Clone, Copy, Debug)]
pub struct ResponseLimits {
    /// Bytes of a response body read at most; the rest is not read.
    pub read_bytes: usize,
    /// Bytes of the body kept with the execution and its attempt log.
    pub stored_bytes: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            read_bytes: 64 * 1024,
            stored_bytes: 4 * 1024,
        }
    }
}

/// Sends attempts. One per executor: it holds the connection pools.
#[derive(Clone, Debug)]
pub struct Deliverer {
    client: reqwest::Client,
    /// For customers' endpoints: resolves through the SSRF guard, never through a proxy.
    guarded: reqwest::Client,
    policy: Arc<guard::AddressPolicy>,
    limits: ResponseLimits,
}

impl Deliverer {
    /// A deliverer with `limits`, keeping up to `idle_per_host` idle connections per host.
    ///
    /// # Panics
    /// When the TLS backend cannot initialise (a broken build, not a run-time condition).
    pub fn new(limits: ResponseLimits, idle_per_host: usize) -> Self {
        Self::guarded(
            limits,
            idle_per_host,
            Arc::new(guard::AddressPolicy::public_only()),
            Arc::new(guard::SystemLookup),
        )
    }

    /// A deliverer whose endpoint client applies `policy` to what `lookup` resolves.
    ///
    /// # Panics
    /// When the TLS backend cannot initialise (a broken build, not a run-time condition).
    pub fn guarded(
        limits: ResponseLimits,
        idle_per_host: usize,
        policy: Arc<guard::AddressPolicy>,
        lookup: Arc<dyn guard::Lookup>,
    ) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(concat!("BuildAmp/", env!("CARGO_PKG_VERSION")))
                // A webhook is sent where it was declared to go: a redirect is reported, not
                // followed (following one would also turn a POST into a GET, and could lead an
                // endpoint's delivery inside the network).
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(idle_per_host)
                .tcp_nodelay(true)
        };
        let client = builder().build().expect("the HTTP client builds");
        let guarded = builder()
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver::new(
                policy.clone(),
                lookup,
            )))
            .build()
            .expect("the HTTP client builds");
        Deliverer {
            client,
            guarded,
            policy,
            limits,
        }
    }

    /// The address policy endpoints' deliveries follow.
    pub fn policy(&self) -> &guard::AddressPolicy {
        &self.policy
    }

    /// Sends a prepared endpoint request through the guarded client.
    pub async fn send(&self, prepared: Prepared, now: DateTime<Utc>) -> AttemptResult {
        let url = match reqwest::Url::parse(&prepared.url) {
            Ok(url) => url,
            Err(e) => return AttemptResult::Invalid(format!("endpoint URL is not valid ({e})")),
        };
        if let Err(refused) = self.policy.check_url(&url) {
            return AttemptResult::Invalid(refused.to_string());
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value, secret) in &prepared.headers {
            let built =
                header_name(name).and_then(|n| Ok((n, header_value(name, value, *secret)?)));
            match built {
                Ok((n, v)) => {
                    headers.insert(n, v);
                }
                Err(reason) => return AttemptResult::Invalid(reason),
            }
        }
        let request = self
            .guarded
            .post(url)
            .headers(headers)
            .body(prepared.body)
            .timeout(prepared.timeout);
        match request.send().await {
            Ok(response) => self.read(response, None, None, now).await,
            Err(error) => match refusal(&error) {
                // The guard refused every address: retrying cannot help until it is allowed.
                Some(refused) => AttemptResult::Invalid(refused.to_string()),
                None => AttemptResult::Unreachable(describe(&error, prepared.timeout)),
            },
        }
    }

    /// Makes one attempt of `row` to `target`, reading secrets from `env`.
    pub async fn attempt(
        &self,
        row: &Claimed,
        target: &Target,
        env: &(dyn Env + Send + Sync),
        now: DateTime<Utc>,
    ) -> AttemptResult {
        let request = match self.build(row, target, env) {
            Ok(request) => request,
            Err(reason) => return AttemptResult::Invalid(reason),
        };
        match request.send().await {
            Ok(response) => {
                self.read(response, target.external_id, target.response.as_ref(), now)
                    .await
            }
            Err(error) => AttemptResult::Unreachable(describe(&error, target.timeout)),
        }
    }

    fn build(
        &self,
        row: &Claimed,
        target: &Target,
        env: &(dyn Env + Send + Sync),
    ) -> Result<reqwest::RequestBuilder, String> {
        let mut url = reqwest::Url::parse(&row.target_url)
            .map_err(|e| format!("target URL is not valid ({e})"))?;
        let method = match target.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut headers = HeaderMap::new();
        let request = if target.method.sends_query() {
            let query = encode::form(&row.payload, target.form_lists).map_err(|e| e.to_string())?;
            if !query.is_empty() {
                let joined = match url.query() {
                    Some(existing) if !existing.is_empty() => format!("{existing}&{query}"),
                    _ => query,
                };
                url.set_query(Some(&joined));
            }
            self.client.request(method, url)
        } else {
            let request = self.client.request(method, url);
            match target.encoding {
                BodyEncoding::Json => {
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    request.body(serde_json::to_vec(&row.payload).map_err(|e| e.to_string())?)
                }
                BodyEncoding::Form => {
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    );
                    request.body(
                        encode::form(&row.payload, target.form_lists).map_err(|e| e.to_string())?,
                    )
                }
                BodyEncoding::Multipart => request.multipart(
                    encode::multipart(&row.payload, target.file_fields)
                        .map_err(|e| e.to_string())?,
                ),
            }
        };
        if let Some(stored) = row.headers.as_object() {
            for (name, value) in stored {
                let value = value.as_str().unwrap_or_default();
                headers.insert(header_name(name)?, header_value(name, value, false)?);
            }
        }
        for h in target.headers.iter().filter(|h| !h.value.is_literal()) {
            let value = h.value.resolve(env).map_err(|e| e.to_string())?;
            headers.insert(header_name(h.name)?, header_value(h.name, &value, true)?);
        }
        match target.auth.select_recorded(&row.branches, env) {
            Auth::None => {}
            Auth::Bearer(t) => {
                let token = t.resolve(env).map_err(|e| e.to_string())?;
                headers.insert(
                    header::AUTHORIZATION,
                    header_value("Authorization", &format!("Bearer {token}"), true)?,
                );
            }
            Auth::Basic(t) => {
                let credentials = t.resolve(env).map_err(|e| e.to_string())?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                headers.insert(
                    header::AUTHORIZATION,
                    header_value("Authorization", &format!("Basic {encoded}"), true)?,
                );
            }
            Auth::Header { name, value } => {
                let value = value.resolve(env).map_err(|e| e.to_string())?;
                headers.insert(header_name(name)?, header_value(name, &value, true)?);
            }
        }
        if let Some(name) = target.idempotency_header {
            headers.insert(
                header_name(name)?,
                header_value(name, &row.id.to_string(), false)?,
            );
        }
        Ok(request.headers(headers).timeout(target.timeout))
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
        wanted: Option<ExternalId>,
        declared: Option<&ResponseType>,
        now: DateTime<Utc>,
    ) -> AttemptResult {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let success = response.status().is_success();
        let mut external_id = match (wanted, success) {
            (Some(ExternalId::Header(name)), true) => response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            _ => None,
        };
        let mut body = Vec::new();
        // Read only up to the limit: a huge or endless body must not exhaust memory. A read error
        // after the status arrived keeps what was read; the status decides the outcome.
        while body.len() < self.limits.read_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        if let (Some(ExternalId::Json(pointer)), true) = (wanted, success) {
            external_id = json_id(&body, pointer);
        }
        let response_error = match declared {
            Some(declared) if success => self.unparsed(&body, declared),
            _ => None,
        };
        // A declared answer is kept whole (up to the read limit), so handlers can read it typed.
        let kept = match declared {
            Some(_) if success => self.limits.read_bytes,
            _ => self.limits.stored_bytes,
        };
        AttemptResult::Response {
            status,
            body: truncate(&body, kept),
            retry_after,
            location,
            external_id,
            response_error,
        }
    }

    /// Why a 2xx `body` (read up to the limit) is not the target's declared response type.
    fn unparsed(&self, body: &[u8], declared: &ResponseType) -> Option<String> {
        if body.len() >= self.limits.read_bytes {
            return Some(format!(
                "delivered, but the response is larger than the {} bytes read, so it was not parsed as `{}`",
                self.limits.read_bytes, declared.name
            ));
        }
        (declared.read)(body).err().map(|e| {
            format!(
                "delivered, but the response did not parse as `{}`: {e}",
                declared.name
            )
        })
    }
}

/// The string or number at `pointer` in a JSON `body`, if there is one.
fn json_id(body: &[u8], pointer: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.pointer(pointer)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `bytes` as text, cut to at most `max` bytes on a character boundary.
fn truncate(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max + 4)]);
    if text.len() <= max {
        return text.into_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(now + chrono::Duration::seconds(i64::from(seconds)));
    }
    DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))
}

/// A header value; a secret one is marked sensitive (kept out of `Debug` output), and its value is
/// never quoted in an error.
fn header_value(name: &str, value: &str, secret: bool) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| format!("header `{name}` would hold characters HTTP does not allow; check its environment variable"))?;
    v.set_sensitive(secret);
    Ok(v)
}

/// The guard's refusal behind a transport error, if that is what it is.
fn refusal(error: &reqwest::Error) -> Option<&guard::Refused> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<guard::Refused>() {
            return Some(refused);
        }
        source = cause.source();
    }
    None
}

/// A transport error in words, without the URL (already in the row) and without headers.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {}s", timeout.as_secs_f64());
    }
    let what = if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    match std::error::Error::source(error) {
        Some(cause) => format!("{what}: {}", crate::error::error_chain(cause)),
        None => what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_a_char_boundary() {
        assert_eq!(truncate(b"hello", 10), "hello");
        assert_eq!(truncate(b"hello", 3), "hel");
        assert_eq!(truncate("héllo".as_bytes(), 2), "h");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(now + chrono::Duration::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:05:00 GMT", now),
            Some(now + chrono::Duration::minutes(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
