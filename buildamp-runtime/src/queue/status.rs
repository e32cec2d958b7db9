//! The states of an execution (see the [module docs](super) for the edges between them).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an execution stands: a node of the queue's state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its first attempt, due at `next_retry_at`.
    Pending,
    /// Claimed by an executor, which holds a lease on it.
    Sending,
    /// Delivered: the target answered 2xx.
    Sent,
    /// A retryable failure; due again at `next_retry_at`.
    Failed,
    /// Given up, with the reason in `error_message`; retried only by hand.
    DeadLetter,
}

impl Status {
    /// The states a claim picks rows from (when they are due).
    pub const CLAIMABLE: [Status; 2] = [Status::Pending, Status::Failed];

    /// The states of a delivery that is not settled yet: on an ordered endpoint, one of these
    /// holds back every later delivery of its ordering key.
    pub const UNSETTLED: [Status; 3] = [Status::Pending, Status::Sending, Status::Failed];

    /// The value stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::DeadLetter => "dead_letter",
        }
    }

    /// Whether nothing moves an execution on from here but a person (`sent`, `dead_letter`).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Sent | Status::DeadLetter)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `status` value that names no state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => Status::Pending,
            "sending" => Status::Sending,
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            "dead_letter" => Status::DeadLetter,
            other => return Err(UnknownStatus(other.to_owned())),
        })
    }
}
