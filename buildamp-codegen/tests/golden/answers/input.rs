//! Declared answers: a webhook naming its `response` and `error` types gets `<Name>Execution`,
//! its decoder and its getter; one naming only `error` reads its delivered answer as `()`; one
//! naming neither gets nothing more. Answer types are generated like payload types, by the same
//! serde rules.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charges", response = Receipt, error = Refusal)]
pub struct Charge {
    pub amount: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notes", error = self::Refusal)]
pub struct Note {
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/pings")]
pub struct Ping {
    pub at: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: String,
    #[serde(rename = "state")]
    pub status: ReceiptStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Created,
    RequiresAction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub error: RefusalDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusalDetail {
    pub code: String,
    pub message: String,
}
