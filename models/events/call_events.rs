//! Call center: calls start, are answered, missed, transferred and end; recordings become
//! available.

use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

use super::lead_events::Agent;

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The conversation finished normally.
    Completed,
    /// The call went to voicemail.
    Voicemail,
    /// The caller hung up before the end.
    Abandoned,
    /// The call could not be connected.
    Failed,
}

/// A call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The call's id.
    pub id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// RFC 3339.
    pub started_at: String,
}

/// The person on the other end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Caller {
    /// The customer's id, when the number is known.
    pub id: Option<String>,
    /// The customer's name, when known.
    pub name: Option<String>,
    /// The customer's phone number (E.164).
    pub phone: String,
}

/// A call was initiated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "call.started", version = "1.0")]
pub struct CallStarted {
    /// The call.
    pub call: Call,
    /// Who is calling, or being called.
    pub customer: Caller,
}

/// An agent answered a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "call.answered", version = "1.0")]
pub struct CallAnswered {
    /// The call.
    pub call: Call,
    /// The agent who answered.
    pub agent: Agent,
    /// Seconds the caller waited.
    pub wait_seconds: u32,
}

/// A call was missed or abandoned before an agent answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "call.missed", version = "1.0")]
pub struct CallMissed {
    /// The call.
    pub call: Call,
    /// Who called.
    pub customer: Caller,
    /// Seconds the caller waited.
    pub wait_seconds: u32,
}

/// A call was transferred between agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "call.transferred", version = "1.0")]
pub struct CallTransferred {
    /// The call.
    pub call: Call,
    /// The agent who had the call.
    pub from_agent: Agent,
    /// The agent who has it now.
    pub to_agent: Agent,
}

/// A call ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "call.ended", version = "1.0")]
pub struct CallEnded {
    /// The call.
    pub call: Call,
    /// The customer on the call.
    pub customer: Caller,
    /// The agent on the call, if one answered.
    pub agent: Option<Agent>,
    /// Seconds.
    pub duration: u32,
    /// How it ended.
    pub outcome: CallOutcome,
    /// RFC 3339.
    pub ended_at: String,
}

/// A call's recording is ready to download.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "call.recording_available", version = "1.0")]
pub struct CallRecordingAvailable {
    /// The recorded call.
    pub call: Call,
    /// Where to download the recording (a signed, expiring URL).
    pub recording_url: String,
    /// Seconds.
    pub duration: u32,
}
