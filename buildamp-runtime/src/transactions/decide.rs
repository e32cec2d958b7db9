//! Where a transaction stands: the one pure function that moves it (the app's reports and what
//! its messages add up to in, its next state and the status changes to call back out), and the
//! callbacks' payloads. The store writes what this decided; nothing else picks a status.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::queue::Status;
use crate::store::TransactionCounts;
use crate::tracking::timeline::DeliveryStatus;

/// A transaction's status (seed 000's), in the order it moves through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionStatus {
    /// Opened: the callback URL is stored, nothing is sent yet.
    Accept,
    /// The app is loading messages (it reports how many so far).
    Processing,
    /// Every message is triggered, some to be sent later (the app says so).
    Scheduled,
    /// Every message left the queue: sent to its provider, or dead-lettered.
    Sent,
    /// Every sent message's fate is known (delivered, bounced, ...), or the deadline passed.
    Completed,
}

impl TransactionStatus {
    /// Its name, as in callbacks (`PROCESSING`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Accept => "ACCEPT",
            TransactionStatus::Processing => "PROCESSING",
            TransactionStatus::Scheduled => "SCHEDULED",
            TransactionStatus::Sent => "SENT",
            TransactionStatus::Completed => "COMPLETED",
        }
    }
}

/// Which callbacks a transaction's customer receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackEvent {
    /// `status_change`: ACCEPT, PROCESSING, SCHEDULED, SENT, COMPLETED (with the summary).
    StatusChange,
    /// `delivery_event`: each message sent, delivered, bounced, opened, ... as providers report.
    #[serde(alias = "delivery_events")]
    DeliveryEvent,
}

impl CallbackEvent {
    /// The callback's event type (its `X-Event-Type`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackEvent::StatusChange => STATUS_CHANGE,
            CallbackEvent::DeliveryEvent => DELIVERY_EVENT,
        }
    }
}

pub use crate::service::event::{DELIVERY_EVENT, STATUS_CHANGE};

/// When a transaction reached each status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Opened.
    pub accepted_at: Option<DateTime<Utc>>,
    /// First reported processing.
    pub processing_at: Option<DateTime<Utc>>,
    /// Reported scheduled.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Every message left the queue.
    pub sent_at: Option<DateTime<Utc>>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
}

/// What a completed transaction's messages came to: sent in the last callback and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Messages in the transaction.
    pub message_count: u64,
    /// Sent to their provider.
    pub sent: u64,
    /// Never sent: dead-lettered after their attempts (the execution says why).
    pub failed_to_send: u64,
    /// Sent and reached the recipient (delivered, opened, clicked, complained).
    pub reached_recipient: u64,
    /// Sent and did not (bounced, undelivered, failed, canceled).
    pub not_delivered: u64,
    /// Sent, and no provider said what became of them before the deadline.
    pub unknown: u64,
    /// Each sent message once, at the furthest state its provider reported (`delivered`,
    /// `opened`, `bounced`, ...; `sent` when nothing came back).
    pub states: BTreeMap<String, u64>,
    /// Whether it completed because the deadline passed.
    pub timed_out: bool,
    /// From ACCEPT to COMPLETED.
    pub duration_ms: i64,
    /// When each status was reached.
    pub timings: Timings,
}

/// A transaction's state: everything the store keeps of it besides its id, its endpoint and its
/// deadline, decided by [`decide`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionState {
    /// Where it stands.
    pub status: TransactionStatus,
    /// Where callbacks go (the endpoint's URL, for the view).
    pub callback_url: String,
    /// Which callbacks the customer receives.
    pub callback_events: Vec<CallbackEvent>,
    /// How many messages the app said it holds, when it said.
    pub message_count: Option<u64>,
    /// How many the app reported loaded (callbacks say this or the messages triggered, whichever
    /// is more).
    pub processed_count: u64,
    /// PROCESSING callbacks sent so far (each progress report is one).
    pub progress_reports: u32,
    /// The app's metadata, echoed in every status change.
    pub metadata: Map<String, Value>,
    /// When it reached each status.
    pub timings: Timings,
    /// Its summary, once completed.
    pub summary: Option<Summary>,
}

/// What a transaction's messages add up to now. Sent and dead-lettered messages are counted once
/// their outcome reached the transaction (its `sent` or `failed` callback is published), so
/// SENT follows every message's own callback.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Messages triggered in it.
    pub linked: u64,
    /// Still in the queue: pending, being sent, or waiting for a retry.
    pub queued: u64,
    /// Sent to their provider.
    pub sent: u64,
    /// Dead-lettered.
    pub dead_letter: u64,
    /// Sent messages by furthest reported state (`sent` until a provider says more).
    pub states: BTreeMap<DeliveryStatus, u64>,
}

/// The state a dead-lettered message is tracked with (not a provider's status).
pub const DEAD_LETTER: &str = "dead_letter";

impl Facts {
    /// The facts in the store's counts.
    pub fn of(counts: &TransactionCounts) -> Facts {
        let mut facts = Facts::default();
        for &(status, n) in &counts.by_status {
            facts.linked += n;
            if Status::UNSETTLED.contains(&status) {
                facts.queued += n;
            }
        }
        for (state, _, n) in &counts.by_state {
            if state == DEAD_LETTER {
                facts.dead_letter += n;
                continue;
            }
            facts.sent += n;
            let state = DeliveryStatus::parse(state).unwrap_or(DeliveryStatus::Other);
            *facts.states.entry(state).or_default() += n;
        }
        facts
    }

    /// Sent messages whose fate is known.
    fn settled(&self) -> u64 {
        self.states
            .iter()
            .filter(|(s, _)| s.is_final())
            .map(|(_, n)| n)
            .sum()
    }
}

/// What moves a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// Look again at its messages (one was sent, a provider reported, the deadline passed).
    Refresh,
    /// The app loaded `processed_count` messages (of `message_count`, when it now knows).
    Processing {
        /// Loaded so far.
        processed_count: u64,
        /// The total, if the app knows it now.
        message_count: Option<u64>,
    },
    /// Every message is triggered, some to be sent later (of `message_count`, when given).
    Scheduled {
        /// The total, if the app knows it now.
        message_count: Option<u64>,
    },
}

/// A decided move: the new state, and the status changes to call back in order (each with the
/// suffix of its callback's event id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The state to store.
    pub state: TransactionState,
    /// Status changes to publish, in order.
    pub changes: Vec<(TransactionStatus, String)>,
}

/// How many messages the transaction holds, once that is known: what the app said, or (after it
/// reported SCHEDULED) what was triggered.
fn expected(state: &TransactionState, facts: &Facts) -> Option<u64> {
    state
        .message_count
        .or((state.status >= TransactionStatus::Scheduled).then_some(facts.linked))
}

/// Moves `state` by `report` and `facts` at `now` (`deadline` passed: it completes whatever its
/// messages' fate). `None` when nothing changes. A status never moves back; SENT and COMPLETED
/// are derived from the messages, never reported.
pub fn decide(
    state: &TransactionState,
    report: Report,
    facts: &Facts,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Option<Decision> {
    use TransactionStatus::*;
    if state.status == Completed {
        return None;
    }
    let mut next = state.clone();
    let mut changes = Vec::new();
    match report {
        Report::Refresh => {}
        Report::Processing {
            processed_count,
            message_count,
        } => {
            next.message_count = message_count.or(next.message_count);
            let processed = next.processed_count.max(processed_count);
            if next.status < Processing
                || (next.status == Processing && processed != next.processed_count)
            {
                next.status = Processing;
                next.processed_count = processed;
                next.timings.processing_at.get_or_insert(now);
                next.progress_reports += 1;
                changes.push((Processing, format!("processing_{}", next.progress_reports)));
            }
        }
        Report::Scheduled { message_count } => {
            next.message_count = message_count.or(next.message_count);
            if next.status < Scheduled {
                next.status = Scheduled;
                next.timings.scheduled_at = Some(now);
                changes.push((Scheduled, "scheduled".into()));
            }
        }
    }
    let all_out = expected(&next, facts).is_some_and(|n| {
        facts.linked >= n && facts.queued == 0 && facts.sent + facts.dead_letter >= facts.linked
    });
    if next.status < Sent && all_out {
        next.status = Sent;
        next.timings.sent_at = Some(now);
        changes.push((Sent, "sent".into()));
    }
    let settled = next.status == Sent && facts.settled() >= facts.sent;
    let overdue = now >= deadline;
    if settled || overdue {
        next.status = Completed;
        next.timings.completed_at = Some(now);
        next.summary = Some(summary(&next, facts, !settled, now));
        changes.push((Completed, "completed".into()));
    }
    (next != *state).then_some(Decision {
        state: next,
        changes,
    })
}

/// What the messages came to, at completion.
fn summary(
    state: &TransactionState,
    facts: &Facts,
    timed_out: bool,
    now: DateTime<Utc>,
) -> Summary {
    let count = |keep: fn(DeliveryStatus) -> bool| -> u64 {
        facts
            .states
            .iter()
            .filter(|(s, _)| keep(**s))
            .map(|(_, n)| n)
            .sum()
    };
    let reached = count(DeliveryStatus::reached_recipient);
    let settled = facts.settled();
    Summary {
        message_count: expected(state, facts).unwrap_or(facts.linked),
        sent: facts.sent,
        failed_to_send: facts.dead_letter,
        reached_recipient: reached,
        not_delivered: settled - reached,
        unknown: facts.sent.saturating_sub(settled),
        states: facts
            .states
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.as_str().to_owned(), *n))
            .collect(),
        timed_out,
        duration_ms: state
            .timings
            .accepted_at
            .map_or(0, |at| (now - at).num_milliseconds()),
        timings: state.timings.clone(),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The body of a status-change callback (seed 000's): `transaction_id`, `event_type`, `status`,
/// `timestamp`, `message_count`, `processed_count`, the app's `metadata`, and the `summary` on
/// COMPLETED.
pub fn status_payload(
    id: uuid::Uuid,
    state: &TransactionState,
    status: TransactionStatus,
    facts: &Facts,
    now: DateTime<Utc>,
) -> Value {
    let mut body = json!({
        "transaction_id": id,
        "event_type": STATUS_CHANGE,
        "status": status.as_str(),
        "timestamp": stamp(now),
        "message_count": expected(state, facts),
        "processed_count": state.processed_count.max(facts.linked),
        "metadata": state.metadata,
    });
    if status == TransactionStatus::Completed
        && let Some(summary) = &state.summary
    {
        body["summary"] = serde_json::to_value(summary).expect("a summary serializes");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransactionStatus::*;

    fn t(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap()
    }

    fn opened(message_count: Option<u64>) -> TransactionState {
        TransactionState {
            status: Accept,
            callback_url: "https://example.com/cb".into(),
            callback_events: vec![CallbackEvent::StatusChange, CallbackEvent::DeliveryEvent],
            message_count,
            processed_count: 0,
            progress_reports: 0,
            metadata: Map::new(),
            timings: Timings {
                accepted_at: Some(t(0)),
                ..Timings::default()
            },
            summary: None,
        }
    }

    fn facts(queued: u64, sent: u64, dead: u64, states: &[(DeliveryStatus, u64)]) -> Facts {
        let mut f = Facts {
            linked: queued + sent + dead,
            queued,
            sent,
            dead_letter: dead,
            states: states.iter().copied().collect(),
        };
        let reported: u64 = f.states.values().sum();
        if sent > reported {
            *f.states.entry(DeliveryStatus::Sent).or_default() += sent - reported;
        }
        f
    }

    fn statuses(d: &Decision) -> Vec<TransactionStatus> {
        d.changes.iter().map(|(s, _)| *s).collect()
    }

    const FAR: i64 = 1_000_000;

    #[test]
    fn the_documented_sequence_is_reported_then_derived() {
        use DeliveryStatus as D;
        let s0 = opened(Some(4));
        let p = decide(
            &s0,
            Report::Processing {
                processed_count: 2,
                message_count: None,
            },
            &facts(2, 0, 0, &[]),
            t(1),
            t(FAR),
        )
        .unwrap();
        assert_eq!(statuses(&p), [Processing]);
        assert_eq!(p.changes[0].1, "processing_1");
        assert_eq!(p.state.processed_count, 2);
        // The same progress again is not news.
        let same = Report::Processing {
            processed_count: 2,
            message_count: None,
        };
        assert_eq!(
            decide(&p.state, same, &facts(2, 0, 0, &[]), t(2), t(FAR)),
            None
        );
        // All four triggered, two still queued: processing, not sent; and a later report of
        // those four is still news.
        let four = facts(2, 2, 0, &[]);
        assert_eq!(decide(&p.state, Report::Refresh, &four, t(3), t(FAR)), None);
        let report = Report::Processing {
            processed_count: 4,
            message_count: None,
        };
        let more = decide(&p.state, report, &four, t(3), t(FAR)).unwrap();
        assert_eq!(statuses(&more), [Processing]);
        let body = status_payload(uuid::Uuid::nil(), &more.state, Processing, &four, t(3));
        assert_eq!(body["processed_count"], 4);
        // The last leaves the queue (one dead-lettered): SENT.
        let sent = decide(
            &more.state,
            Report::Refresh,
            &facts(0, 3, 1, &[]),
            t(4),
            t(FAR),
        )
        .unwrap();
        assert_eq!(statuses(&sent), [Sent]);
        // Two fates known of three: still SENT.
        let partial = facts(0, 3, 1, &[(D::Delivered, 1), (D::Bounced, 1)]);
        assert_eq!(
            decide(&sent.state, Report::Refresh, &partial, t(5), t(FAR)),
            None
        );
        // The third opened: COMPLETED, with the summary.
        let all = facts(
            0,
            3,
            1,
            &[(D::Delivered, 1), (D::Bounced, 1), (D::Opened, 1)],
        );
        let done = decide(&sent.state, Report::Refresh, &all, t(9), t(FAR)).unwrap();
        assert_eq!(statuses(&done), [Completed]);
        let summary = done.state.summary.clone().unwrap();
        assert_eq!(
            (summary.message_count, summary.sent, summary.failed_to_send),
            (4, 3, 1)
        );
        assert_eq!(
            (
                summary.reached_recipient,
                summary.not_delivered,
                summary.unknown
            ),
            (2, 1, 0)
        );
        assert_eq!(summary.duration_ms, 9000);
        assert!(!summary.timed_out);
        assert_eq!(summary.timings.sent_at, Some(t(4)));
        // Nothing moves a completed transaction.
        assert_eq!(
            decide(
                &done.state,
                Report::Scheduled {
                    message_count: None
                },
                &all,
                t(10),
                t(FAR)
            ),
            None
        );
    }

    #[test]
    fn without_a_count_sent_waits_for_scheduled_and_a_skipped_step_is_still_called_back() {
        let s0 = opened(None);
        // Everything triggered and sent, but nobody said that is all of them.
        assert_eq!(
            decide(&s0, Report::Refresh, &facts(0, 2, 0, &[]), t(1), t(FAR)),
            None
        );
        let done = decide(
            &s0,
            Report::Scheduled {
                message_count: None,
            },
            &facts(0, 2, 0, &[(DeliveryStatus::Delivered, 2)]),
            t(2),
            t(FAR),
        )
        .unwrap();
        assert_eq!(statuses(&done), [Scheduled, Sent, Completed]);
    }

    #[test]
    fn the_deadline_completes_it_with_the_unknown_counted() {
        let s0 = opened(Some(3));
        let f = facts(1, 2, 0, &[(DeliveryStatus::Delivered, 1)]);
        assert_eq!(decide(&s0, Report::Refresh, &f, t(99), t(100)), None);
        let done = decide(&s0, Report::Refresh, &f, t(100), t(100)).unwrap();
        assert_eq!(statuses(&done), [Completed]);
        let summary = done.state.summary.unwrap();
        assert!(summary.timed_out);
        assert_eq!((summary.reached_recipient, summary.unknown), (1, 1));
        assert_eq!(summary.states["sent"], 1);
    }

    #[test]
    fn a_report_never_moves_it_back() {
        let s0 = opened(Some(2));
        let scheduled = decide(
            &s0,
            Report::Scheduled {
                message_count: None,
            },
            &facts(2, 0, 0, &[]),
            t(1),
            t(FAR),
        )
        .unwrap();
        let late = Report::Processing {
            processed_count: 1,
            message_count: None,
        };
        assert_eq!(
            decide(&scheduled.state, late, &facts(2, 0, 0, &[]), t(2), t(FAR)),
            None
        );
    }
}
