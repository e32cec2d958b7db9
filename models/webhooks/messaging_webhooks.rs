//! Messaging providers whose status events come back to us (`buildamp::inbound::receive`): each
//! target says where the provider's id for a sent message is (`external_id`), so a delivery
//! recorded as sent maps the provider's later events (delivered, bounced, ...) to its execution.

use std::collections::BTreeMap;

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// Twilio Messages (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`): PascalCase form
/// fields, lists as repeated keys (`MediaUrl=…&MediaUrl=…`, as Twilio's API definition
/// `twilio_api_v2010.json` and its clients send them), Basic `AccountSid:AuthToken`; answers 201
/// with the message, whose `sid` identifies it in Twilio's status callbacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.twilio.com/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json",
    method = "POST",
    auth = "Basic {TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}",
    content_type = "application/x-www-form-urlencoded",
    form_lists = "repeat",
    timeout = "15s",
    retry_policy = "exponential",
    external_id = "json:/sid",
    response = TwilioMessageResponse,
    error = TwilioError
)]
#[serde(rename_all = "PascalCase")]
pub struct TwilioSms {
    /// The recipient, in E.164 (`+15558675310`).
    pub to: String,
    /// A Twilio number of ours, in E.164.
    pub from: String,
    /// The text (up to 1,600 characters).
    pub body: String,
    /// Media to send as an MMS (up to 10 public URLs), each sent as `MediaUrl=…`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_url: Vec<String>,
    /// Where Twilio posts status events: our `/webhooks/twilio`, optionally with
    /// `?buildamp_id=<correlation id>` (the embedded strategy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
}

/// Resend send email (`POST /emails`): JSON, Bearer key; answers 200 with `{"id": ...}`, the id
/// Resend's webhook events carry as `data.email_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.resend.com/emails",
    method = "POST",
    auth = "Bearer {RESEND_API_KEY}",
    timeout = "30s",
    retry_policy = "exponential",
    idempotency_header = "Idempotency-Key",
    external_id = "json:/id",
    response = ResendEmailResponse,
    error = ResendError
)]
pub struct ResendEmail {
    /// The sender, `Name <address>` or an address on a verified domain.
    pub from: String,
    /// Recipients (at most 50).
    pub to: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The plain-text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Extra email headers (`X-BuildAmp-Id` here embeds our id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Tags, reported back in Resend's events (`buildamp_id` embeds our id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<ResendTag>,
}

/// A Resend tag: ASCII letters, digits, `_` and `-` only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResendTag {
    /// The tag's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// Twilio's Message resource, the answer to `TwilioSms` (`twilio_api_v2010.json`,
/// `api.v2010.account.message`): the fields an app reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwilioMessageResponse {
    /// `SM...` (or `MM...` for media): the id Twilio's status callbacks carry.
    pub sid: String,
    /// Where the message stands.
    pub status: TwilioMessageStatus,
    /// The recipient.
    pub to: String,
    /// The sender (`null` when a Messaging Service picks it later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The text as Twilio stored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// How many segments the text takes (a decimal string, as Twilio sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_segments: Option<String>,
    /// Twilio's error code, once the message failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
    /// Twilio's error message, once the message failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// A Twilio message's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwilioMessageStatus {
    /// `queued`.
    Queued,
    /// `sending`.
    Sending,
    /// `sent`.
    Sent,
    /// `failed`.
    Failed,
    /// `delivered`.
    Delivered,
    /// `undelivered`.
    Undelivered,
    /// `receiving`.
    Receiving,
    /// `received`.
    Received,
    /// `accepted` (a Messaging Service took it).
    Accepted,
    /// `scheduled`.
    Scheduled,
    /// `read`.
    Read,
    /// `partially_delivered`.
    PartiallyDelivered,
    /// `canceled`.
    Canceled,
    /// A status Twilio added after this model was written: the answer still reads (it is
    /// `"unknown"` once written back, which is what the Elm client sees).
    #[serde(other)]
    Unknown,
}

/// How Twilio refuses a request (its REST error body).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwilioError {
    /// Twilio's error code, such as `21211` (an invalid `To`).
    pub code: i32,
    /// A message for people.
    pub message: String,
    /// The page explaining the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_info: Option<String>,
    /// The HTTP status.
    pub status: u16,
}

/// Resend's answer to `ResendEmail` (`POST /emails`): the email's id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResendEmailResponse {
    /// The id Resend's webhook events carry as `data.email_id`.
    pub id: String,
}

/// How Resend refuses a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResendError {
    /// The HTTP status (`statusCode`).
    #[serde(
        rename = "statusCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code: Option<u16>,
    /// A message for people.
    pub message: String,
    /// The error's name, such as `validation_error` or `rate_limit_exceeded`.
    pub name: String,
}
