use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charge", error = ChargeExecution)]
pub struct Charge {
    pub amount: u32,
}

#[derive(Serialize, Deserialize)]
pub struct ChargeExecution {
    pub message: String,
}
