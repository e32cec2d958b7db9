//! `default`, `skip`, `skip_serializing_if`: a field serde may leave out decodes to its default.
use std::collections::BTreeMap;

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/settings")]
pub struct Settings {
    pub name: String,
    #[serde(default)]
    pub retries: u32,
    #[serde(skip)]
    pub cache_only: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
}
