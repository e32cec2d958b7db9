use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "Lead.Created", version = "1")]
pub struct LeadCreated {
    pub id: String,
}

fn main() {}
