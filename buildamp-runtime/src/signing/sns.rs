//! AWS SNS (and SES through SNS) message signatures: RSA PKCS#1 v1.5 over a canonical string of
//! the message's fields, SHA-1 for `SignatureVersion` 1 and SHA-256 for 2, checked with the
//! certificate at `SigningCertURL`, whose form is validated before anything is fetched.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;
use serde_json::Value;
use x509_cert::der::{DecodePem as _, Encode as _};

use super::verify::VerifyError;

/// The fields signed for each message type, in the order AWS concatenates them.
fn signed_fields(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Notification" => Some(&[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]),
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => Some(&[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]),
        _ => None,
    }
}

fn field<'a>(message: &'a Value, name: &'static str) -> Result<&'a str, VerifyError> {
    message[name].as_str().ok_or(VerifyError::Missing(name))
}

/// The message's `SigningCertURL`, if it is one AWS would use: `https`, on an
/// `sns.<region>.amazonaws.com` host (or `.amazonaws.com.cn`), no credentials or port, a `.pem`
/// path. Check this before fetching anything: the URL comes from the (unverified) message.
///
/// # Errors
/// The URL is absent or not AWS's.
pub fn signing_cert_url(message: &Value) -> Result<&str, VerifyError> {
    const FIELD: &str = "SigningCertURL";
    let text = field(message, FIELD)?;
    let bad = |reason| VerifyError::Malformed {
        header: FIELD,
        reason,
    };
    let url = url::Url::parse(text).map_err(|_| bad("not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("not https"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Err(bad("credentials or a port in the URL"));
    }
    let host = url.host_str().unwrap_or_default();
    let region = host
        .strip_prefix("sns.")
        .and_then(|h| {
            h.strip_suffix(".amazonaws.com")
                .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
        })
        .ok_or(bad("not an sns.<region>.amazonaws.com host"))?;
    if region.len() < 3
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(bad("not an sns.<region>.amazonaws.com host"));
    }
    if !url.path().ends_with(".pem") {
        return Err(bad("not a .pem certificate path"));
    }
    Ok(text)
}

/// Verifies an SNS message (the JSON body) with `certificate_pem`, the certificate from its
/// `SigningCertURL`, valid at `now` (Unix seconds).
///
/// # Errors
/// Why the message is not authentic.
pub fn verify(message: &Value, certificate_pem: &str, now: i64) -> Result<(), VerifyError> {
    let kind = field(message, "Type")?;
    let fields = signed_fields(kind).ok_or(VerifyError::Malformed {
        header: "Type",
        reason: "not a message type SNS signs",
    })?;
    let mut canonical = String::new();
    for name in fields {
        match message[*name].as_str() {
            Some(value) => {
                canonical.push_str(name);
                canonical.push('\n');
                canonical.push_str(value);
                canonical.push('\n');
            }
            // Only a Notification's Subject may be absent.
            None if *name == "Subject" => {}
            None => return Err(VerifyError::Missing(name)),
        }
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(field(message, "Signature")?)
        .ok()
        .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
        .ok_or(VerifyError::Malformed {
            header: "Signature",
            reason: "not base64",
        })?;
    let certificate = x509_cert::Certificate::from_pem(certificate_pem.as_bytes())
        .map_err(|_| VerifyError::BadKey("not a PEM X.509 certificate"))?;
    let validity = &certificate.tbs_certificate.validity;
    let (from, until) = (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    );
    let now_secs = u64::try_from(now).unwrap_or(0);
    if now_secs < from || now_secs > until {
        return Err(VerifyError::BadKey(
            "the signing certificate is not valid at this time",
        ));
    }
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| VerifyError::BadKey("unreadable public key"))?;
    let key = rsa::RsaPublicKey::from_public_key_der(&spki)
        .map_err(|_| VerifyError::BadKey("not an RSA public key"))?;
    let verified = match field(message, "SignatureVersion")? {
        "1" => VerifyingKey::<sha1::Sha1>::new(key).verify(canonical.as_bytes(), &signature),
        "2" => VerifyingKey::<sha2::Sha256>::new(key).verify(canonical.as_bytes(), &signature),
        _ => {
            return Err(VerifyError::Malformed {
                header: "SignatureVersion",
                reason: "neither 1 nor 2",
            });
        }
    };
    verified.map_err(|_| VerifyError::NoMatch)
}

/// Where signing certificates come from (an HTTPS GET in production; a fixture in tests).
pub trait FetchCertificate: Send + Sync {
    /// The PEM text at `url` (already validated by [`signing_cert_url`]).
    fn fetch(&self, url: &str) -> impl Future<Output = Result<String, String>> + Send;
}

/// Verifies SNS messages, fetching each signing certificate once and keeping it.
pub struct CertificateCache<F> {
    fetcher: F,
    cache: Mutex<HashMap<String, Arc<str>>>,
}

impl<F: FetchCertificate> CertificateCache<F> {
    /// A cache over `fetcher`.
    pub fn new(fetcher: F) -> Self {
        CertificateCache {
            fetcher,
            cache: Mutex::default(),
        }
    }

    /// Validates the message's `SigningCertURL`, gets its certificate (from the cache, or fetched
    /// once), and verifies the message.
    ///
    /// # Errors
    /// Why the message is not authentic, or [`VerifyError::BadKey`] when the certificate could not
    /// be fetched.
    pub async fn verify(&self, message: &Value, now: i64) -> Result<(), VerifyError> {
        let url = signing_cert_url(message)?;
        let cached = self.cache.lock().expect("cache lock").get(url).cloned();
        let pem = match cached {
            Some(pem) => pem,
            None => {
                let pem: Arc<str> = self
                    .fetcher
                    .fetch(url)
                    .await
                    .map_err(|_| {
                        VerifyError::BadKey("the signing certificate could not be fetched")
                    })?
                    .into();
                self.cache
                    .lock()
                    .expect("cache lock")
                    .insert(url.to_owned(), pem.clone());
                pem
            }
        };
        verify(message, &pem, now)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn vectors() -> (Vec<Value>, String) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
        let read = |name: &str| {
            std::fs::read_to_string(format!("{dir}/{name}"))
                .unwrap_or_else(|e| panic!("cannot read {dir}/{name}: {e}"))
        };
        let messages: Vec<Value> = serde_json::from_str(&read("aws-sns.json")).unwrap();
        (
            messages.into_iter().map(|v| v["message"].clone()).collect(),
            read("aws-sns-cert.pem"),
        )
    }

    /// The vector certificate expired on 2022-08-17: the clock is pinned to the messages' day.
    const JULY_28_2022: i64 = 1_659_043_438;

    #[test]
    fn version_1_and_2_vectors_verify() {
        let (messages, cert) = vectors();
        assert_eq!(messages.len(), 2);
        for message in &messages {
            assert_eq!(
                verify(message, &cert, JULY_28_2022),
                Ok(()),
                "{}",
                message["SignatureVersion"]
            );
            assert_eq!(signing_cert_url(message).map(|_| ()), Ok(()));
        }
    }

    #[test]
    fn a_changed_message_or_an_expired_certificate_fails() {
        let (messages, cert) = vectors();
        let mut changed = messages[0].clone();
        changed["Message"] = "Hello world!".into();
        assert_eq!(
            verify(&changed, &cert, JULY_28_2022),
            Err(VerifyError::NoMatch)
        );
        // The same message, signed with SHA-1, does not pass as version 2.
        let mut relabelled = messages[0].clone();
        relabelled["SignatureVersion"] = "2".into();
        assert_eq!(
            verify(&relabelled, &cert, JULY_28_2022),
            Err(VerifyError::NoMatch)
        );
        let today = 1_764_000_000;
        assert!(matches!(
            verify(&messages[0], &cert, today),
            Err(VerifyError::BadKey(_))
        ));
    }

    #[test]
    fn certificate_urls_outside_aws_are_refused_before_any_fetch() {
        for url in [
            "http://sns.us-east-2.amazonaws.com/cert.pem",
            "https://sns.us-east-2.amazonaws.com.evil.com/cert.pem",
            "https://evil.com/sns.us-east-2.amazonaws.com/cert.pem",
            "https://user@sns.us-east-2.amazonaws.com/cert.pem",
            "https://sns.us-east-2.amazonaws.com:8443/cert.pem",
            "https://sns.us-east-2.amazonaws.com/cert.txt",
            "https://s3.amazonaws.com/cert.pem",
        ] {
            let message = serde_json::json!({"SigningCertURL": url});
            assert!(
                matches!(
                    signing_cert_url(&message),
                    Err(VerifyError::Malformed { .. })
                ),
                "{url} was accepted"
            );
        }
        let china = serde_json::json!({"SigningCertURL": "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem"});
        assert!(signing_cert_url(&china).is_ok());
    }

    struct Fixture {
        pem: String,
        fetches: AtomicUsize,
    }

    impl FetchCertificate for Fixture {
        async fn fetch(&self, _url: &str) -> Result<String, String> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(self.pem.clone())
        }
    }

    #[tokio::test]
    async fn the_cache_fetches_each_certificate_once() {
        let (messages, pem) = vectors();
        let cache = CertificateCache::new(Fixture {
            pem,
            fetches: AtomicUsize::new(0),
        });
        for message in &messages {
            assert_eq!(cache.verify(message, JULY_28_2022).await, Ok(()));
        }
        assert_eq!(cache.fetcher.fetches.load(Ordering::SeqCst), 1);
        let mut forged = messages[0].clone();
        forged["SigningCertURL"] = "https://attacker.example.com/cert.pem".into();
        assert!(cache.verify(&forged, JULY_28_2022).await.is_err());
        assert_eq!(
            cache.fetcher.fetches.load(Ordering::SeqCst),
            1,
            "nothing fetched for a forged URL"
        );
    }
}
