//! BuildAmp: declare external HTTP integrations and webhooks as typed Rust structs, and deliver
//! them reliably.
//!
//! ```
//! use buildamp::{BuildAmpWebhook, Webhook};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, BuildAmpWebhook)]
//! #[target(
//!     url = "https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages",
//!     method = "POST",
//!     auth = "Basic api:{MAILGUN_API_KEY}",
//!     content_type = "multipart/form-data",
//!     timeout = "30s",
//!     retry_policy = "exponential"
//! )]
//! pub struct MailgunEmail {
//!     pub from: String,
//!     pub to: Vec<String>,
//!     pub subject: String,
//!     pub text: Option<String>,
//! }
//!
//! let target = MailgunEmail::target();
//! assert_eq!(target.method.as_str(), "POST");
//! assert!(buildamp::registry::find("MailgunEmail").is_some());
//! ```
//!
//! # `#[target(...)]` keys
//! | key | value | default |
//! | --- | --- | --- |
//! | `url` | `"https://host/{VAR}/path"` (placeholders read at send time), `env!("VAR")` (the whole URL at run time), or `if_env!("VAR", when_set, otherwise)` | required |
//! | `method` | `"GET"`, `"POST"`, `"PUT"`, `"PATCH"`, `"DELETE"` (GET and DELETE send a query string) | `"POST"` |
//! | `auth` | `"Bearer {VAR}"`, `"Basic {USER}:{PASS}"`, `"Header-Name: {VAR}"`, or `if_env!` of these (`""` for none) | none |
//! | `headers` | `{ "Name" = "value", ... }`, values may hold `{VAR}` | none |
//! | `content_type` | `"application/json"`, `"application/x-www-form-urlencoded"`, `"multipart/form-data"` | JSON |
//! | `form_lists` | how a form body or query string writes lists: `"brackets"` (`key[0]=a&key[1]=b`, Stripe's) or `"repeat"` (`key=a&key=b`, Twilio's) | `"brackets"` |
//! | `file_upload` | `true`: multipart, `Vec<u8>` fields become file parts | `false` |
//! | `timeout` | `"500ms"`, `"30s"`, `"5m"`, `"1h"` | `"30s"` |
//! | `retry_policy` | `"exponential"` (1 s, 2 s, 4 s, … capped at 300 s), `"fixed"` (30 s), `"none"` | `"exponential"` |
//! | `backoff` | an explicit schedule, `["4s", "8s", "10s"]` (the last repeats); replaces `retry_policy` | — |
//! | `max_attempts` | attempts in all, the first included | `3` (`1` with `"none"`) |
//! | `retry_on` | extra retryable statuses, `[409, 423]` (408, 429 and 5xx always are) | none |
//! | `max_concurrency` | deliveries in flight to this target at once | unlimited |
//! | `rate_limit` | `"100/min"`, `"10/s"`, `"1000/h"` | unlimited |
//! | `idempotency_header` | a header carrying the execution id, e.g. `"Idempotency-Key"` | none |
//! | `server_only` | `true`: never exposed to the frontend | `false` |
//! | `response` | the type a 2xx body is (`response = StripePaymentIntentResponse`, a path, not a string): a body that is not one is recorded on the execution, which still counts as sent | none |
//! | `error` | the type of the provider's refusals (`error = StripeError`), handed to `on_failure::<W>` handlers | none |
//!
//! Credentials are never written in a model: `auth` must name environment variables, and values
//! are read when a request is built, never stored.

//!
//! # Event types
//! Webhooks to your own customers start from an event type, a struct the customers' endpoints
//! subscribe to by name (see the README's "The webhooks service"):
//!
//! ```
//! use buildamp::{BuildAmpEvent, Event};
//! use serde::{Deserialize, Serialize};
//!
//! /// A new lead was created.
//! #[derive(Serialize, Deserialize, BuildAmpEvent)]
//! #[event(name = "crm.lead_created", version = "1.0")]
//! pub struct LeadCreated {
//!     pub id: String,
//!     pub score: u32,
//! }
//!
//! assert_eq!(LeadCreated::NAME, "crm.lead_created");
//! assert_eq!(LeadCreated::DESCRIPTION, "A new lead was created.");
//! assert!(buildamp::service::find_event_type("crm.lead_created").is_some());
//! // lead.publish(&runtime).await? stores it and one delivery per subscribed endpoint.
//! ```

pub use buildamp_macros::{BuildAmpEvent, BuildAmpWebhook};

#[cfg(feature = "cli")]
pub mod cli;
pub use buildamp_runtime::*;
