//! Untagged: the content alone; decoders try the variants in serde's order (declaration order).
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recipient {
    Address(String),
    Named { name: String, email: String },
    Pair(String, String),
    Nobody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/send")]
pub struct Send {
    pub to: Vec<Recipient>,
}
