use std::collections::HashMap;

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/doc")]
pub struct Doc {
    pub id: String,
    #[serde(flatten)]
    pub rest: HashMap<String, String>,
}
