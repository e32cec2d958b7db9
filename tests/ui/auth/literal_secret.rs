use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", auth = "Bearer sk_live_51Habc")]
pub struct Notify {
    pub message: String,
}

fn main() {}
