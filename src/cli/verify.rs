//! `buildamp verify`: checks a received webhook the way a receiver would, for debugging one.

use std::path::PathBuf;
use std::time::Duration;

use crate::inbound::{sns, verify};

/// Which provider's scheme.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Scheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard,
    /// Svix and Resend: `svix-id`, `svix-timestamp`, `svix-signature`.
    Svix,
    /// `Stripe-Signature`.
    Stripe,
    /// `X-Twilio-Signature`, with `--url` and `--param`.
    Twilio,
    /// `X-Hub-Signature-256`.
    Github,
    /// `X-Slack-Signature` and `X-Slack-Request-Timestamp`.
    Slack,
    /// The body's `signature` object (or `--param timestamp= token= signature=`).
    Mailgun,
    /// SendGrid's Event Webhook; the secret is the base64 public key.
    Sendgrid,
    /// AWS SNS; the secret is the signing certificate (PEM), used instead of a fetch.
    Sns,
    /// `X-Cld-Signature` and `X-Cld-Timestamp`.
    Cloudinary,
    /// `X-Signature: sha256=<hex>`.
    LegacySha256,
}

/// The arguments of `buildamp verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The provider's scheme.
    #[arg(long, value_enum)]
    scheme: Scheme,
    /// The secret, or `@path` to read it from a file (it is never printed).
    #[arg(long)]
    secret: String,
    /// A received header, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// The received body, from a file (exact bytes).
    #[arg(long, conflicts_with = "body")]
    body_file: Option<PathBuf>,
    /// The received body, as text.
    #[arg(long)]
    body: Option<String>,
    /// The URL the provider requested (Twilio).
    #[arg(long)]
    url: Option<String>,
    /// A POST field, `name=value` (repeatable; repeated names allowed).
    #[arg(long = "param")]
    params: Vec<String>,
    /// "Now", as Unix seconds (default: the clock), to check an old capture.
    #[arg(long)]
    now: Option<i64>,
    /// How far the signed timestamp may be from now, in seconds.
    #[arg(long, default_value_t = 300)]
    tolerance: u64,
}

/// Verifies; the error is the reason to print.
pub(crate) fn run(args: Args) -> Result<(), String> {
    let secret = match args.secret.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the secret file {path}: {e}"))?,
        None => args.secret.clone(),
    };
    let secret = if matches!(args.scheme, Scheme::Sns) {
        secret
    } else {
        secret.trim().to_owned()
    };
    let body: Vec<u8> = match (&args.body_file, &args.body) {
        (Some(path), _) => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        (None, Some(text)) => text.clone().into_bytes(),
        (None, None) => Vec::new(),
    };
    let mut headers = Vec::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("`--header {header}` is not `Name: value`"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut params = Vec::new();
    for param in &args.params {
        let (k, v) = param
            .split_once('=')
            .ok_or_else(|| format!("`--param {param}` is not `name=value`"))?;
        params.push((k.to_owned(), v.to_owned()));
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    let tolerance = Duration::from_secs(args.tolerance);
    let result = match args.scheme {
        Scheme::Standard => verify::standard(
            &secret,
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            &body,
            now,
            tolerance,
        ),
        Scheme::Svix => verify::standard(
            &secret,
            header("svix-id"),
            header("svix-timestamp"),
            header("svix-signature"),
            &body,
            now,
            tolerance,
        ),
        Scheme::Stripe => {
            verify::stripe(&secret, header("stripe-signature"), &body, now, tolerance)
        }
        Scheme::Twilio => {
            let url = args
                .url
                .as_deref()
                .ok_or("twilio needs --url, the URL Twilio requested")?;
            let json_body = url.contains("bodySHA256=").then_some(body.as_slice());
            verify::twilio(
                &secret,
                url,
                &params,
                json_body,
                header("x-twilio-signature"),
            )
        }
        Scheme::Github => verify::github(&secret, header("x-hub-signature-256"), &body),
        Scheme::Slack => verify::slack(
            &secret,
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            &body,
            now,
            tolerance,
        ),
        Scheme::Mailgun => {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let signed = &json["signature"];
            let pick = |name: &str| {
                signed[name]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| param(name))
            };
            let (timestamp, token, signature) =
                (pick("timestamp"), pick("token"), pick("signature"));
            verify::mailgun(
                &secret,
                timestamp.as_deref(),
                token.as_deref(),
                signature.as_deref(),
                now,
                tolerance,
            )
        }
        Scheme::Sendgrid => verify::sendgrid(
            &secret,
            header("x-twilio-email-event-webhook-timestamp"),
            header("x-twilio-email-event-webhook-signature"),
            &body,
            now,
            tolerance,
        ),
        Scheme::Sns => {
            let message: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("the body is not an SNS JSON message: {e}"))?;
            sns::signing_cert_url(&message).and_then(|_| sns::verify(&message, &secret, now))
        }
        Scheme::Cloudinary => verify::cloudinary(
            &secret,
            header("x-cld-timestamp"),
            header("x-cld-signature"),
            &body,
            now,
            tolerance,
        ),
        Scheme::LegacySha256 => verify::legacy_sha256(&secret, header("x-signature"), &body),
    };
    result.map_err(|e| e.to_string())
}
