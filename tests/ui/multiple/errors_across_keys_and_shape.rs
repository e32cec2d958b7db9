use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

// Shape and target errors come out together.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", max_attempts = 0, auth = "Bearer secret")]
pub struct Notify<T> {
    pub message: T,
}

fn main() {}
