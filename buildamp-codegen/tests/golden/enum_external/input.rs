//! Externally tagged (serde's default): unit variants as strings, others as `{"Variant": ...}`.
//! Constructors carry the enum's name, so `Size::Small` and `Speed::Small` never clash.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Size {
    Small,
    Large,
    Custom(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Speed {
    Small,
    Fast { kmh: u32, label: Option<String> },
    Between(u32, u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/order")]
pub struct Order {
    pub size: Size,
    pub speed: Speed,
    pub sizes: Vec<Size>,
}
