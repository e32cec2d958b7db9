use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub enum Mode {
    On,
    #[serde(skip_deserializing)]
    Internal,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/mode")]
pub struct SetMode {
    pub mode: Mode,
}
