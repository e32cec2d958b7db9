//! `buildamp verify` on the providers' own vectors: `valid` and exit 0, or the reason and exit 1.

use std::process::Command;

fn vectors(name: &str) -> Vec<serde_json::Value> {
    let path = format!(
        "{}/buildamp-runtime/tests/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn verify(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_buildamp"))
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

#[test]
fn stripe_vector_is_valid_and_a_changed_body_is_not() {
    let v = &vectors("stripe.json")[0];
    let header = format!(
        "Stripe-Signature: {}",
        v["stripe_signature_header"].as_str().unwrap()
    );
    let now = v["timestamp"].to_string();
    let secret = v["secret"].as_str().unwrap();
    let body = v["payload"].as_str().unwrap();
    assert_eq!(
        verify(&[
            "--scheme", "stripe", "--secret", secret, "--header", &header, "--body", body, "--now",
            &now
        ]),
        (true, "valid".into())
    );
    let (ok, out) = verify(&[
        "--scheme", "stripe", "--secret", secret, "--header", &header, "--body", "{}", "--now",
        &now,
    ]);
    assert!(!ok);
    assert_eq!(out, "invalid: no signature matches");
    let (ok, out) = verify(&[
        "--scheme", "stripe", "--secret", secret, "--header", &header, "--body", body,
    ]);
    assert!(!ok);
    assert!(out.starts_with("invalid: the timestamp is "), "{out}");
    assert!(!out.contains(secret), "the secret is never printed");
}

#[test]
fn twilio_vector_with_url_and_params() {
    let v = &vectors("twilio.json")[0];
    let mut args = vec![
        "--scheme".to_owned(),
        "twilio".into(),
        "--secret".into(),
        v["auth_token"].as_str().unwrap().into(),
        "--url".into(),
        v["url"].as_str().unwrap().into(),
        "--header".into(),
        format!(
            "X-Twilio-Signature: {}",
            v["x_twilio_signature"].as_str().unwrap()
        ),
    ];
    for (k, value) in v["params"].as_object().unwrap() {
        args.push("--param".into());
        args.push(format!("{k}={}", value.as_str().unwrap()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(verify(&args), (true, "valid".into()));
}

#[test]
fn sns_vector_with_the_certificate_from_a_file() {
    let dir = format!(
        "{}/buildamp-runtime/tests/vectors",
        env!("CARGO_MANIFEST_DIR")
    );
    let message = vectors("aws-sns.json")[1]["message"].to_string();
    let cert = format!("@{dir}/aws-sns-cert.pem");
    let args = [
        "--scheme",
        "sns",
        "--secret",
        &cert,
        "--body",
        &message,
        "--now",
        "1659043448",
    ];
    assert_eq!(verify(&args), (true, "valid".into()));
    let forged = message.replace(
        "https://sns.us-east-2.amazonaws.com/",
        "https://sns.evil.com/",
    );
    let (ok, out) = verify(&[
        "--scheme",
        "sns",
        "--secret",
        &cert,
        "--body",
        &forged,
        "--now",
        "1659043448",
    ]);
    assert!(!ok);
    assert!(out.contains("SigningCertURL"), "{out}");
}

#[test]
fn github_and_mailgun_vectors() {
    let v = &vectors("github.json")[0];
    let header = format!(
        "X-Hub-Signature-256: {}",
        v["x_hub_signature_256"].as_str().unwrap()
    );
    assert_eq!(
        verify(&[
            "--scheme",
            "github",
            "--secret",
            v["secret"].as_str().unwrap(),
            "--header",
            &header,
            "--body",
            v["payload"].as_str().unwrap()
        ]),
        (true, "valid".into())
    );
    let m = &vectors("mailgun.json")[0];
    let body = serde_json::json!({"signature": {"timestamp": m["timestamp"], "token": m["token"], "signature": m["signature"]}}).to_string();
    let now = m["timestamp"].as_str().unwrap();
    assert_eq!(
        verify(&[
            "--scheme",
            "mailgun",
            "--secret",
            m["signing_key"].as_str().unwrap(),
            "--body",
            &body,
            "--now",
            now
        ]),
        (true, "valid".into())
    );
}
