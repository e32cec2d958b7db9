//! `#[serde(other)]`: the catch-all unit variant serde reads any unknown tag into. Serde writes it
//! under its own name and reads that name back, so it maps like any unit variant: a provider's
//! status added later reads as `Unknown` instead of failing the whole answer.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Queued,
    Delivered,
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/messages")]
pub struct Track {
    pub state: MessageState,
}
