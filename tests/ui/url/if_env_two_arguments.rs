use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = if_env!("DEVELOPMENT", "http://localhost:4040/test-webhook"))]
pub struct Notify {
    pub message: String,
}

fn main() {}
