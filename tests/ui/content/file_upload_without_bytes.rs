use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/upload", file_upload = true)]
pub struct Notify {
    pub file_name: String,
    pub data: Vec<String>,
}

fn main() {}
