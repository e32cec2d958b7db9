//! A message's delivery timeline: the providers' events about one execution, in the order they
//! arrived, and the delivery state they add up to. Providers report late and out of order (a
//! `delivered` after an `opened`, a repeat of `sent`): the state never moves back, and the
//! timeline keeps every event as it came. Decided here once, for the API and every other reader.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EmailEventKind, InboundEvent, InboundKind, Provider, SmsState};
use crate::queue::ExecutionId;
use crate::store::{InboundStore, StoreError};

/// Where a message stands, as a provider reported it (email and SMS statuses in one vocabulary).
/// Ordered as declared (for maps); what moves a message's state is its rank, in
/// [`delivery_state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// To be sent later.
    Scheduled,
    /// Waiting to be sent (a Messaging Service or a queue took it).
    Queued,
    /// Being handed to the carrier.
    Sending,
    /// The provider sent it on.
    Sent,
    /// Delivery is being retried.
    DeliveryDelayed,
    /// The recipient's server or handset accepted it.
    Delivered,
    /// The recipient read it (WhatsApp, RCS).
    Read,
    /// The recipient opened it.
    Opened,
    /// The recipient clicked a link.
    Clicked,
    /// The recipient marked it as spam.
    Complained,
    /// A scheduled message was canceled.
    Canceled,
    /// The carrier could not deliver it.
    Undelivered,
    /// The recipient's server refused it.
    Bounced,
    /// It could not be sent.
    Failed,
    /// A status this version does not know: kept in the timeline, never the state.
    Other,
}

impl DeliveryStatus {
    /// The status of a provider's event.
    pub fn of(kind: &InboundKind) -> DeliveryStatus {
        match kind {
            InboundKind::Email(email) => match email.kind {
                EmailEventKind::Sent => DeliveryStatus::Sent,
                EmailEventKind::Scheduled => DeliveryStatus::Scheduled,
                EmailEventKind::Delivered => DeliveryStatus::Delivered,
                EmailEventKind::DeliveryDelayed => DeliveryStatus::DeliveryDelayed,
                EmailEventKind::Complained => DeliveryStatus::Complained,
                EmailEventKind::Bounced => DeliveryStatus::Bounced,
                EmailEventKind::Opened => DeliveryStatus::Opened,
                EmailEventKind::Clicked => DeliveryStatus::Clicked,
                EmailEventKind::Failed => DeliveryStatus::Failed,
                EmailEventKind::Other(_) => DeliveryStatus::Other,
            },
            InboundKind::Sms(sms) => match sms.status {
                SmsState::Accepted | SmsState::Queued => DeliveryStatus::Queued,
                SmsState::Scheduled => DeliveryStatus::Scheduled,
                SmsState::Canceled => DeliveryStatus::Canceled,
                SmsState::Sending => DeliveryStatus::Sending,
                SmsState::Sent => DeliveryStatus::Sent,
                SmsState::Failed => DeliveryStatus::Failed,
                SmsState::Delivered | SmsState::PartiallyDelivered => DeliveryStatus::Delivered,
                SmsState::Undelivered => DeliveryStatus::Undelivered,
                SmsState::Read => DeliveryStatus::Read,
                // Inbound messages are not about what we sent.
                SmsState::Receiving | SmsState::Received | SmsState::Other(_) => {
                    DeliveryStatus::Other
                }
            },
        }
    }

    /// How far along it is: a later event of a lower rank does not move the state back. `None`
    /// for [`DeliveryStatus::Other`], which never is the state.
    fn rank(self) -> Option<u8> {
        Some(match self {
            DeliveryStatus::Scheduled => 0,
            DeliveryStatus::Queued => 1,
            DeliveryStatus::Sending => 2,
            DeliveryStatus::Sent => 3,
            DeliveryStatus::DeliveryDelayed => 4,
            DeliveryStatus::Delivered => 5,
            DeliveryStatus::Read | DeliveryStatus::Opened => 6,
            DeliveryStatus::Clicked => 7,
            DeliveryStatus::Complained => 8,
            // Nothing follows these: a late bounce outranks an earlier `delivered`.
            DeliveryStatus::Canceled
            | DeliveryStatus::Undelivered
            | DeliveryStatus::Bounced
            | DeliveryStatus::Failed => 9,
            DeliveryStatus::Other => return None,
        })
    }

    /// Whether the message's fate is known: it arrived (and maybe more happened after), or it
    /// never will.
    pub fn is_final(self) -> bool {
        self.rank().is_some_and(|r| r >= 5)
    }

    /// Whether the message reached its recipient (delivered, read, opened, clicked, or reported
    /// as spam from the inbox).
    pub fn reached_recipient(self) -> bool {
        self.rank().is_some_and(|r| (5..=8).contains(&r))
    }

    /// Its name, as in JSON (`delivered`, `delivery_delayed`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Scheduled => "scheduled",
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::DeliveryDelayed => "delivery_delayed",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Opened => "opened",
            DeliveryStatus::Clicked => "clicked",
            DeliveryStatus::Complained => "complained",
            DeliveryStatus::Canceled => "canceled",
            DeliveryStatus::Undelivered => "undelivered",
            DeliveryStatus::Bounced => "bounced",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Other => "other",
        }
    }

    /// Every status, in rank order.
    pub const ALL: [DeliveryStatus; 15] = [
        DeliveryStatus::Scheduled,
        DeliveryStatus::Queued,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::DeliveryDelayed,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
        DeliveryStatus::Opened,
        DeliveryStatus::Clicked,
        DeliveryStatus::Complained,
        DeliveryStatus::Canceled,
        DeliveryStatus::Undelivered,
        DeliveryStatus::Bounced,
        DeliveryStatus::Failed,
        DeliveryStatus::Other,
    ];

    /// The status named `name` (as [`DeliveryStatus::as_str`] writes it).
    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One provider event on a message's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryEvent {
    /// Who reported it (`"twilio"`, `"resend"`, `"ses"` in JSON).
    #[serde(serialize_with = "provider_name")]
    pub provider: Provider,
    /// What it reported.
    pub status: DeliveryStatus,
    /// When it happened, as the provider says (when it says; else when it was received). In
    /// Unix milliseconds in JSON, like the execution's times.
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub at: DateTime<Utc>,
    /// When it was received (Unix milliseconds in JSON).
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub received_at: DateTime<Utc>,
    /// Who it is about (the recipients the provider names).
    pub recipients: Vec<String>,
    /// The provider's reason (a bounce's diagnostic, an error message) or the link clicked.
    pub detail: Option<String>,
}

fn provider_name<S: serde::Serializer>(provider: &Provider, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(provider.as_str())
}

impl DeliveryEvent {
    /// The timeline entry of `event`, received at `received_at`.
    pub fn of(event: &InboundEvent, received_at: DateTime<Utc>) -> DeliveryEvent {
        let (at, recipients, detail) = match &event.kind {
            InboundKind::Email(email) => (
                email
                    .created_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                email.to.clone(),
                email.reason.clone().or_else(|| email.link.clone()),
            ),
            InboundKind::Sms(sms) => (
                None,
                sms.to.iter().cloned().collect(),
                sms.error_message.clone().or_else(|| sms.error_code.clone()),
            ),
        };
        DeliveryEvent {
            provider: event.provider,
            status: DeliveryStatus::of(&event.kind),
            at: at.unwrap_or(received_at),
            received_at,
            recipients,
            detail,
        }
    }
}

/// The state a timeline adds up to: its furthest status (the latest among equals), never moved
/// back by a late or repeated event; `None` before any known status.
pub fn delivery_state(timeline: &[DeliveryEvent]) -> Option<DeliveryStatus> {
    timeline
        .iter()
        .filter_map(|e| e.status.rank().map(|rank| (rank, e.status)))
        .fold(
            None,
            |best: Option<(u8, DeliveryStatus)>, (rank, status)| match best {
                Some((top, _)) if top > rank => best,
                _ => Some((rank, status)),
            },
        )
        .map(|(_, status)| status)
}

/// The delivery timeline of execution `id`, as `store` recorded it: its providers' events in
/// the order they were received.
///
/// # Errors
/// The store failed.
pub async fn read(
    store: &impl InboundStore,
    id: ExecutionId,
) -> Result<Vec<DeliveryEvent>, StoreError> {
    let rows = store.inbound_of(id).await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(received_at, json)| match serde_json::from_value::<InboundEvent>(json) {
                Ok(event) => Some(DeliveryEvent::of(&event, received_at)),
                Err(error) => {
                    // Written by this code: unreadable only after a downgrade.
                    tracing::warn!(execution = %id, %error, "an inbound event cannot be read; left out of the timeline");
                    None
                }
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(status: DeliveryStatus, second: i64) -> DeliveryEvent {
        let t = DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap();
        DeliveryEvent {
            provider: Provider::Ses,
            status,
            at: t,
            received_at: t,
            recipients: vec![],
            detail: None,
        }
    }

    #[test]
    fn the_state_never_moves_back_and_unknown_statuses_do_not_count() {
        use DeliveryStatus::*;
        let cases: &[(&[DeliveryStatus], Option<DeliveryStatus>)] = &[
            (&[], None),
            (&[Other], None),
            (&[Sent, Other], Some(Sent)),
            (&[Sent, Delivered], Some(Delivered)),
            // A late `delivered` after `opened`, and a repeat of `sent`.
            (&[Sent, Opened, Delivered, Sent], Some(Opened)),
            (&[Delivered, Clicked, Opened], Some(Clicked)),
            (&[Delivered, Complained, Opened], Some(Complained)),
            // A late bounce outranks an earlier delivery; among equals the latest wins.
            (&[Delivered, Bounced], Some(Bounced)),
            (&[Queued, Failed, Undelivered], Some(Undelivered)),
            (&[Sending, DeliveryDelayed, Sent], Some(DeliveryDelayed)),
        ];
        for (statuses, expected) in cases {
            let timeline: Vec<DeliveryEvent> = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| at(*s, i64::try_from(i).unwrap()))
                .collect();
            assert_eq!(delivery_state(&timeline), *expected, "{statuses:?}");
        }
    }

    #[test]
    fn names_are_serdes_and_read_back() {
        for status in DeliveryStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn a_message_is_settled_once_it_arrived_or_never_will() {
        use DeliveryStatus::*;
        for s in [
            Delivered,
            Read,
            Opened,
            Clicked,
            Complained,
            Canceled,
            Undelivered,
            Bounced,
            Failed,
        ] {
            assert!(s.is_final(), "{s:?}");
        }
        for s in [Scheduled, Queued, Sending, Sent, DeliveryDelayed, Other] {
            assert!(!s.is_final(), "{s:?}");
        }
    }
}
