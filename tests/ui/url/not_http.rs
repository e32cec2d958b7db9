use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "ftp://files.example.com/upload")]
pub struct Notify {
    pub message: String,
}

fn main() {}
