use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// Read from the provider, but never written back: the HTTP API and the Elm client need both.
#[derive(Deserialize)]
pub struct ChargeCreated {
    pub id: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/charges", response = ChargeCreated)]
pub struct Charge {
    pub amount: u32,
}

fn main() {}
