//! Lead management: a lead is created, updated, assigned, converted or lost.

use buildamp::BuildAmpEvent;
use serde::{Deserialize, Serialize};

/// A lead as the call center knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// The lead's id in the call center.
    pub id: String,
    /// The person's full name.
    pub name: String,
    /// Their email address, when known.
    pub email: Option<String>,
    /// Their phone number (E.164), when known.
    pub phone: Option<String>,
    /// Where the lead came from (`website`, `referral`, ...).
    pub source: String,
    /// 0 to 100: how likely the lead is to convert.
    pub score: u32,
    /// RFC 3339.
    pub created_at: String,
}

/// An agent of the call center.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's id.
    pub id: String,
    /// The agent's display name.
    pub name: String,
    /// The agent's work email, when shared.
    pub email: Option<String>,
}

/// A new lead was created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "lead.created", version = "1.0")]
pub struct LeadCreated {
    /// The new lead.
    pub lead: Lead,
    /// The agent it was given to, if any yet.
    pub agent: Option<Agent>,
}

/// A lead's information changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "lead.updated", version = "1.0")]
pub struct LeadUpdated {
    /// The lead as it is now.
    pub lead: Lead,
    /// The names of the fields that changed.
    pub changed_fields: Vec<String>,
}

/// A lead was converted into a customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "lead.converted", version = "1.0")]
pub struct LeadConverted {
    /// The converted lead.
    pub lead: Lead,
    /// The agent credited with the conversion.
    pub agent: Agent,
    /// The deal's value in cents, when there is one.
    pub value_cents: Option<u32>,
}

/// A lead was marked as lost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "lead.lost", version = "1.0")]
pub struct LeadLost {
    /// The lost lead.
    pub lead: Lead,
    /// Why it was lost, as the agent wrote it.
    pub reason: Option<String>,
}

/// A lead was assigned to an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpEvent)]
#[event(name = "lead.assigned", version = "1.0")]
pub struct LeadAssigned {
    /// The lead.
    pub lead: Lead,
    /// The agent it now belongs to.
    pub agent: Agent,
}
