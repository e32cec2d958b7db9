//! One delivery to an endpoint, prepared: the envelope with this attempt's `retry_count`, the
//! event's headers, the signature and the endpoint's authentication. Sending it is the delivery
//! module's job (through the SSRF guard); this module only decides what is sent.

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::endpoint::{BodyShape, Endpoint, EndpointAuth, SigningScheme};
use crate::signing::sign;

/// A request built in full for an endpoint.
#[derive(Clone)]
pub struct Prepared {
    /// The URL.
    pub url: String,
    /// Headers; the flag marks a secret value (kept out of `Debug`, never quoted).
    pub headers: Vec<(String, String, bool)>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// The per-attempt timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _, _)| n.as_str()).collect();
        f.debug_struct("Prepared")
            .field("url", &self.url)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What is being delivered: the stored envelope and this attempt.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// The execution (the JWT's `jti`).
    pub execution_id: Uuid,
    /// The envelope as published (`retry_count` is set here).
    pub envelope: &'a serde_json::Value,
    /// This attempt's number, from 1.
    pub attempt: i32,
    /// Its ordering key and number, on an ordered endpoint.
    pub ordering: Option<(&'a str, i64)>,
}

/// Builds the request of `delivery` to `endpoint` at `now`.
///
/// # Errors
/// The endpoint has no active signing secret, or one cannot sign (a message saying which).
pub fn prepare(
    endpoint: &Endpoint,
    delivery: Delivery<'_>,
    now: DateTime<Utc>,
) -> Result<Prepared, String> {
    let mut envelope = delivery.envelope.clone();
    if let Some(meta) = envelope.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.insert("retry_count".into(), (delivery.attempt.max(1) - 1).into());
        if let Some((_, sequence)) = delivery.ordering {
            meta.insert("sequence".into(), sequence.into());
        }
    }
    let body = match endpoint.config.body {
        BodyShape::Envelope => serde_json::to_vec(&envelope),
        BodyShape::Data => {
            let mut data = envelope.get("data").cloned().unwrap_or_default();
            if let (Some(fields), Some((_, sequence))) = (data.as_object_mut(), delivery.ordering) {
                fields.insert("sequence".into(), sequence.into());
            }
            serde_json::to_vec(&data)
        }
    }
    .expect("an envelope serializes");
    let event_type = envelope["event_type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let event_id = envelope["event_id"].as_str().unwrap_or_default().to_owned();
    let mut headers: Vec<(String, String, bool)> = endpoint
        .config
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone(), false))
        .collect();
    headers.push(("X-Event-Type".into(), event_type, false));
    headers.push(("X-Event-Id".into(), event_id.clone(), false));
    if let Some((key, sequence)) = delivery.ordering {
        headers.push(("X-Ordering-Key".into(), key.to_owned(), false));
        headers.push(("X-Sequence".into(), sequence.to_string(), false));
    }
    let secrets = endpoint.active_secrets(now);
    let Some(current) = secrets.first() else {
        return Err(format!(
            "endpoint {} has no active signing secret: rotate its secret to get one",
            endpoint.id
        ));
    };
    match endpoint.config.signing {
        SigningScheme::StandardWebhooks => {
            let timestamp = now.timestamp();
            let signature = sign::standard(&secrets, &event_id, timestamp, &body)
                .map_err(|e| format!("endpoint {}: {e}", endpoint.id))?;
            headers.push(("webhook-id".into(), event_id, false));
            headers.push(("webhook-timestamp".into(), timestamp.to_string(), false));
            headers.push(("webhook-signature".into(), signature, false));
        }
        SigningScheme::XSignatureSha256 => {
            headers.push((
                "X-Signature".into(),
                sign::legacy_sha256(current, &body),
                false,
            ));
        }
        SigningScheme::HmacSha1 => {
            headers.push((
                "X-Signature".into(),
                sign::legacy_sha1(current, &body),
                false,
            ));
        }
    }
    if let Some(auth) = authorization(endpoint, delivery.execution_id, now) {
        headers.push(auth);
    }
    Ok(Prepared {
        url: endpoint.url.clone(),
        headers,
        body,
        timeout: endpoint.config.timeout.0,
    })
}

/// The endpoint's authentication header, marked secret.
fn authorization(
    endpoint: &Endpoint,
    execution_id: Uuid,
    now: DateTime<Utc>,
) -> Option<(String, String, bool)> {
    let bearer = |token: &str| ("Authorization".to_owned(), format!("Bearer {token}"), true);
    match &endpoint.auth {
        EndpointAuth::None => None,
        EndpointAuth::ApiKey { header, key } => {
            Some((header.clone(), key.expose().to_owned(), true))
        }
        EndpointAuth::Bearer { token } => Some(bearer(token.expose())),
        EndpointAuth::Basic { username, password } => {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{username}:{}", password.expose()));
            Some(("Authorization".into(), format!("Basic {encoded}"), true))
        }
        EndpointAuth::Jwt {
            secret,
            issuer,
            audience,
            ttl,
        } => {
            let iat = now.timestamp();
            let mut claims = serde_json::json!({
                "sub": endpoint.id.to_string(),
                "iat": iat,
                "exp": iat + i64::try_from(ttl.0.as_secs()).unwrap_or(300),
                "jti": execution_id.to_string(),
            });
            if let Some(iss) = issuer {
                claims["iss"] = iss.clone().into();
            }
            if let Some(aud) = audience {
                claims["aud"] = aud.clone().into();
            }
            Some(bearer(&sign::jwt_hs256(
                secret.expose().as_bytes(),
                &claims,
            )))
        }
    }
}
