//! Amazon SES through SNS, as the tests play it: SNS messages signed with a test certificate
//! (`tests/fixtures/sns-test-{key,cert}.pem`), and the AWS side of fetching it.

use std::sync::{Arc, Mutex};

use base64::Engine;
use buildamp::ExecutionId;
use serde_json::{Value, json};

pub const SES_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ses-events";
pub const CERT_URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem";

/// AWS, as far as the endpoint reaches it: the signing certificate at its URL, and every other
/// URL visited (a `SubscribeURL`). Tests cannot reach AWS; this is the boundary.
#[derive(Clone, Default)]
pub struct FakeAws {
    pub visited: Arc<Mutex<Vec<String>>>,
}

impl buildamp::signing::sns::AwsFetch for FakeAws {
    fn get<'a>(&'a self, url: &'a str) -> buildamp::signing::sns::Fetched<'a> {
        self.visited.lock().unwrap().push(url.to_owned());
        let answer = if url == CERT_URL {
            Ok(include_str!("../fixtures/sns-test-cert.pem").to_owned())
        } else {
            Ok("<ConfirmSubscriptionResponse/>".to_owned())
        };
        Box::pin(async move { answer })
    }
}

/// An SNS message of `kind` with `fields`, signed as SNS signs (SignatureVersion 2: RSA PKCS#1
/// v1.5 over SHA-256 of the canonical string), written here from AWS's documentation.
pub fn sns_message(kind: &str, fields: &[(&str, &str)]) -> Value {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let mut message = json!({
        "Type": kind,
        "TopicArn": SES_TOPIC,
        "Timestamp": "2027-01-01T00:00:00.000Z",
        "SignatureVersion": "2",
        "SigningCertURL": CERT_URL,
    });
    for (k, v) in fields {
        message[*k] = (*v).into();
    }
    let signed: &[&str] = if kind == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut canonical = String::new();
    for name in signed {
        if let Some(value) = message[*name].as_str() {
            canonical.push_str(&format!("{name}\n{value}\n"));
        }
    }
    let key =
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../fixtures/sns-test-key.pem")).unwrap();
    let signature = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign(canonical.as_bytes());
    message["Signature"] = base64::engine::general_purpose::STANDARD
        .encode(signature.to_bytes())
        .into();
    message
}

/// An SES event notification about `execution` (by its `buildamp_id` tag), the SNS message
/// `sns_id`.
pub fn ses_event(sns_id: &str, execution: ExecutionId, event: Value) -> Value {
    let mut event = event;
    event["mail"] = json!({
        "timestamp": "2027-01-01T00:00:00.000Z",
        "messageId": "0100018c-ses-message-id",
        "source": "app@example.com",
        "destination": ["ada@example.com"],
        "commonHeaders": {"subject": "Hello"},
        "tags": {"buildamp_id": [execution.to_string()], "ses:configuration-set": ["events"]},
    });
    sns_message(
        "Notification",
        &[("MessageId", sns_id), ("Message", &event.to_string())],
    )
}
