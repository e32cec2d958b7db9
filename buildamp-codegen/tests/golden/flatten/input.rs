//! `flatten` of structs: their fields sit in the parent object.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub created_by: String,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: u32,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/refund")]
pub struct Refund {
    pub id: String,
    #[serde(flatten)]
    pub money: Money,
    #[serde(flatten)]
    pub audit: Audit,
}
