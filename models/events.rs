//! The event types customers' endpoints subscribe to (seed 003's call center), one file a family.
//! `buildamp events schema` writes a JSON Schema for each.

pub mod appointment_events;
pub mod call_events;
pub mod lead_events;
pub mod notification_events;
