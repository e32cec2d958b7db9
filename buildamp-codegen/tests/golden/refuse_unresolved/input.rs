use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/ship")]
pub struct Ship {
    pub address: PostalAddress,
}
