use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify")]
pub enum Notify {
    Email { to: String },
    Sms { to: String },
}

fn main() {}
