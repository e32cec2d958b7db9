use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/when")]
pub struct When {
    #[serde(with = "time_format")]
    pub at: String,
}
