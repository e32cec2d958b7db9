use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", auth = env!("API_KEY"))]
pub struct Notify {
    pub message: String,
}

fn main() {}
