use buildamp::BuildAmpEvent;
use serde::Serialize;

// Published over HTTP, an event's data is checked by decoding it: the type must deserialize.
#[derive(Serialize, BuildAmpEvent)]
#[event(name = "lead.created", version = "1")]
pub struct LeadCreated {
    pub id: String,
}

fn main() {}
