//! Protecting destinations from the queue: the rules of the limits every executor shares.
//!
//! Pure, like [`crate::queue`]: the store keeps the state (in the database, so that every
//! executor process sees the same), these functions decide, and the store writes what they
//! decided. A destination is named by a [`LimitKey`]: a customer's endpoint, or a `#[target]`
//! webhook type.

pub mod limit;

pub use limit::{Admission, Decision, LimitKey, Limits, Slot, admit};
