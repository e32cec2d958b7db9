use buildamp::BuildAmpWebhook;
use serde::Serialize;

#[derive(Serialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify")]
pub struct Notify {
    pub message: String,
}

fn main() {}
