use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = if_env!("DEVELOPMENT", "localhost:4040", "https://api.stripe.com/v1/payment_intents"))]
pub struct Notify {
    pub message: String,
}

fn main() {}
