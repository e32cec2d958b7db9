use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/upload", file_upload = true, content_type = "application/json")]
pub struct Notify {
    pub file: Vec<u8>,
}

fn main() {}
