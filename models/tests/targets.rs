//! Each integration's target, read from its model file by the code generator's reader (the same
//! parser the derive uses), and the static target the derive compiled into the crate.

use std::path::Path;
use std::time::Duration;

use buildamp::Webhook;
use buildamp::target as rt;
use buildamp_codegen::ir::{
    Auth, BodyEncoding, Choice, Exposure, ExternalId, FormLists, Method, RetryPolicy, Target,
    Template, UrlSource,
};

fn models() -> Vec<(String, String, Target)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("webhooks");
    buildamp_codegen::models::read_dir(&dir)
        .unwrap_or_else(|e| panic!("models do not parse:\n{e}"))
        .into_iter()
        .map(|s| {
            let file = s.file.file_name().unwrap().to_string_lossy().into_owned();
            (s.webhook.name, file, s.webhook.target)
        })
        .collect()
}

fn target(name: &str) -> (String, Target) {
    models()
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, file, target)| (file, target))
        .unwrap_or_else(|| panic!("{name} is not in models/webhooks"))
}

fn url(t: &Target) -> (&str, Vec<&str>) {
    match &t.url {
        Choice::Fixed(UrlSource::Template(tpl)) => (tpl.source.as_str(), tpl.vars()),
        other => panic!("expected a fixed URL template, got {other:?}"),
    }
}

/// A target that goes to the simulator's `service` in development (no auth there): its
/// production URL template and auth.
fn simulated<'t>(t: &'t Target, service: &str) -> (&'t Template, &'t Auth) {
    let Choice::IfEnv {
        var,
        when_set: UrlSource::Template(dev),
        otherwise: UrlSource::Template(prod),
    } = &t.url
    else {
        panic!("expected if_env! URL, got {:?}", t.url)
    };
    assert_eq!(var, "DEVELOPMENT");
    assert_eq!(
        dev.source,
        format!("http://localhost:4040/test-webhook/{service}")
    );
    let Choice::IfEnv {
        when_set: Auth::None,
        otherwise: auth,
        ..
    } = &t.auth
    else {
        panic!(
            "expected no auth in development, some otherwise: {:?}",
            t.auth
        )
    };
    (prod, auth)
}

fn auth(t: &Target) -> &Auth {
    match &t.auth {
        Choice::Fixed(a) => a,
        other => panic!("expected fixed auth, got {other:?}"),
    }
}

fn auth_vars(a: &Auth) -> Vec<&str> {
    match a {
        Auth::Bearer(t) | Auth::Basic(t) | Auth::Header { value: t, .. } => t.vars(),
        Auth::None => vec![],
    }
}

/// How the body is encoded, the timeout in seconds, and the retry policy.
fn delivery(t: &Target) -> (BodyEncoding, u64, &RetryPolicy) {
    (t.encoding, t.timeout.as_secs(), &t.retry)
}

const EXPONENTIAL: RetryPolicy = RetryPolicy::Exponential {
    initial: Duration::from_secs(1),
    multiplier: 2,
    max: Duration::from_secs(300),
};

#[test]
fn every_integration_is_declared_in_its_file() {
    let mut found: Vec<(String, String)> = models().into_iter().map(|(n, f, _)| (f, n)).collect();
    found.sort();
    let expected = [
        ("custom_webhooks.rs", "CustomAPICall"),
        ("email_webhooks.rs", "MailgunEmail"),
        ("email_webhooks.rs", "PostmarkEmail"),
        ("email_webhooks.rs", "SendGridEmail"),
        ("file_webhooks.rs", "CloudinaryUpload"),
        ("file_webhooks.rs", "ImageKitUpload"),
        ("file_webhooks.rs", "VideoTranscode"),
        ("messaging_webhooks.rs", "ResendEmail"),
        ("messaging_webhooks.rs", "TwilioSms"),
        ("payment_webhooks.rs", "PayPalOrder"),
        ("payment_webhooks.rs", "SquarePayment"),
        ("payment_webhooks.rs", "StripePaymentIntent"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, n)| (f.to_string(), n.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn sendgrid_is_json_with_bearer_and_a_development_simulator() {
    let (_, t) = target("SendGridEmail");
    assert_eq!(t.method, Method::Post);
    let (prod, auth) = simulated(&t, "sendgrid");
    assert_eq!(prod.source, "https://api.sendgrid.com/v3/mail/send");
    let Auth::Bearer(key) = auth else {
        panic!("expected Bearer, got {auth:?}")
    };
    assert_eq!(key.vars(), ["SENDGRID_API_KEY"]);
    assert_eq!(t.encoding, BodyEncoding::Json);
    assert_eq!(t.timeout, Duration::from_secs(30));
    assert_eq!(t.retry, EXPONENTIAL);
    assert_eq!(t.max_attempts, None, "the runtime's default budget");
    assert_eq!(t.exposure, Exposure::Frontend);
}

#[test]
fn mailgun_is_multipart_with_basic_api_colon_key() {
    let (_, t) = target("MailgunEmail");
    assert_eq!(t.method, Method::Post);
    let (prod, auth) = simulated(&t, "mailgun");
    assert_eq!(
        (prod.source.as_str(), prod.vars()),
        (
            "https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages",
            vec!["MAILGUN_DOMAIN"]
        )
    );
    let Auth::Basic(credentials) = auth else {
        panic!("expected Basic")
    };
    assert_eq!(credentials.source, "api:{MAILGUN_API_KEY}");
    assert_eq!(delivery(&t), (BodyEncoding::Multipart, 30, &EXPONENTIAL));
}

#[test]
fn postmark_sends_its_token_in_its_own_header() {
    let (_, t) = target("PostmarkEmail");
    assert_eq!(url(&t), ("https://api.postmarkapp.com/email", vec![]));
    let Auth::Header { name, value } = auth(&t) else {
        panic!("expected a header auth")
    };
    assert_eq!(
        (name.as_str(), value.vars()),
        ("X-Postmark-Server-Token", vec!["POSTMARK_TOKEN"])
    );
    assert_eq!(t.headers.len(), 1);
    assert_eq!(
        (
            t.headers[0].name.as_str(),
            t.headers[0].value.source.as_str()
        ),
        ("Accept", "application/json")
    );
    assert_eq!(delivery(&t), (BodyEncoding::Json, 30, &EXPONENTIAL));
    assert_eq!(t.method, Method::Post);
}

#[test]
fn stripe_is_form_encoded_with_an_idempotency_key() {
    let (_, t) = target("StripePaymentIntent");
    let Choice::IfEnv {
        otherwise: UrlSource::Template(prod),
        ..
    } = &t.url
    else {
        panic!()
    };
    assert_eq!(prod.source, "https://api.stripe.com/v1/payment_intents");
    let Choice::IfEnv {
        otherwise: Auth::Bearer(key),
        ..
    } = &t.auth
    else {
        panic!()
    };
    assert_eq!(key.vars(), ["STRIPE_SECRET_KEY"]);
    assert_eq!(delivery(&t), (BodyEncoding::Form, 30, &EXPONENTIAL));
    assert_eq!(t.form_lists, FormLists::Brackets, "Stripe indexes lists");
    // Pinned, so each field means what the version the model was written from says.
    assert_eq!(
        t.headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.source.as_str()))
            .collect::<Vec<_>>(),
        [("Stripe-Version", "2026-09-30.endive")]
    );
    assert_eq!(t.idempotency_header.as_deref(), Some("Idempotency-Key"));
    assert_eq!(t.method, Method::Post);
}

#[test]
fn paypal_dedupes_with_paypal_request_id() {
    let (_, t) = target("PayPalOrder");
    let (prod, auth) = simulated(&t, "paypal");
    assert_eq!(prod.source, "https://api-m.paypal.com/v2/checkout/orders");
    assert!(matches!(auth, Auth::Bearer(k) if k.vars() == ["PAYPAL_ACCESS_TOKEN"]));
    assert_eq!(t.idempotency_header.as_deref(), Some("PayPal-Request-Id"));
    assert_eq!(delivery(&t), (BodyEncoding::Json, 60, &EXPONENTIAL));
}

#[test]
fn square_pins_its_api_version() {
    let (_, t) = target("SquarePayment");
    assert_eq!(
        url(&t),
        ("https://connect.squareup.com/v2/payments", vec![])
    );
    assert!(matches!(auth(&t), Auth::Bearer(k) if k.vars() == ["SQUARE_ACCESS_TOKEN"]));
    assert_eq!(t.headers[0].name, "Square-Version");
    assert_eq!(delivery(&t), (BodyEncoding::Json, 30, &EXPONENTIAL));
}

#[test]
fn cloudinary_uploads_multipart_with_key_and_secret() {
    let (_, t) = target("CloudinaryUpload");
    assert_eq!(
        url(&t),
        (
            "https://api.cloudinary.com/v1_1/{CLOUD_NAME}/image/upload",
            vec!["CLOUD_NAME"]
        )
    );
    let a = auth(&t);
    assert!(matches!(a, Auth::Basic(_)));
    assert_eq!(
        auth_vars(a),
        ["CLOUDINARY_API_KEY", "CLOUDINARY_API_SECRET"]
    );
    assert_eq!(delivery(&t), (BodyEncoding::Multipart, 120, &EXPONENTIAL));
}

#[test]
fn imagekit_uploads_with_private_key_and_empty_password() {
    let (_, t) = target("ImageKitUpload");
    assert_eq!(
        url(&t),
        ("https://upload.imagekit.io/api/v1/files/upload", vec![])
    );
    let Auth::Basic(credentials) = auth(&t) else {
        panic!("expected Basic")
    };
    assert_eq!(credentials.source, "{IMAGEKIT_PRIVATE_KEY}:");
    assert_eq!(delivery(&t), (BodyEncoding::Multipart, 120, &EXPONENTIAL));
}

#[test]
fn video_transcode_allows_five_minutes() {
    let (_, t) = target("VideoTranscode");
    assert_eq!(
        url(&t),
        ("https://api.video-service.com/v1/transcode", vec![])
    );
    assert!(matches!(auth(&t), Auth::Bearer(k) if k.vars() == ["VIDEO_SERVICE_TOKEN"]));
    assert_eq!(delivery(&t), (BodyEncoding::Json, 300, &EXPONENTIAL));
}

#[test]
fn custom_call_reads_its_url_at_run_time_and_stays_server_only() {
    let (_, t) = target("CustomAPICall");
    assert_eq!(
        t.url,
        Choice::Fixed(UrlSource::Env("CUSTOM_SERVICE_URL".into()))
    );
    assert_eq!(auth(&t), &Auth::None);
    assert_eq!(t.encoding, BodyEncoding::Json);
    assert_eq!(t.timeout, Duration::from_secs(60));
    assert_eq!(
        t.retry,
        RetryPolicy::Schedule(vec![
            Duration::from_secs(4),
            Duration::from_secs(8),
            Duration::from_secs(10)
        ])
    );
    assert_eq!(
        (t.max_attempts, t.retry_on.as_slice(), t.max_concurrency),
        (Some(4), &[409][..], Some(10))
    );
    assert_eq!(
        t.rate_limit.map(|r| (r.count, r.per)),
        Some((100, Duration::from_secs(60)))
    );
    assert_eq!(t.exposure, Exposure::ServerOnly);
}

#[test]
fn twilio_and_resend_say_where_their_message_id_is() {
    let (_, t) = target("TwilioSms");
    assert_eq!(
        url(&t),
        (
            "https://api.twilio.com/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json",
            vec!["TWILIO_ACCOUNT_SID"]
        )
    );
    assert_eq!(
        auth_vars(auth(&t)),
        ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
    );
    assert!(matches!(auth(&t), Auth::Basic(_)));
    assert_eq!(t.encoding, BodyEncoding::Form);
    // Twilio's API definition writes list parameters (`MediaUrl`) as the key repeated.
    assert_eq!(t.form_lists, FormLists::Repeat);
    assert_eq!(
        buildamp_models::TwilioSms::target().form_lists,
        rt::FormLists::Repeat
    );
    assert_eq!(t.external_id, Some(ExternalId::Json("/sid".into())));
    let (_, t) = target("ResendEmail");
    assert!(matches!(auth(&t), Auth::Bearer(_)));
    assert_eq!(delivery(&t).0, BodyEncoding::Json);
    assert_eq!(t.external_id, Some(ExternalId::Json("/id".into())));
    assert_eq!(t.idempotency_header.as_deref(), Some("Idempotency-Key"));
    assert_eq!(
        buildamp_models::TwilioSms::target().external_id,
        Some(rt::ExternalId::Json("/sid"))
    );
}

#[test]
fn compiled_targets_match_the_ir() {
    // The derive compiled the same model into statics: spot-check that the two views agree.
    let t = buildamp_models::MailgunEmail::target();
    let rt::Choice::IfEnv {
        var: "DEVELOPMENT",
        otherwise: rt::UrlSource::Template(url),
        ..
    } = &t.url
    else {
        panic!("{:?}", t.url)
    };
    assert_eq!(
        url.source,
        "https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages"
    );
    assert_eq!(t.encoding, rt::BodyEncoding::Multipart);
    let t = buildamp_models::CustomAPICall::target();
    assert!(t.server_only);
    assert!(matches!(
        t.url,
        rt::Choice::Fixed(rt::UrlSource::Env("CUSTOM_SERVICE_URL"))
    ));
    assert_eq!(t.retry.delay_after(3), Some(Duration::from_secs(10)));
    assert_eq!(
        buildamp_models::VideoTranscode::target().timeout,
        Duration::from_secs(300)
    );
}

#[test]
fn every_model_is_registered_by_name() {
    let names: Vec<&str> = buildamp::registry::webhooks()
        .iter()
        .map(|r| r.name())
        .collect();
    for (name, _, _) in models() {
        assert!(
            names.contains(&name.as_str()),
            "{name} is not registered: {names:?}"
        );
    }
    let stripe = buildamp::registry::find("StripePaymentIntent").expect("registered");
    assert_eq!(stripe.target().idempotency_header, Some("Idempotency-Key"));
}

#[test]
fn wire_formats_follow_the_providers() {
    use buildamp_models::*;
    let postmark = PostmarkEmail {
        from: "a@example.com".into(),
        to: "b@example.com".into(),
        cc: None,
        bcc: None,
        subject: "Hi".into(),
        html_body: None,
        text_body: Some("Hello".into()),
        reply_to: None,
        tag: None,
        track_opens: Some(true),
        metadata: Default::default(),
        message_stream: None,
    };
    assert_eq!(
        serde_json::to_value(&postmark).unwrap(),
        serde_json::json!({"From": "a@example.com", "To": "b@example.com", "Subject": "Hi", "TextBody": "Hello", "TrackOpens": true})
    );
    let sendgrid = SendGridEmail {
        personalizations: vec![Personalization {
            to: vec![EmailAddress {
                email: "b@example.com".into(),
                name: None,
            }],
            cc: vec![],
            bcc: vec![],
            subject: None,
            dynamic_template_data: None,
        }],
        from: EmailAddress {
            email: "a@example.com".into(),
            name: Some("A".into()),
        },
        reply_to: None,
        subject: Some("Hi".into()),
        content: vec![EmailContent {
            mime_type: "text/plain".into(),
            value: "Hello".into(),
        }],
        template_id: None,
        categories: vec![],
    };
    assert_eq!(
        serde_json::to_value(&sendgrid).unwrap(),
        serde_json::json!({
            "personalizations": [{"to": [{"email": "b@example.com"}]}],
            "from": {"email": "a@example.com", "name": "A"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "Hello"}]
        })
    );
    round_trips::<PayPalOrder>(
        serde_json::json!({"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "USD", "value": "10.00"}}]}),
    );
    // The create-order request example of PayPal's Orders v2 definition (its
    // `payment_method_selected`, which the definition of the experience context does not list,
    // left out).
    let order = round_trips::<PayPalOrder>(serde_json::json!({
        "intent": "CAPTURE",
        "purchase_units": [{
            "reference_id": "d9f80740-38f0-11e8-b467-0ed5f89f718b",
            "amount": {"currency_code": "USD", "value": "100.00"}
        }],
        "payment_source": {"paypal": {"experience_context": {
            "payment_method_preference": "IMMEDIATE_PAYMENT_REQUIRED",
            "brand_name": "EXAMPLE INC",
            "locale": "en-US",
            "landing_page": "LOGIN",
            "user_action": "PAY_NOW",
            "return_url": "https://example.com/returnUrl",
            "cancel_url": "https://example.com/cancelUrl"
        }}}
    }));
    let context = order
        .payment_source
        .unwrap()
        .paypal
        .experience_context
        .unwrap();
    assert_eq!(
        context.user_action,
        Some(buildamp_models::PayPalUserAction::PayNow)
    );
    round_trips::<ImageKitUpload>(
        serde_json::json!({"file": [1, 2], "fileName": "a.png", "useUniqueFileName": false}),
    );
    let mailgun = round_trips::<MailgunEmail>(
        serde_json::json!({"from": "a@x", "to": ["b@x", "c@x"], "subject": "s", "o:tracking": "yes"}),
    );
    assert_eq!(mailgun.tracking, Some(YesNo::Yes));
}

/// Deserializes the provider's JSON and serializes it back unchanged.
fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned>(json: serde_json::Value) -> T {
    let parsed: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), json);
    parsed
}

#[test]
fn file_parts_use_serde_wire_names() {
    // `file_data` is renamed `file` for Cloudinary; ImageKit's is `file` by name.
    assert_eq!(
        buildamp_models::CloudinaryUpload::target().file_fields,
        ["file"]
    );
    assert_eq!(
        buildamp_models::ImageKitUpload::target().file_fields,
        ["file"]
    );
    assert!(
        buildamp_models::MailgunEmail::target()
            .file_fields
            .is_empty()
    );
}

/// The body a model's target sends, as `key=value` pairs in order.
fn form_of<W: Webhook>(payload: &W) -> Vec<String> {
    let json = serde_json::to_value(payload).unwrap();
    let body = buildamp::delivery::encode::form(&json, W::target().form_lists).unwrap();
    body.split('&').map(str::to_owned).collect()
}

#[test]
fn stripe_and_twilio_bodies_are_what_their_api_references_show() {
    use buildamp_models::{AutomaticPaymentMethods, StripePaymentIntent, TwilioSms};
    // Stripe's "Create a PaymentIntent" example (`-d amount=2000 -d currency=usd
    // -d "automatic_payment_methods[enabled]"=true`), and a list in its bracket convention.
    let mut payment = StripePaymentIntent {
        amount: 2000,
        currency: "usd".into(),
        customer: None,
        description: None,
        receipt_email: None,
        metadata: Default::default(),
        allowed_payment_method_types: vec![],
        excluded_payment_method_types: vec![],
        automatic_payment_methods: Some(AutomaticPaymentMethods { enabled: true }),
    };
    let mut pairs = form_of(&payment);
    pairs.sort();
    assert_eq!(
        pairs,
        [
            "amount=2000",
            "automatic_payment_methods[enabled]=true",
            "currency=usd"
        ]
    );
    payment.automatic_payment_methods = None;
    payment.allowed_payment_method_types = vec!["card".into(), "link".into()];
    let pairs = form_of(&payment);
    assert!(
        pairs.contains(&"allowed_payment_method_types[0]=card".to_owned())
            && pairs.contains(&"allowed_payment_method_types[1]=link".to_owned()),
        "{pairs:?}"
    );
    // Twilio's "Send an MMS" example: `--data-urlencode "MediaUrl=https://…"` once per URL.
    let sms = TwilioSms {
        to: "+15558675310".into(),
        from: "+15017122661".into(),
        body: "Hi".into(),
        media_url: vec![
            "https://demo.twilio.com/owl.png".into(),
            "https://demo.twilio.com/logo.png".into(),
        ],
        status_callback: None,
    };
    let media: Vec<String> = form_of(&sms)
        .into_iter()
        .filter(|p| p.starts_with("MediaUrl"))
        .collect();
    assert_eq!(
        media,
        [
            "MediaUrl=https%3A%2F%2Fdemo.twilio.com%2Fowl.png",
            "MediaUrl=https%3A%2F%2Fdemo.twilio.com%2Flogo.png"
        ]
    );
}
