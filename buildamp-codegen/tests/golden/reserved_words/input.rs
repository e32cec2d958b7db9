//! Field names Elm reserves get a trailing underscore; the wire keys stay serde's.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/import")]
pub struct Import {
    pub r#type: String,
    pub module: String,
    pub port: u16,
    pub r#in: Vec<String>,
    pub alias: Option<String>,
}
