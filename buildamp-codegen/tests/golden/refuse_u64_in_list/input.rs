use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/ids")]
pub struct Ids {
    pub ids: Vec<Option<u64>>,
}
