//! What providers report about the messages we sent, typed: the events the inbound endpoints
//! (`inbound::receive`) record and hand to the app, and the delivery timeline they make
//! ([`timeline`]). Plain data, below the HTTP layer, so the runtime and the API can read recorded
//! events without depending on the endpoints that receive them.

pub mod timeline;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::queue::ExecutionId;

/// A provider whose status events are received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// Twilio SMS status callbacks.
    Twilio,
    /// Resend email events.
    Resend,
    /// Amazon SES events, published to an SNS topic this endpoint subscribes to.
    Ses,
}

impl Provider {
    /// The provider's name, as in routes and the `inbound_events` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Resend => "resend",
            Provider::Ses => "ses",
        }
    }
}

/// A provider's status event about something we sent, as the app's handlers get it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// Who sent it.
    pub provider: Provider,
    /// The provider's id for this event (a repeat carries the same one).
    pub event_id: String,
    /// The provider's id for the message (Twilio's `MessageSid`, Resend's email id).
    pub external_id: String,
    /// Our execution that sent the message.
    pub execution: ExecutionId,
    /// What happened.
    pub kind: InboundKind,
}

/// What a provider reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InboundKind {
    /// A Twilio SMS status callback.
    Sms(SmsStatus),
    /// A Resend email event.
    Email(EmailEvent),
}

/// A Twilio message status callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsStatus {
    /// `MessageStatus` (or `SmsStatus`).
    pub status: SmsState,
    /// `To`.
    pub to: Option<String>,
    /// `From`.
    pub from: Option<String>,
    /// `ErrorCode`, when it failed.
    pub error_code: Option<String>,
    /// `ErrorMessage`, when Twilio gave one.
    pub error_message: Option<String>,
}

/// A Twilio message status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmsState {
    /// `accepted`: a Messaging Service took it.
    Accepted,
    /// `scheduled`: to be sent later.
    Scheduled,
    /// `canceled`: a scheduled message was canceled.
    Canceled,
    /// `queued`: waiting to be sent.
    Queued,
    /// `sending`: being sent to the carrier.
    Sending,
    /// `sent`: the carrier accepted it.
    Sent,
    /// `failed`: it could not be sent (see `error_code`).
    Failed,
    /// `delivered`: the handset received it.
    Delivered,
    /// `undelivered`: the carrier could not deliver it.
    Undelivered,
    /// `receiving`: an inbound message is arriving.
    Receiving,
    /// `received`: an inbound message arrived.
    Received,
    /// `read`: the recipient read it (WhatsApp and RCS).
    Read,
    /// `partially_delivered`: some parts arrived.
    PartiallyDelivered,
    /// A status this version does not know yet, as Twilio spelled it.
    Other(String),
}

impl SmsState {
    pub(crate) fn parse(s: &str) -> SmsState {
        match s {
            "accepted" => SmsState::Accepted,
            "scheduled" => SmsState::Scheduled,
            "canceled" => SmsState::Canceled,
            "queued" => SmsState::Queued,
            "sending" => SmsState::Sending,
            "sent" => SmsState::Sent,
            "failed" => SmsState::Failed,
            "delivered" => SmsState::Delivered,
            "undelivered" => SmsState::Undelivered,
            "receiving" => SmsState::Receiving,
            "received" => SmsState::Received,
            "read" => SmsState::Read,
            "partially_delivered" => SmsState::PartiallyDelivered,
            other => SmsState::Other(other.to_owned()),
        }
    }
}

/// A Resend email event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmailEvent {
    /// `type`.
    pub kind: EmailEventKind,
    /// `created_at` of the event.
    pub created_at: Option<String>,
    /// `data.from`.
    pub from: Option<String>,
    /// `data.to`.
    pub to: Vec<String>,
    /// `data.subject`.
    pub subject: Option<String>,
    /// `data.bounce.message` (`email.bounced`) or `data.failed.reason` (`email.failed`).
    pub reason: Option<String>,
    /// `data.click.link` (`email.clicked`).
    pub link: Option<String>,
    /// For a bounce: `true` when it is permanent (a hard bounce: do not send to the address
    /// again), `false` when it is transient (a soft bounce); `None` otherwise, or when the
    /// provider does not say.
    #[serde(default)]
    pub hard_bounce: Option<bool>,
    /// The whole `data` object (Resend), or the whole SES event (SES), for fields not lifted out
    /// above.
    pub data: Value,
}

/// A Resend email event type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailEventKind {
    /// `email.sent`: Resend accepted it.
    Sent,
    /// `email.scheduled`: to be sent later.
    Scheduled,
    /// `email.delivered`: the recipient's server accepted it.
    Delivered,
    /// `email.delivery_delayed`: delivery is being retried.
    DeliveryDelayed,
    /// `email.complained`: marked as spam.
    Complained,
    /// `email.bounced`: the recipient's server refused it.
    Bounced,
    /// `email.opened`: the recipient opened it.
    Opened,
    /// `email.clicked`: the recipient clicked a link.
    Clicked,
    /// `email.failed`: it could not be sent.
    Failed,
    /// A type this version does not know yet, as Resend spelled it (`email.` included).
    Other(String),
}

impl EmailEventKind {
    pub(crate) fn parse(s: &str) -> EmailEventKind {
        match s {
            "email.sent" => EmailEventKind::Sent,
            "email.scheduled" => EmailEventKind::Scheduled,
            "email.delivered" => EmailEventKind::Delivered,
            "email.delivery_delayed" => EmailEventKind::DeliveryDelayed,
            "email.complained" => EmailEventKind::Complained,
            "email.bounced" => EmailEventKind::Bounced,
            "email.opened" => EmailEventKind::Opened,
            "email.clicked" => EmailEventKind::Clicked,
            "email.failed" => EmailEventKind::Failed,
            other => EmailEventKind::Other(other.to_owned()),
        }
    }
}
