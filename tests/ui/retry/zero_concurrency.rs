use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", max_concurrency = 0)]
pub struct Notify {
    pub message: String,
}

fn main() {}
