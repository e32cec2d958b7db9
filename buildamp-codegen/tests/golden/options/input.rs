//! `Option` fields: absent or `null` decode to `Nothing`; `Nothing` encodes as `null`, which serde
//! reads as `None`, with or without `skip_serializing_if` and `default`.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/profile")]
pub struct Profile {
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<u32>,
    #[serde(default)]
    pub scores: Option<Vec<Option<f64>>>,
    pub address: Option<Address>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub city: String,
    pub zip: Option<String>,
}
