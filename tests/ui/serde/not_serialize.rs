use buildamp::BuildAmpWebhook;
use serde::Deserialize;

#[derive(Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify")]
pub struct Notify {
    pub message: String,
}

fn main() {}
