//! Adjacently tagged (`tag = "t", content = "c"`).
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
pub enum Block {
    Divider,
    Text(String),
    Image { url: String, alt: Option<String> },
    Pair(String, u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/page")]
pub struct Page {
    pub blocks: Vec<Block>,
}
