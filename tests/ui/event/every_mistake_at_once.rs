use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

// A misspelled key, a version that is not one, and no name: all three reported in one build.
#[derive(Serialize, Deserialize, BuildAmpEvent)]
#[event(nam = "call.ended", version = "v2", description = 3)]
pub struct CallEnded {
    pub id: String,
}

fn main() {}
