//! Signatures: the only module that knows HMAC, ECDSA and RSA.
//!
//! - [`sign`]: signatures for the callbacks we send (Standard Webhooks v1 by default);
//! - [`verify`]: one pure function per provider scheme, proven against the providers' own
//!   published test vectors (`tests/vectors`);
//! - [`sns`]: AWS SNS/SES messages, RSA-signed with a certificate fetched (once) from AWS.

pub mod sign;
pub mod sns;
pub mod verify;
