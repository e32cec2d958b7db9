use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charge")]
pub struct Charge {
    pub amount: i64,
}
