// A broken target reports its own error only: code using the webhook adds none.
use buildamp::{BuildAmpWebhook, Webhook};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", retry_policy = "sometimes")]
pub struct Notify {
    pub message: String,
}

fn main() {
    let _ = Notify::target();
    let _ = Notify::NAME;
}
