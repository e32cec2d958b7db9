//! Every refusal is reported in one run.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/a")]
pub struct First {
    pub id: u64,
    pub when: usize,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/b")]
pub struct Second {
    pub missing: Nowhere,
}
