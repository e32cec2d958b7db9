use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpEvent)]
pub struct LeadLost {
    pub id: String,
}

fn main() {}
