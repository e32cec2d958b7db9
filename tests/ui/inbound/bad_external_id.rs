use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/sms", external_id = "sid")]
pub struct Sms {
    pub to: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/email", external_id = "json:id")]
pub struct Email {
    pub to: String,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/push", external_id = "header:X Message")]
pub struct Push {
    pub to: String,
}

fn main() {}
