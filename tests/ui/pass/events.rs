//! Event types in the documented forms compile, register and publish, with nothing but the
//! derives imported.

#[derive(serde::Serialize, serde::Deserialize, buildamp::BuildAmpEvent)]
#[event(name = "lead.created", version = "1.0")]
/// A new lead was created.
pub struct LeadCreated {
    pub id: String,
    pub score: u32,
}

#[derive(serde::Serialize, serde::Deserialize, buildamp::BuildAmpEvent)]
#[event(
    name = "call.recording_available",
    version = "2",
    description = "A call's recording is ready."
)]
pub struct RecordingReady {
    pub url: String,
}

fn main() {
    use buildamp::Event;
    assert_eq!(LeadCreated::NAME, "lead.created");
    assert_eq!(LeadCreated::DESCRIPTION, "A new lead was created.");
    assert_eq!(RecordingReady::VERSION, "2");
    let catalog: Vec<&str> = buildamp::service::event_types().iter().map(|e| e.name()).collect();
    assert_eq!(catalog, ["call.recording_available", "lead.created"]);
}
