//! Concurrency and rate limits shared by every executor.
//!
//! A destination with [`Limits`] admits a delivery only while fewer than `max_concurrency` of its
//! deliveries are in flight and fewer than `rate.count` occupy its rate window. Each admitted
//! delivery is a [`Slot`], kept by the store and read back, under a lock on the destination, by
//! the next admission, whichever process makes it.
//!
//! # The rate window
//! A delivery occupies the window from its admission until `rate.per` after it **ended** (not
//! after it started). Then a receiver that counts arrivals sees at most `rate.count` in any span
//! of `rate.per`, however long requests take on the way: of any set of deliveries that arrive
//! within one span, the last admitted saw every other one still in the window when it was
//! admitted (each ended after the span began, so less than `rate.per` before that admission).
//!
//! # Crashes
//! A slot whose executor died is never released: it counts as in flight until its lease ends
//! (when the rescuer gives the row back) and stays in the rate window for `rate.per` after that.
//! A crash can only make a limit stricter for a while, never looser.
//!
//! # Waiting without blocking
//! A delivery that is not admitted goes back to the queue (an uncounted attempt, see
//! [`crate::queue::Event::Deferred`]) until its **turn**: the destination keeps one pointer,
//! `next_turn`, and each refused delivery takes the turn the pointer names and moves it on by
//! the destination's pace (`rate.per / rate.count`, or the recent request time over
//! `max_concurrency`). A backlog of N deliveries is thus spread over the time it needs instead of
//! being claimed and refused again all at once; other destinations' rows are claimed in between.

use std::time::Duration;

use crate::target::RateLimit;
use chrono::{DateTime, Utc};

/// A destination's limits; both unset means unlimited (and no admission is asked for).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Deliveries in flight at once, across every executor.
    pub max_concurrency: Option<u32>,
    /// Deliveries per window, across every executor.
    pub rate: Option<RateLimit>,
}

impl Limits {
    /// Whether anything is limited.
    pub fn any(&self) -> bool {
        self.max_concurrency.is_some() || self.rate.is_some()
    }

    /// Slots that ended before this instant count for nothing any more: the store may forget
    /// them.
    pub fn forget_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self
            .rate
            .map_or(chrono::Duration::zero(), |r| chrono_of(r.per))
    }
}

/// One admitted delivery of a destination, as the store keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// When it was admitted.
    pub admitted_at: DateTime<Utc>,
    /// The lease of the execution's attempt: past it, an unreleased slot's executor is presumed
    /// dead.
    pub lease_until: DateTime<Utc>,
    /// When its request ended; `None` while in flight.
    pub released_at: Option<DateTime<Utc>>,
}

impl Slot {
    fn in_flight(&self, now: DateTime<Utc>) -> bool {
        self.released_at.is_none() && self.lease_until > now
    }

    /// When it stopped (or, for a lost one, is presumed to have stopped) taking part.
    fn ended(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.released_at {
            Some(at) => at,
            None if self.lease_until > now => now, // still going: at the earliest, now
            None => self.lease_until,
        }
    }
}

/// Whether a delivery may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Start now; its slot is taken.
    Admit,
    /// Wait until `until` (the delivery's turn), attempt uncounted.
    Wait {
        /// Its turn.
        until: DateTime<Utc>,
        /// Which limit is full, for the operator.
        reason: &'static str,
    },
}

/// What [`admit`] decided: the admission, and the destination's turn pointer to store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Admit or wait.
    pub admission: Admission,
    /// The destination's next free turn (unchanged on admission).
    pub next_turn: Option<DateTime<Utc>>,
}

/// The pace assumed for a concurrency limit before any request of the destination has ended.
const ASSUMED_REQUEST: Duration = Duration::from_millis(250);
/// The shortest and longest gap between two turns.
const MIN_PACE: Duration = Duration::from_millis(5);
const MAX_PACE: Duration = Duration::from_secs(30);

/// Refusal reasons (kept on the row while it waits).
const CONCURRENCY_FULL: &str =
    "the destination's concurrency limit is reached: waits its turn (no attempt spent)";
const RATE_FULL: &str =
    "the destination's rate limit is reached: waits its turn (no attempt spent)";

/// Decides whether one more delivery may start at `now`, given the destination's `slots` (any
/// order; ended ones are ignored) and its turn pointer.
pub fn admit(
    limits: &Limits,
    slots: &[Slot],
    next_turn: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Decision {
    let in_flight = slots.iter().filter(|s| s.in_flight(now)).count();
    let concurrency_full = limits
        .max_concurrency
        .is_some_and(|max| in_flight >= max as usize);
    // The slots in the rate window, and the moment the first of them leaves it.
    let (in_window, window_frees) = match limits.rate {
        Some(rate) => {
            let per = chrono_of(rate.per);
            let leaving = slots
                .iter()
                .map(|s| s.ended(now) + per)
                .filter(|leaves| *leaves > now);
            let (n, first) = leaving.fold((0usize, None::<DateTime<Utc>>), |(n, first), at| {
                (n + 1, Some(first.map_or(at, |f| f.min(at))))
            });
            (n, first)
        }
        None => (0, None),
    };
    let rate_full = limits.rate.is_some_and(|r| in_window >= r.count as usize);
    if !concurrency_full && !rate_full {
        return Decision {
            admission: Admission::Admit,
            next_turn,
        };
    }
    let mut pace = Duration::ZERO;
    let mut reason = CONCURRENCY_FULL;
    if concurrency_full {
        let max = limits.max_concurrency.unwrap_or(1).max(1);
        pace = pace.max(request_time(slots) / max);
    }
    if rate_full {
        let rate = limits.rate.expect("rate_full implies a rate");
        pace = pace.max(rate.per / rate.count.max(1));
        reason = RATE_FULL;
    }
    let pace = chrono_of(pace.clamp(MIN_PACE, MAX_PACE));
    // The earliest a slot can free: when the first delivery leaves the window once the rate is
    // full; one pace from now while only concurrency is (a request must end first).
    let earliest = match (rate_full, window_frees) {
        (true, Some(frees)) => frees,
        _ => now + pace,
    };
    let until = next_turn.map_or(earliest, |turn| turn.max(earliest));
    Decision {
        admission: Admission::Wait { until, reason },
        next_turn: Some(until + pace),
    }
}

/// The mean time of the destination's ended requests (the pace of a concurrency limit).
fn request_time(slots: &[Slot]) -> Duration {
    let ended: Vec<Duration> = slots
        .iter()
        .filter_map(|s| {
            Some(
                (s.released_at? - s.admitted_at)
                    .to_std()
                    .unwrap_or_default(),
            )
        })
        .collect();
    if ended.is_empty() {
        return ASSUMED_REQUEST;
    }
    ended.iter().sum::<Duration>() / ended.len() as u32
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + chrono::Duration::milliseconds(ms)
    }

    fn running(admitted: i64) -> Slot {
        Slot {
            admitted_at: t(admitted),
            lease_until: t(admitted + 60_000),
            released_at: None,
        }
    }

    fn done(admitted: i64, released: i64) -> Slot {
        Slot {
            released_at: Some(t(released)),
            ..running(admitted)
        }
    }

    fn limits(max_concurrency: Option<u32>, rate: Option<(u32, u64)>) -> Limits {
        Limits {
            max_concurrency,
            rate: rate.map(|(count, secs)| RateLimit {
                count,
                per: Duration::from_secs(secs),
            }),
        }
    }

    #[test]
    fn admits_while_under_every_limit() {
        let l = limits(Some(2), Some((3, 60)));
        let d = admit(&l, &[running(0)], None, t(10));
        assert_eq!(d.admission, Admission::Admit);
        assert_eq!(d.next_turn, None);
    }

    #[test]
    fn concurrency_counts_only_slots_in_flight_and_within_their_lease() {
        let l = limits(Some(2), None);
        let now = t(100_000);
        // One running, one ended, one whose executor died (lease over): one in flight.
        let lost = running(0); // lease ended at 60 s
        let d = admit(&l, &[running(99_000), done(0, 50), lost], None, now);
        assert_eq!(d.admission, Admission::Admit);
        let d = admit(&l, &[running(99_000), running(99_500)], None, now);
        assert!(
            matches!(d.admission, Admission::Wait { reason, .. } if reason == CONCURRENCY_FULL)
        );
    }

    #[test]
    fn a_delivery_stays_in_the_rate_window_until_per_after_it_ended() {
        let l = limits(None, Some((2, 60)));
        // Admitted at 0, ended at 5 s: in the window until 65 s, not 60 s.
        let slots = [done(0, 5_000), done(1_000, 2_000)];
        let d = admit(&l, &slots, None, t(61_000));
        assert_eq!(
            d.admission,
            Admission::Wait {
                until: t(62_000),
                reason: RATE_FULL
            },
            "the first to leave the window is the one that ended at 2 s"
        );
        assert_eq!(
            admit(&l, &slots, None, t(62_000)).admission,
            Admission::Admit
        );
        // A lost slot leaves the window `per` after its lease ended.
        let lost = running(0);
        assert_eq!(
            admit(&l, &[lost, done(0, 1)], None, t(100_000)).admission,
            Admission::Admit,
            "the lost slot still counts (until 120 s), the ended one no longer does"
        );
        let d = admit(&l, &[lost, running(100_000)], None, t(110_000));
        assert_eq!(
            d.admission,
            Admission::Wait {
                until: t(120_000),
                reason: RATE_FULL
            }
        );
    }

    #[test]
    fn refused_deliveries_take_successive_turns_at_the_destinations_pace() {
        // 2 per 10 s: a turn every 5 s once the window is full.
        let l = limits(None, Some((2, 10)));
        let slots = [running(0), running(0)];
        let now = t(1_000);
        let mut turn = None;
        let mut turns = Vec::new();
        for _ in 0..3 {
            let d = admit(&l, &slots, turn, now);
            let Admission::Wait { until, .. } = d.admission else {
                panic!("the window is full")
            };
            turns.push((until - t(0)).num_milliseconds());
            turn = d.next_turn;
        }
        // The window frees at now + 10 s (in-flight ones end now at the earliest).
        assert_eq!(turns, [11_000, 16_000, 21_000]);
        // An admission leaves the pointer where it was.
        let d = admit(&l, &[], turn, now);
        assert_eq!((d.admission, d.next_turn), (Admission::Admit, turn));
    }

    #[test]
    fn the_pace_of_a_concurrency_limit_is_the_mean_request_time_over_the_limit() {
        let l = limits(Some(2), None);
        let slots = [running(0), running(0), done(0, 400), done(0, 800)];
        let d = admit(&l, &slots, None, t(1_000));
        assert_eq!(
            d,
            Decision {
                // Mean 600 ms over 2 slots: a turn every 300 ms, the first one pace from now.
                admission: Admission::Wait {
                    until: t(1_300),
                    reason: CONCURRENCY_FULL
                },
                next_turn: Some(t(1_600)),
            }
        );
        // A pointer in the past is not a turn: a refusal waits at least one pace from now.
        let d = admit(&l, &slots, Some(t(0)), t(1_000));
        assert!(matches!(d.admission, Admission::Wait { until, .. } if until == t(1_300)));
    }

    #[test]
    fn the_store_may_forget_slots_that_no_longer_count() {
        assert_eq!(limits(Some(1), None).forget_before(t(5_000)), t(5_000));
        assert_eq!(limits(None, Some((1, 2))).forget_before(t(5_000)), t(3_000));
        assert!(!limits(None, None).any());
    }
}
