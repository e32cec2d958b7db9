use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.mailgun.net/v3/MAILGUN_DOMAIN}/messages")]
pub struct Notify {
    pub message: String,
}

fn main() {}
