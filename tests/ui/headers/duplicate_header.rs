use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", headers = { "X-Api-Version" = "1", "x-api-version" = "2" })]
pub struct Notify {
    pub message: String,
}

fn main() {}
