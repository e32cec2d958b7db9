use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Error {
    pub code: u16,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/report")]
pub struct Report {
    pub error: Error,
}
