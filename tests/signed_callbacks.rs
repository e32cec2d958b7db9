//! Our signed callbacks verify with an implementation we did not write: the `standardwebhooks`
//! package from PyPI (pinned; `tests/run` installs it in `target/pytools` and sets `BUILDAMP_PYTHON`).

mod support;

use buildamp::inbound::sign;
use support::reference_verify;

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
