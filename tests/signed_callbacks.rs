//! Our signed callbacks verify with an implementation we did not write: the `standardwebhooks`
//! package from PyPI (pinned; `tests/run` installs it in `target/pytools` and sets `BUILDAMP_PYTHON`).

use std::process::Command;

use buildamp::inbound::sign;

const VERIFY: &str = r#"
import sys
from standardwebhooks.webhooks import Webhook
secret, msg_id, timestamp, signature, body = sys.argv[1:6]
Webhook(secret).verify(body, {
    "webhook-id": msg_id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signature,
})
print("valid")
"#;

/// Runs the reference library; `Ok` with its output when it accepts, `Err` with its error when not.
fn reference_verify(
    secret: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> Result<String, String> {
    // tests/run sets BUILDAMP_PYTHON; a plain `cargo test` finds the environment it made.
    let installed = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pytools/bin/python");
    let python = std::env::var("BUILDAMP_PYTHON")
        .ok()
        .or_else(|| std::path::Path::new(installed).exists().then(|| installed.to_owned()))
        .expect("the standardwebhooks package is not installed: run the tests through tests/run, which installs it");
    let output = Command::new(python)
        .args([
            "-c",
            VERIFY,
            secret,
            id,
            &timestamp.to_string(),
            signature,
            body,
        ])
        .output()
        .expect("the Python interpreter runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn the_reference_library_accepts_our_signatures_with_either_rotated_secret() {
    let (old, new) = (sign::new_secret().unwrap(), sign::new_secret().unwrap());
    let body = r#"{"type":"execution.sent","data":{"id":"0192f3c1","status":"sent"}}"#;
    let timestamp = now();
    let signature =
        sign::standard(&[&old, &new], "msg_2b1ZJq0rS", timestamp, body.as_bytes()).unwrap();
    for secret in [&old, &new] {
        assert_eq!(
            reference_verify(secret, "msg_2b1ZJq0rS", timestamp, &signature, body),
            Ok("valid".to_owned())
        );
    }
}

#[test]
fn the_reference_library_rejects_a_changed_body_or_another_secret() {
    let secret = sign::new_secret().unwrap();
    let body = r#"{"type":"execution.sent"}"#;
    let timestamp = now();
    let signature = sign::standard(&[&secret], "msg_1", timestamp, body.as_bytes()).unwrap();
    assert!(
        reference_verify(
            &secret,
            "msg_1",
            timestamp,
            &signature,
            r#"{"type":"execution.failed"}"#
        )
        .is_err()
    );
    let other = sign::new_secret().unwrap();
    assert!(reference_verify(&other, "msg_1", timestamp, &signature, body).is_err());
}
