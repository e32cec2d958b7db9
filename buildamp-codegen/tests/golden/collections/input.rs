//! Sequences and sets become `List`; maps keyed by `String` become `Dict String`.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/catalog")]
pub struct Catalog {
    pub names: Vec<String>,
    pub queue: VecDeque<u32>,
    pub tags: BTreeSet<String>,
    pub seen: HashSet<i32>,
    pub prices: BTreeMap<String, f64>,
    pub stock: HashMap<String, Vec<u16>>,
    pub matrix: Vec<Vec<i32>>,
}
