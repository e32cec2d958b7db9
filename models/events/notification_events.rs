//! Notifications to customers: sent, delivered, clicked, failed.

use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

/// How a notification travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An email.
    Email,
    /// A text message.
    Sms,
    /// A push notification.
    Push,
}

/// A notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The notification's id.
    pub id: String,
    /// How it travels.
    pub channel: Channel,
    /// The email address or phone number it goes to.
    pub recipient: String,
    /// The template it was made from, if any.
    pub template: Option<String>,
}

/// A notification was dispatched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "notification.sent", version = "1.0")]
pub struct NotificationSent {
    /// The notification.
    pub notification: Notification,
}

/// The provider reports the notification delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "notification.delivered", version = "1.0")]
pub struct NotificationDelivered {
    /// The notification.
    pub notification: Notification,
    /// RFC 3339.
    pub delivered_at: String,
}

/// The recipient clicked a link in the notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "notification.clicked", version = "1.0")]
pub struct NotificationClicked {
    /// The notification.
    pub notification: Notification,
    /// The link that was clicked.
    pub url: String,
}

/// The notification could not be delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "notification.failed", version = "1.0")]
pub struct NotificationFailed {
    /// The notification.
    pub notification: Notification,
    /// The provider's reason.
    pub reason: String,
}
