//! Inbound webhooks and our own signed callbacks.
//!
//! - [`verify`]: one pure function per provider scheme, proven against the providers' own
//!   published test vectors (`shared/vectors`);
//! - [`sns`]: AWS SNS/SES messages, RSA-signed with a certificate fetched (once) from AWS;
//! - [`receive`]: the endpoints for Twilio and Resend status events, mapped to our executions;
//! - [`sign`]: signatures for the callbacks we send (Standard Webhooks v1 by default).

pub mod receive;
pub mod sign;
pub mod sns;
pub mod verify;
