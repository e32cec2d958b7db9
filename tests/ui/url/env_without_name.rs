use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = env!())]
pub struct Notify {
    pub message: String,
}

fn main() {}
