//! A server-only webhook leaves no trace in the module: no type, no trigger, no secret's name.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.example.com/public",
    auth = "Bearer {PUBLIC_API_KEY}"
)]
pub struct PublicPing {
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "{INTERNAL_URL}/charge",
    auth = "Bearer {INTERNAL_SECRET_KEY}",
    server_only = true
)]
pub struct InternalCharge {
    pub account: InternalAccount,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InternalAccount {
    pub ledger_id: u64,
}
