//! AWS SNS (and SES through SNS) message signatures: RSA PKCS#1 v1.5 over a canonical string of
//! the message's fields, SHA-1 for `SignatureVersion` 1 and SHA-256 for 2, checked with the
//! certificate at `SigningCertURL`, whose form is validated before anything is fetched. A
//! `SubscriptionConfirmation`'s `SubscribeURL` is validated the same way before it is visited.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
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
    let (text, url) = aws_url(message, FIELD)?;
    if !url.path().ends_with(".pem") {
        return Err(VerifyError::Malformed {
            header: FIELD,
            reason: "not a .pem certificate path",
        });
    }
    Ok(text)
}

/// A `SubscriptionConfirmation`'s `SubscribeURL`, if it is one AWS would send: on an
/// `sns.<region>.amazonaws.com` host as [`signing_cert_url`] requires, asking
/// `Action=ConfirmSubscription`. Check this before visiting it: the URL comes from the message.
///
/// # Errors
/// The URL is absent or not AWS's.
pub fn subscribe_url(message: &Value) -> Result<&str, VerifyError> {
    const FIELD: &str = "SubscribeURL";
    let (text, url) = aws_url(message, FIELD)?;
    if !url
        .query_pairs()
        .any(|(k, v)| k == "Action" && v == "ConfirmSubscription")
    {
        return Err(VerifyError::Malformed {
            header: FIELD,
            reason: "not an Action=ConfirmSubscription URL",
        });
    }
    Ok(text)
}

/// The URL in `message[name]`, if it is `https` on an `sns.<region>.amazonaws.com` host (or
/// `.amazonaws.com.cn`), with no credentials or port.
fn aws_url<'m>(message: &'m Value, name: &'static str) -> Result<(&'m str, url::Url), VerifyError> {
    let text = field(message, name)?;
    let bad = |reason| VerifyError::Malformed {
        header: name,
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
    Ok((text, url))
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

/// What [`AwsFetch::get`] returns.
pub type Fetched<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// GETs of URLs already validated as AWS's ([`signing_cert_url`], [`subscribe_url`]): an HTTPS
/// client in production ([`HttpsFetch`]), a fixture in tests, since tests cannot reach AWS.
pub trait AwsFetch: Send + Sync {
    /// The body at `url`, or why it could not be read.
    fn get<'a>(&'a self, url: &'a str) -> Fetched<'a>;
}

impl<T: AwsFetch + ?Sized> AwsFetch for Box<T> {
    fn get<'a>(&'a self, url: &'a str) -> Fetched<'a> {
        (**self).get(url)
    }
}

/// [`AwsFetch`] over HTTPS: 10 s per request, no redirects, at most 64 KiB read.
#[derive(Clone, Debug)]
pub struct HttpsFetch {
    client: reqwest::Client,
}

impl Default for HttpsFetch {
    fn default() -> Self {
        HttpsFetch {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a TLS client builds"),
        }
    }
}

impl AwsFetch for HttpsFetch {
    fn get<'a>(&'a self, url: &'a str) -> Fetched<'a> {
        Box::pin(async move {
            let mut response = self
                .client
                .get(url)
                .send()
                .await
                .map_err(|e| crate::error::error_chain(&e))?;
            if !response.status().is_success() {
                return Err(format!("AWS answered {}", response.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
                body.extend_from_slice(&chunk);
                if body.len() > 64 * 1024 {
                    return Err("the answer is over 64 KiB".into());
                }
            }
            String::from_utf8(body).map_err(|_| "the answer is not UTF-8".into())
        })
    }
}

/// Verifies SNS messages, fetching each signing certificate once and keeping it.
pub struct CertificateCache<F> {
    fetcher: F,
    cache: Mutex<HashMap<String, Arc<str>>>,
}

impl<F: AwsFetch> CertificateCache<F> {
    /// A cache over `fetcher`.
    pub fn new(fetcher: F) -> Self {
        CertificateCache {
            fetcher,
            cache: Mutex::default(),
        }
    }

    /// The fetcher, for other GETs of validated AWS URLs.
    pub fn fetcher(&self) -> &F {
        &self.fetcher
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
                    .get(url)
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

    #[test]
    fn subscribe_urls_outside_aws_are_refused_before_any_visit() {
        let confirm = "/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-2:123:ses&Token=t";
        for url in [
            format!("http://sns.us-east-2.amazonaws.com{confirm}"),
            format!("https://sns.us-east-2.amazonaws.com.evil.com{confirm}"),
            format!("https://evil.com{confirm}"),
            format!("https://sns.us-east-2.amazonaws.com:8443{confirm}"),
            "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe".to_owned(),
        ] {
            let message = serde_json::json!({"SubscribeURL": url});
            assert!(
                matches!(subscribe_url(&message), Err(VerifyError::Malformed { .. })),
                "{url} was accepted"
            );
        }
        let aws = format!("https://sns.us-east-2.amazonaws.com{confirm}");
        assert_eq!(
            subscribe_url(&serde_json::json!({"SubscribeURL": aws})),
            Ok(aws.as_str())
        );
    }

    struct Fixture {
        pem: String,
        fetches: AtomicUsize,
    }

    impl AwsFetch for Fixture {
        fn get<'a>(&'a self, _url: &'a str) -> Fetched<'a> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok(self.pem.clone()) })
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
