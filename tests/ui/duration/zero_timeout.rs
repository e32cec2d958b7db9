use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", timeout = "0s")]
pub struct Notify {
    pub message: String,
}

fn main() {}
