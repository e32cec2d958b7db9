use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/quad")]
pub struct Quad {
    pub corners: (u8, u8, u8, u8),
}
