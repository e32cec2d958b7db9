use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.postmarkapp.com/email", auth = "X-Postmark-Server-Token: {POSTMARK_TOKEN}", headers = { "X-Postmark-Server-Token" = "abc" })]
pub struct Notify {
    pub message: String,
}

fn main() {}
