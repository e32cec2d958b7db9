use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "lead.changed", version = "1")]
pub enum LeadChanged {
    Created,
    Lost,
}

fn main() {}
