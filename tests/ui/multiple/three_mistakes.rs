use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

// Three mistakes, three errors, one build.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.example.com/{}/notify",
    method = "SEND",
    timeout = "30"
)]
pub struct Notify {
    pub message: String,
}

fn main() {}
