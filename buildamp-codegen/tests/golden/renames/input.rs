//! `rename`, `rename_all`, `rename_all_fields`, and a rename that differs by direction (the encoder
//! writes what serde reads; the decoder reads what serde writes).
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Event {
    UserSignedUp {
        user_id: String,
        signed_up_at: String,
    },
    #[serde(rename = "gone")]
    UserLeft { user_id: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/events")]
#[serde(rename_all = "PascalCase")]
pub struct Notify {
    pub message_id: String,
    #[serde(rename = "X-Trace")]
    pub trace: String,
    #[serde(rename(serialize = "sentAt", deserialize = "send_at"))]
    pub send_at: String,
    pub event: Event,
}
