use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", retry_policy = "fixed", backoff = ["4s", "8s"])]
pub struct Notify {
    pub message: String,
}

fn main() {}
