use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", method = "GET", content_type = "application/x-www-form-urlencoded")]
pub struct Notify {
    pub message: String,
}

fn main() {}
