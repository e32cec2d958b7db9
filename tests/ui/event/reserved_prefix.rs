use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "buildamp.ping", version = "1")]
pub struct Ping {
    pub at: String,
}

fn main() {}
