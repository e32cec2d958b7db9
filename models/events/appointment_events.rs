//! Appointments: scheduled, confirmed, rescheduled, reminded, cancelled, completed.

use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

/// An appointment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    /// The appointment's id.
    pub id: String,
    /// The lead it is with, if any.
    pub lead_id: Option<String>,
    /// The agent who holds it, if assigned.
    pub agent_id: Option<String>,
    /// RFC 3339.
    pub starts_at: String,
    /// Minutes.
    pub duration_minutes: u32,
    /// `phone`, `video` or `in_person`.
    pub channel: String,
}

/// A new appointment was scheduled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "appointment.scheduled", version = "1.0")]
pub struct AppointmentScheduled {
    /// The new appointment.
    pub appointment: Appointment,
}

/// The customer confirmed the appointment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "appointment.confirmed", version = "1.0")]
pub struct AppointmentConfirmed {
    /// The confirmed appointment.
    pub appointment: Appointment,
}

/// The appointment was cancelled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "appointment.cancelled", version = "1.0")]
pub struct AppointmentCancelled {
    /// The cancelled appointment.
    pub appointment: Appointment,
    /// Why, when given.
    pub reason: Option<String>,
    /// `customer` or `agent`.
    pub cancelled_by: String,
}

/// The appointment took place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "appointment.completed", version = "1.0")]
pub struct AppointmentCompleted {
    /// The appointment.
    pub appointment: Appointment,
    /// The agent's notes, if any.
    pub notes: Option<String>,
}

/// The appointment moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "appointment.rescheduled", version = "1.0")]
pub struct AppointmentRescheduled {
    /// The appointment at its new time.
    pub appointment: Appointment,
    /// RFC 3339: when it was before.
    pub previous_starts_at: String,
}

/// A reminder of the appointment was sent to the customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "appointment.reminder_sent", version = "1.0")]
pub struct AppointmentReminderSent {
    /// The appointment reminded of.
    pub appointment: Appointment,
    /// `sms` or `email`.
    pub channel: String,
}
