use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(method = "POST", auth = "Bearer {API_KEY}")]
pub struct Notify {
    pub message: String,
}

fn main() {}
