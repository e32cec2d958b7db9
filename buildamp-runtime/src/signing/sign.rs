//! Signing our own callbacks, so receivers can verify them: Standard Webhooks v1 by default (what
//! Svix and Resend send, and what their libraries verify), the legacy `X-Signature: sha256=` scheme
//! for receivers that expect it.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A signing secret, `whsec_` followed by base64 of 32 random bytes.
///
/// # Errors
/// The operating system's random source failed.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}

/// Why a secret cannot sign.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is `whsec_` followed by base64; this one is not (it is not shown)")]
pub struct BadSecret;

/// The `webhook-signature` header for `body`, sent with `webhook-id: {id}` and
/// `webhook-timestamp: {timestamp}`: one `v1,<base64>` per active secret, space-separated, so a
/// receiver holding either the old or the new secret accepts it during a rotation.
///
/// # Errors
/// A secret is not `whsec_` + base64.
pub fn standard(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.strip_prefix("whsec_").ok_or(BadSecret)?)
            .map_err(|_| BadSecret)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        signatures.push(format!("v1,{signature}"));
    }
    Ok(signatures.join(" "))
}

/// The legacy `X-Signature` header: `sha256=` + hex HMAC-SHA256 of the body with the secret's
/// bytes. It carries no timestamp, so it cannot stop replays: offer it only where a receiver
/// needs it.
pub fn legacy_sha256(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `X-Signature` header in its SHA-1 form: `sha1=` + hex HMAC-SHA1 of the body. Replayable,
/// like [`legacy_sha256`]; for receivers that only know SHA-1.
pub fn legacy_sha1(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A JWT signed with HS256 (RFC 7519): `claims` as the payload, `{"alg":"HS256","typ":"JWT"}` as
/// the header.
pub fn jwt_hs256(key: &[u8], claims: &serde_json::Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!(
        "{}.{}",
        b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        b64.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::verify::{self, DEFAULT_TOLERANCE, VerifyError};

    #[test]
    fn new_secrets_are_32_random_bytes() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        let key = base64::engine::general_purpose::STANDARD
            .decode(a.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn reproduces_the_standard_webhooks_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let header = standard(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_every_active_secret() {
        let (old, new) = (new_secret().unwrap(), new_secret().unwrap());
        let body = br#"{"type":"delivery.sent"}"#;
        let header = standard(&[&old, &new], "msg_1", 1_700_000_000, body).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        for secret in [&old, &new] {
            assert_eq!(
                verify::standard(
                    secret,
                    Some("msg_1"),
                    Some("1700000000"),
                    Some(&header),
                    body,
                    1_700_000_000,
                    DEFAULT_TOLERANCE
                ),
                Ok(())
            );
        }
        let other = new_secret().unwrap();
        assert_eq!(
            verify::standard(
                &other,
                Some("msg_1"),
                Some("1700000000"),
                Some(&header),
                body,
                1_700_000_000,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            standard(&["not-a-secret"], "msg_1", 0, body),
            Err(BadSecret)
        );
    }

    #[test]
    fn sha1_and_jwt_match_published_values() {
        // RFC 2202 test case 2 (key "Jefe").
        assert_eq!(
            legacy_sha1("Jefe", b"what do ya want for nothing?"),
            "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // jwt.io's example token (HS256, key `your-256-bit-secret`).
        let token = jwt_hs256(
            b"your-256-bit-secret",
            &serde_json::json!({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}),
        );
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        );
    }

    #[test]
    fn legacy_signature_verifies_with_the_legacy_verifier() {
        let header = legacy_sha256("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            header,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(
            verify::legacy_sha256(
                "It's a Secret to Everybody",
                Some(&header),
                b"Hello, World!"
            ),
            Ok(())
        );
    }
}
