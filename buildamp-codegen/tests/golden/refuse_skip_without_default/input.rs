use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Style {
    pub bold: bool,
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/text")]
pub struct Text {
    pub body: String,
    #[serde(default, skip_serializing_if = "Style::is_plain")]
    pub style: Style,
}
