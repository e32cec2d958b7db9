use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// What the provider answers.
#[derive(Deserialize)]
pub struct ChargeCreated {
    pub id: String,
}

/// A type that does not exist.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charges", response = ChargeCreatd)]
pub struct Missing {
    pub amount: u32,
}

fn main() {}
