use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub enum Light {
    RedAlert,
}

#[derive(Serialize, Deserialize)]
pub enum LightRed {
    Alert,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/light")]
pub struct Signal {
    pub a: Light,
    pub b: LightRed,
}
