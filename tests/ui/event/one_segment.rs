use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "lead", version = "1")]
pub struct Lead {
    pub id: String,
}

fn main() {}
