// Every `#[target]` form in our docs, written exactly as documented, plus the keys beyond them.
use buildamp::{BuildAmpWebhook, Webhook};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.sendgrid.com/v3/mail/send",
    method = "POST",
    auth = "Bearer {SENDGRID_API_KEY}",
    headers = { "Content-Type" = "application/json" }
)]
pub struct SendGridEmail {
    pub subject: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages",
    method = "POST",
    auth = "Basic {MAILGUN_API_KEY}",
    content_type = "application/x-www-form-urlencoded"
)]
pub struct MailgunEmail {
    pub from: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.stripe.com/v1/payment_intents",
    method = "POST",
    auth = "Bearer {STRIPE_SECRET_KEY}",
    retry_policy = "exponential",
    timeout = "30s"
)]
pub struct StripePaymentIntent {
    pub amount: i64,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.cloudinary.com/v1_1/{CLOUD_NAME}/image/upload",
    method = "POST",
    auth = "Basic {CLOUDINARY_AUTH}",
    file_upload = true
)]
pub struct CloudinaryUpload {
    pub public_id: String,
    pub file_data: Vec<u8>,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = env!("CUSTOM_SERVICE_URL"),
    method = "POST",
    headers = { "X-API-Version" = "2024-01-01" },
    timeout = "60s"
)]
pub struct CustomAPICall {
    pub operation: String,
    pub data: serde_json::Value,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.postmarkapp.com/email",
    method = "POST",
    auth = "X-Postmark-Server-Token: {POSTMARK_TOKEN}",
    headers = { "Accept" = "application/json" }
)]
pub struct PostmarkEmail {
    pub from: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.video-service.com/v1/transcode",
    method = "POST",
    auth = "Bearer {VIDEO_SERVICE_TOKEN}",
    timeout = "300s"  // 5 minutes for video processing
)]
pub struct VideoTranscode {
    pub input_url: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = if_env!("DEVELOPMENT", "http://localhost:4040/test-webhook", "https://api.stripe.com/v1/payment_intents"),
    method = "POST",
    auth = if_env!("DEVELOPMENT", "", "Bearer {STRIPE_SECRET_KEY}")
)]
pub struct StripeDevOrProd {
    pub amount: i64,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/items", method = "GET", timeout = "5m", retry_policy = "fixed")]
pub struct ListItems {
    pub page: u32,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/items", method = "DELETE", retry_policy = "none")]
pub struct DeleteItem {
    pub id: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/items", method = "PUT", timeout = "500ms")]
pub struct PutItem {
    pub id: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{API_BASE}/v1/items",
    method = "PATCH",
    auth = "Basic {API_USER}:{API_PASSWORD}",
    content_type = "multipart/form-data",
    backoff = ["4s", "8s", "10s"],
    max_attempts = 5,
    retry_on = [409, 423],
    max_concurrency = 10,
    rate_limit = "100/min",
    idempotency_header = "Idempotency-Key",
    external_id = "header:X-Item-Id",
    server_only = true,
    headers = { "X-Tenant" = "{TENANT_ID}", "X-API-Version" = "2024-01-01" },
)]
pub struct PatchItem {
    pub id: String,
    pub tags: Vec<String>,
}

fn main() {
    assert_eq!(SendGridEmail::NAME, "SendGridEmail");
    assert_eq!(ListItems::target().method.as_str(), "GET");
    assert_eq!(DeleteItem::target().max_attempts, 1);
    assert!(PatchItem::target().server_only);
    assert_eq!(PatchItem::target().max_concurrency, Some(10));
    let _ = (
        MailgunEmail::target(),
        StripePaymentIntent::target(),
        CloudinaryUpload::target(),
        CustomAPICall::target(),
        PostmarkEmail::target(),
        VideoTranscode::target(),
        StripeDevOrProd::target(),
        PutItem::target(),
    );
}
