use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", headers = { "Content-Type" = "text/plain" })]
pub struct Notify {
    pub message: String,
}

fn main() {}
