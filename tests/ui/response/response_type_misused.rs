use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// A type, not a string.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charges", response = "ChargeCreated")]
pub struct Quoted {
    pub amount: u32,
}

/// A type serde cannot read.
pub struct NotDeserialize {
    pub id: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charges", response = NotDeserialize)]
pub struct Unreadable {
    pub amount: u32,
}

fn main() {}
