use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", rate_limit = "100 per minute")]
pub struct Notify {
    pub message: String,
}

fn main() {}
