//! Transactional email providers.

use std::collections::BTreeMap;

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// SendGrid v3 Mail Send (`POST /v3/mail/send`): JSON, Bearer key; answers 202 with an empty body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = if_env!("DEVELOPMENT", "http://localhost:4040/test-webhook/sendgrid", "https://api.sendgrid.com/v3/mail/send"),
    method = "POST",
    auth = if_env!("DEVELOPMENT", "", "Bearer {SENDGRID_API_KEY}"),
    headers = { "Content-Type" = "application/json" },
    timeout = "30s",
    retry_policy = "exponential",
    error = SendGridErrors
)]
pub struct SendGridEmail {
    /// One entry per message envelope (recipients and per-recipient data).
    pub personalizations: Vec<Personalization>,
    /// The sender; must be a verified sender identity.
    pub from: EmailAddress,
    /// Where replies go, when not to `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<EmailAddress>,
    /// The subject, unless each personalization sets its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The bodies, `text/plain` before `text/html` as SendGrid requires; empty with a template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<EmailContent>,
    /// A dynamic template instead of `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Categories for SendGrid's statistics (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// A SendGrid message envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Personalization {
    /// Recipients.
    pub to: Vec<EmailAddress>,
    /// Carbon-copy recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<EmailAddress>,
    /// Blind carbon-copy recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<EmailAddress>,
    /// This envelope's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Data for a dynamic template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_template_data: Option<serde_json::Value>,
}

/// An address with an optional display name. SendGrid refuses `"name": null`, so an absent name is
/// omitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// The address.
    pub email: String,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A message body of one MIME type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmailContent {
    /// `text/plain` or `text/html`.
    #[serde(rename = "type")]
    pub mime_type: String,
    /// The body.
    pub value: String,
}

/// Mailgun Messages API (`POST /v3/{domain}/messages`): multipart form, `Basic api:KEY`, list
/// fields as repeated parts, `o:` options as `yes`/`no`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = if_env!("DEVELOPMENT", "http://localhost:4040/test-webhook/mailgun", "https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages"),
    method = "POST",
    auth = if_env!("DEVELOPMENT", "", "Basic api:{MAILGUN_API_KEY}"),
    content_type = "multipart/form-data",
    response = MailgunResponse,
    error = MailgunError
)]
pub struct MailgunEmail {
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    /// Recipients, one part each.
    pub to: Vec<String>,
    /// Carbon-copy recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// Blind carbon-copy recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// A stored template's name, instead of a body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The template's variables, as a JSON object in a string (Mailgun's `t:variables`).
    #[serde(
        rename = "t:variables",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub template_variables: Option<String>,
    /// Tags (`o:tag`, at most 3).
    #[serde(rename = "o:tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Tracking (`o:tracking`).
    #[serde(
        rename = "o:tracking",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tracking: Option<YesNo>,
    /// Sends in test mode: accepted but not delivered (`o:testmode`).
    #[serde(
        rename = "o:testmode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub test_mode: Option<YesNo>,
}

/// Mailgun's boolean options are the words `yes` and `no`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YesNo {
    /// `yes`.
    Yes,
    /// `no`.
    No,
}

/// Postmark single email (`POST /email`): JSON with PascalCase keys, the server token in its own
/// header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.postmarkapp.com/email",
    method = "POST",
    auth = "X-Postmark-Server-Token: {POSTMARK_TOKEN}",
    headers = { "Accept" = "application/json" },
    response = PostmarkResponse,
    error = PostmarkResponse
)]
#[serde(rename_all = "PascalCase")]
pub struct PostmarkEmail {
    /// The sender signature.
    pub from: String,
    /// Recipients, comma-separated (at most 50).
    pub to: String,
    /// Carbon-copy recipients, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<String>,
    /// Blind carbon-copy recipients, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bcc: Option<String>,
    /// The subject.
    pub subject: String,
    /// The HTML body (`HtmlBody`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    /// The plain-text body (`TextBody`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_body: Option<String>,
    /// Where replies go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// A tag for statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Whether to track opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_opens: Option<bool>,
    /// Custom metadata returned in Postmark's webhooks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The message stream (`outbound` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_stream: Option<String>,
}

/// How SendGrid refuses a send (`{"errors": [...]}`, v3 Mail Send's error body); a send it accepts
/// answers 202 with no body, so `SendGridEmail` names no response type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendGridErrors {
    /// Every problem.
    pub errors: Vec<SendGridError>,
}

/// One of SendGrid's errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendGridError {
    /// A message for people.
    pub message: String,
    /// The field it is about, such as `personalizations.0.to.0.email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Where SendGrid explains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// Mailgun's answer to `MailgunEmail`: the queued message's id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailgunResponse {
    /// The `Message-Id` (`<...@domain>`), which Mailgun's events carry.
    pub id: String,
    /// `Queued. Thank you.`
    pub message: String,
}

/// How Mailgun refuses a send (`{"message": "..."}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailgunError {
    /// A message for people.
    pub message: String,
}

/// Postmark's answer to `PostmarkEmail`, on success and on refusal alike (`ErrorCode` 0 is
/// success; 422 carries the same shape with the code of the problem).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PostmarkResponse {
    /// 0, or Postmark's API error code (such as 300, an invalid email request).
    pub error_code: i32,
    /// `OK`, or what went wrong.
    pub message: String,
    /// The message's id, when it was accepted (`MessageID`).
    #[serde(rename = "MessageID", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When it was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// The recipients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
