//! `serde_json::Value` is any JSON (`Json.Encode.Value`); `Vec<u8>` is serde's array of numbers
//! (`List Int`, each 0–255).
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/upload")]
pub struct Upload {
    pub metadata: serde_json::Value,
    pub extra: Option<serde_json::Value>,
    pub bytes: Vec<u8>,
}
