use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// A list style that does not exist.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/messages", content_type = "application/x-www-form-urlencoded", form_lists = "comma")]
pub struct Unknown {
    pub to: Vec<String>,
}

/// A JSON body has no form lists.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/messages", form_lists = "repeat")]
pub struct Json {
    pub to: Vec<String>,
}

/// A query string does (GET sends the payload as one).
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/search", method = "GET", form_lists = "repeat")]
pub struct Query {
    pub tag: Vec<String>,
}

fn main() {}
