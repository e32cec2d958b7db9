use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", backoff = ["4s", "8", "10s"])]
pub struct Notify {
    pub message: String,
}

fn main() {}
