use std::collections::HashMap;

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/scores")]
pub struct Scores {
    pub by_user: HashMap<u32, f64>,
}
