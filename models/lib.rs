//! Every integration from the BuildAmp docs, declared as `#[target]` models, and the event types
//! of the webhooks service.
//!
//! These are the real request bodies of the providers' APIs (see `DESIGN.md` §5 for the facts
//! they follow), so they double as examples and as the input of the Elm code generator.
//!
//! # Layout
//! - `webhooks/email_webhooks.rs`: SendGrid, Mailgun, Postmark;
//! - `webhooks/payment_webhooks.rs`: Stripe, PayPal, Square;
//! - `webhooks/file_webhooks.rs`: Cloudinary, ImageKit, a video transcoding service;
//! - `webhooks/messaging_webhooks.rs`: Twilio SMS, Resend email (with `external_id`, so their
//!   status events map back to executions);
//! - `webhooks/custom_webhooks.rs`: a call to a service of your own;
//! - `events/`: the event types customers' endpoints subscribe to (seed 003's call center:
//!   calls, leads, appointments, notifications), as `#[derive(BuildAmpEvent)]` structs.
//!
//! Development targets: the models with `if_env!("DEVELOPMENT", ...)` send to the local simulator
//! (`http://localhost:4040/test-webhook/<service>`) when `DEVELOPMENT` is set.

pub mod events;
pub mod webhooks;

pub use events::appointment_events::*;
pub use events::call_events::*;
pub use events::lead_events::*;
pub use events::notification_events::*;
pub use webhooks::custom_webhooks::*;
pub use webhooks::email_webhooks::*;
pub use webhooks::file_webhooks::*;
pub use webhooks::messaging_webhooks::*;
pub use webhooks::payment_webhooks::*;
