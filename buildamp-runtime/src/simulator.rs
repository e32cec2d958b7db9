//! Local stand-ins for providers, served at `/test-webhook/{service}`, so a model whose `url` is
//! `if_env!("DEVELOPMENT", "http://localhost:4040/test-webhook/...", ...)` can be exercised
//! without the network. `buildamp simulate --port 4040` serves it.
//!
//! | service | answers |
//! | --- | --- |
//! | `sendgrid` | 202, empty body, an `X-Message-Id` header (as SendGrid does); 400 with SendGrid's `{"errors": [...]}` when a recipient address has no `@`; 401 `Maximum credits exceeded` (SendGrid's answer to an account out of credits) when the sender's address starts with `no-credits@` |
//! | `mailgun` | 200 with Mailgun's `{"id": "<...>", "message": "Queued. Thank you."}` |
//! | `stripe` | 200 with a `payment_intent` object built from the form body |
//! | `paypal` | 201 with an order (`PAYER_ACTION_REQUIRED`) whose `payer-action` link is where the buyer approves it |
//! | `slow` | 200 after `?ms=` milliseconds (default 2000, at most 60000) |
//! | `rate-limited` | 429 with `Retry-After: 1` the first time it sees a request (by `Idempotency-Key`, else by body), then 200 |
//! | `error` | 500 with a JSON error, always |
//! | `reject` | 422 with a SendGrid-style `{"errors": [...]}`, always (a permanent failure) |
//! | anything else | 200 echoing the request, as a generic sink |

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Deserialize;

/// What the simulator remembers: which idempotency keys `rate-limited` has turned away once.
#[derive(Clone, Default)]
struct Seen {
    keys: Arc<Mutex<HashSet<String>>>,
}

/// The simulator's routes, to serve or to mount in an app.
pub fn router() -> Router {
    Router::new()
        .route("/test-webhook/{service}", any(simulate))
        .with_state(Seen::default())
}

#[derive(Deserialize)]
struct SlowQuery {
    ms: Option<u64>,
}

async fn simulate(
    State(seen): State<Seen>,
    Path(service): Path<String>,
    Query(slow): Query<SlowQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match service.as_str() {
        "sendgrid" => match invalid_recipient(&body) {
            Some(field) => json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"errors": [{"message": "Does not contain a valid address.", "field": field, "help": null}]}),
            ),
            None if out_of_credits(&body) => json(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"errors": [{"message": "Maximum credits exceeded", "field": null, "help": null}]}),
            ),
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                (StatusCode::ACCEPTED, [("x-message-id", id)]).into_response()
            }
        },
        "stripe" => {
            let form: Vec<(String, String)> = body_pairs(&body);
            let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let amount: u64 = field("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
            let intent = serde_json::json!({
                "id": format!("pi_{}", &uuid::Uuid::new_v4().simple().to_string()[..24]),
                "object": "payment_intent",
                "amount": amount,
                "currency": field("currency").unwrap_or_else(|| "usd".into()),
                "status": "requires_payment_method",
                "amount_received": 0,
                "payment_method_types": ["card"],
                "metadata": {},
                "created": chrono::Utc::now().timestamp(),
                "livemode": false,
            });
            json(StatusCode::OK, &intent)
        }
        "mailgun" => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            json(
                StatusCode::OK,
                &serde_json::json!({"id": format!("<{id}@sandbox.mailgun.org>"), "message": "Queued. Thank you."}),
            )
        }
        "paypal" => {
            let id = uuid::Uuid::new_v4().simple().to_string()[..17].to_uppercase();
            json(
                StatusCode::CREATED,
                &serde_json::json!({
                    "id": id,
                    "status": "PAYER_ACTION_REQUIRED",
                    "payment_source": {"paypal": {}},
                    "links": [
                        {"href": format!("https://api-m.sandbox.paypal.com/v2/checkout/orders/{id}"), "rel": "self", "method": "GET"},
                        {"href": format!("https://www.sandbox.paypal.com/checkoutnow?token={id}"), "rel": "payer-action", "method": "GET"}
                    ]
                }),
            )
        }
        "slow" => {
            let ms = slow.ms.unwrap_or(2000).min(60_000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json(StatusCode::OK, &serde_json::json!({"waited_ms": ms}))
        }
        "rate-limited" => {
            let key = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
                Some(key) => key.to_owned(),
                None => String::from_utf8_lossy(&body).into_owned(),
            };
            let first_time = seen.keys.lock().expect("simulator lock").insert(key);
            if first_time {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "1")],
                    "slow down",
                )
                    .into_response()
            } else {
                json(StatusCode::OK, &serde_json::json!({"ok": true}))
            }
        }
        "reject" => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &serde_json::json!({"errors": [{"message": "The to address is not valid", "field": "to"}]}),
        ),
        "error" => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({"error": "simulated outage"}),
        ),
        _ => json(
            StatusCode::OK,
            &serde_json::json!({"service": service, "received_bytes": body.len()}),
        ),
    }
}

/// The path of the first recipient whose address has no `@`, as SendGrid names it.
fn invalid_recipient(body: &[u8]) -> Option<String> {
    let mail: serde_json::Value = serde_json::from_slice(body).ok()?;
    for (p, personalization) in mail["personalizations"].as_array()?.iter().enumerate() {
        for (t, to) in personalization["to"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if !to["email"].as_str().is_some_and(|e| e.contains('@')) {
                return Some(format!("personalizations.{p}.to.{t}.email"));
            }
        }
    }
    None
}

/// Whether the sender's address starts with `no-credits@`: the simulated account is out of credits.
fn out_of_credits(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|mail| {
        mail["from"]["email"]
            .as_str()
            .is_some_and(|e| e.starts_with("no-credits@"))
    })
}

fn body_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Serves the simulator on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await
}
