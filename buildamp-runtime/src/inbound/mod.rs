//! Providers' status events about what we sent.
//!
//! - [`receive`]: the endpoints for Twilio, Resend and Amazon SES (through SNS) status events: verified (with
//!   [`crate::signing`]), mapped to our executions, recorded durably, then handed to the app's
//!   handlers.
//! - [`timeline`]: a message's delivery timeline from those events, and the state it adds up to
//!   (never moved back by a late event); it and the event types live in [`crate::tracking`].
//!
//! The verifiers, our own signing and SNS live in [`crate::signing`]; they are re-exported here
//! under their earlier paths.

pub mod receive;

/// The delivery timeline (it lives in [`crate::tracking`], with the event types).
pub use crate::tracking::timeline;

pub use crate::signing::{sign, sns, verify};
