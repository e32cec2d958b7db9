//! The typed trigger surface: `payload.trigger(queue)` hands the serialized payload, its target and
//! options to any `Enqueue`, and reports failures as typed errors. Also the registry's start-up
//! check over every registered model.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use buildamp::{
    BuildAmpWebhook, Enqueue, Enqueued, ExecutionId, NewExecution, RunAt, TriggerError, Webhook,
};
use buildamp_models::{CustomAPICall, SendGridEmail};
use serde::{Deserialize, Serialize};

/// A queue that keeps what it is given, so the test can read what a trigger produced.
#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<NewExecution>>,
}

impl Enqueue for &Recorder {
    async fn enqueue(
        self,
        execution: NewExecution,
    ) -> Result<Enqueued, Box<dyn std::error::Error + Send + Sync>> {
        self.received.lock().unwrap().push(execution);
        Ok(Enqueued {
            id: ExecutionId::new(),
            deduplicated: false,
        })
    }
}

/// A queue that refuses everything, like a store whose database is down.
struct Refusing;

impl Enqueue for Refusing {
    async fn enqueue(
        self,
        _: NewExecution,
    ) -> Result<Enqueued, Box<dyn std::error::Error + Send + Sync>> {
        Err("connection refused".into())
    }
}

fn custom_call() -> CustomAPICall {
    CustomAPICall {
        operation: "reindex".into(),
        data: serde_json::json!({"shard": 3}),
    }
}

#[tokio::test]
async fn trigger_hands_payload_target_and_options_to_the_queue() {
    let queue = Recorder::default();
    let correlation = uuid::Uuid::now_v7();
    let enqueued = custom_call()
        .trigger(&queue)
        .correlation_id(correlation)
        .idempotency_key("order-42")
        .delay(Duration::from_secs(5))
        .application("shop")
        .host("shop.example.com")
        .await
        .expect("the recorder accepts everything");
    assert!(!enqueued.deduplicated);

    let received = queue.received.lock().unwrap();
    let [execution] = received.as_slice() else {
        panic!("expected one execution, got {}", received.len())
    };
    assert_eq!(execution.webhook_type, "CustomAPICall");
    assert!(std::ptr::eq(execution.target, CustomAPICall::target()));
    assert_eq!(
        execution.payload,
        serde_json::json!({"operation": "reindex", "data": {"shard": 3}})
    );
    let options = &execution.options;
    assert_eq!(options.correlation_id, Some(correlation));
    assert_eq!(options.idempotency_key.as_deref(), Some("order-42"));
    assert_eq!(options.run_at, Some(RunAt::After(Duration::from_secs(5))));
    assert_eq!(options.application.as_deref(), Some("shop"));
    assert_eq!(options.host.as_deref(), Some("shop.example.com"));
}

#[tokio::test]
async fn trigger_without_options_is_due_now() {
    let queue = Recorder::default();
    custom_call().trigger(&queue).await.unwrap();
    let received = queue.received.lock().unwrap();
    assert_eq!(received[0].options, buildamp::TriggerOptions::default());
}

#[tokio::test]
async fn a_refusing_queue_is_reported_with_the_webhook_and_its_reason() {
    let err = custom_call().trigger(Refusing).await.unwrap_err();
    assert!(matches!(
        err,
        TriggerError::Enqueue {
            webhook: "CustomAPICall",
            ..
        }
    ));
    assert_eq!(err.to_string(), "cannot enqueue `CustomAPICall`");
    let source = std::error::Error::source(&err).expect("the queue's reason is the source");
    assert_eq!(source.to_string(), "connection refused");
}

/// serde_json refuses maps whose keys are not strings: the trigger must say so, not panic.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/grid")]
pub struct Grid {
    /// Cells by (row, column).
    pub cells: BTreeMap<(u8, u8), String>,
}

#[tokio::test]
async fn an_unserializable_payload_fails_before_reaching_the_queue() {
    let queue = Recorder::default();
    let grid = Grid {
        cells: [((0, 0), "x".to_owned())].into(),
    };
    let err = grid.trigger(&queue).await.unwrap_err();
    assert!(matches!(
        err,
        TriggerError::Payload {
            webhook: "Grid",
            ..
        }
    ));
    assert!(queue.received.lock().unwrap().is_empty());
}

#[test]
fn startup_check_lists_every_missing_variable_with_its_webhooks() {
    let err = buildamp::registry::check(&[] as &[(&str, &str)]).unwrap_err();
    assert!(err.duplicates.is_empty());
    let missing: BTreeMap<&str, Vec<&str>> = err.missing_env_vars.iter().cloned().collect();
    assert_eq!(missing["SENDGRID_API_KEY"], ["SendGridEmail"]);
    assert_eq!(missing["MAILGUN_DOMAIN"], ["MailgunEmail"]);
    assert_eq!(missing["CUSTOM_SERVICE_URL"], ["CustomAPICall"]);
    assert_eq!(
        missing["CLOUDINARY_API_SECRET"],
        ["CloudinaryUpload"],
        "every variable of a template is checked, not only the first"
    );
    let message = err.to_string();
    assert!(
        message
            .contains("environment variable `POSTMARK_TOKEN` is not set (needed by PostmarkEmail)")
    );
}

#[test]
fn startup_check_follows_if_env_choices() {
    // In development, SendGrid and Stripe target the simulator and need no key.
    let err = buildamp::registry::check(&[("DEVELOPMENT", "1")]).unwrap_err();
    let vars: Vec<&str> = err.missing_env_vars.iter().map(|(v, _)| *v).collect();
    assert!(!vars.contains(&"SENDGRID_API_KEY"), "{vars:?}");
    assert!(!vars.contains(&"STRIPE_SECRET_KEY"), "{vars:?}");
    assert!(vars.contains(&"POSTMARK_TOKEN"));
}

#[test]
fn secrets_resolve_from_the_environment_at_send_time() {
    let target = SendGridEmail::target();
    let env = [("SENDGRID_API_KEY", "SG.test")];
    let auth = target.auth.select(&env);
    let buildamp::target::Auth::Bearer(key) = auth else {
        panic!("expected Bearer, got {auth:?}")
    };
    assert_eq!(key.resolve(&env).unwrap(), "SG.test");
    assert!(
        !key.is_literal(),
        "a template with a placeholder is never stored"
    );
    let url = target.url.select(&env).resolve(&env).unwrap();
    assert_eq!(url, "https://api.sendgrid.com/v3/mail/send");
    let dev = [("DEVELOPMENT", "true")];
    assert_eq!(
        target.url.select(&dev).resolve(&dev).unwrap(),
        "http://localhost:4040/test-webhook/sendgrid"
    );
}

/// What the simulator answers, as the models' declared answer types read it: the quickstart's
/// typed handlers depend on it.
#[tokio::test]
async fn the_simulator_answers_in_the_models_declared_shapes() {
    use axum::body::Body;
    use buildamp::target::parse_as;
    use buildamp_models::{
        MailgunResponse, PayPalOrderResponse, PayPalOrderStatus, SendGridErrors,
        StripePaymentIntentResponse,
    };
    use tower::ServiceExt;

    async fn answer(service: &str, content_type: &str, body: &str) -> (u16, Vec<u8>) {
        let request = axum::http::Request::post(format!("/test-webhook/{service}"))
            .header("content-type", content_type)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = buildamp::simulator::router()
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    let mail = |from: &str, to: &str| {
        serde_json::json!({"personalizations": [{"to": [{"email": to}]}], "from": {"email": from}})
            .to_string()
    };
    let json = "application/json";
    let (status, body) = answer("sendgrid", json, &mail("no-credits@example.com", "a@b.c")).await;
    let refused: SendGridErrors = parse_as(&body).unwrap();
    assert_eq!(
        (
            status,
            refused.errors[0].message.as_str(),
            &refused.errors[0].field
        ),
        (401, "Maximum credits exceeded", &None)
    );
    let (status, body) = answer("sendgrid", json, &mail("app@example.com", "nobody")).await;
    let refused: SendGridErrors = parse_as(&body).unwrap();
    assert_eq!(
        (status, refused.errors[0].field.as_deref()),
        (400, Some("personalizations.0.to.0.email"))
    );
    assert_eq!(
        answer("sendgrid", json, &mail("app@example.com", "a@b.c"))
            .await
            .0,
        202
    );

    let (status, body) = answer("mailgun", "multipart/form-data; boundary=x", "--x--").await;
    let queued: MailgunResponse = parse_as(&body).unwrap();
    assert_eq!(status, 200);
    assert!(queued.id.starts_with('<') && queued.id.ends_with("@sandbox.mailgun.org>"));

    let form = "application/x-www-form-urlencoded";
    let (status, body) = answer("stripe", form, "amount=2000&currency=eur").await;
    let intent: StripePaymentIntentResponse = parse_as(&body).unwrap();
    assert_eq!(
        (status, intent.amount, intent.currency.as_str()),
        (200, 2000, "eur")
    );

    let (status, body) = answer("paypal", json, r#"{"intent": "CAPTURE"}"#).await;
    let order: PayPalOrderResponse = parse_as(&body).unwrap();
    assert_eq!(
        (status, order.status),
        (201, PayPalOrderStatus::PayerActionRequired)
    );
    assert_eq!(
        order.approval_url(),
        Some(
            format!(
                "https://www.sandbox.paypal.com/checkoutnow?token={}",
                order.id
            )
            .as_str()
        )
    );
}
