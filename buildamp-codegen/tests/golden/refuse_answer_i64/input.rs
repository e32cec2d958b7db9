use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charge", response = Created)]
pub struct Charge {
    pub amount: u32,
}

#[derive(Serialize, Deserialize)]
pub struct Created {
    pub created: i64,
}
