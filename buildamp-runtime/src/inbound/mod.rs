//! Inbound webhooks: verifying that a delivery really comes from its provider.
//!
//! [`verify`] holds one pure function per scheme, proven against the providers' own published
//! test vectors (`shared/vectors`).

pub mod verify;
