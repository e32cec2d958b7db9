//! The circuit breaker of a destination (a customer's endpoint, or a `#[target]`'s host), shared
//! by every executor through the store.
//!
//! - **Closed**: deliveries go. Each failure that says the destination is down (no answer, a
//!   timeout, 408, 429 or 5xx) adds to a count of consecutive failures; any other answer resets
//!   it. At [`BreakerPolicy::failures`] the circuit opens.
//! - **Open** for a cool-down: due deliveries wait (their attempt given back, none spent).
//! - **Half-open** when the cool-down has passed: one delivery, the probe, goes (whichever
//!   executor takes it first; the store's lock makes it one). The others keep waiting.
//! - The probe succeeds: closed, the cool-down back to its first length. It fails: open again,
//!   for twice the last cool-down (at most [`BreakerPolicy::max_cool_down`]).
//!
//! An answer that proves the destination is up closes the circuit from any state (a delivery
//! that was in flight when it opened, say). A probe whose executor died holds the half-open
//! state only until its lease ends; then another delivery may probe.
//!
//! Pure: [`gate`] says whether a delivery may go, [`take_probe`] and [`observe`] decide each
//! change, and the store writes what they decided, under a lock on the destination.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::queue::{AttemptResult, ExecutionId};

/// When circuits open and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub failures: u32,
    /// The first cool-down.
    pub cool_down: Duration,
    /// The longest cool-down, however often the probe fails.
    pub max_cool_down: Duration,
    /// A customer's endpoint failing for this long without an answer in between is disabled
    /// (`None`: never).
    pub disable_after: Option<Duration>,
}

impl Default for BreakerPolicy {
    /// 5 consecutive failures; 30 s, doubling to at most an hour; endpoints disabled after 5
    /// days of failing.
    fn default() -> Self {
        BreakerPolicy {
            failures: 5,
            cool_down: Duration::from_secs(30),
            max_cool_down: Duration::from_secs(3600),
            disable_after: Some(Duration::from_secs(5 * 86_400)),
        }
    }
}

/// A circuit's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Deliveries go.
    Closed,
    /// Deliveries wait until the cool-down ends.
    Open,
    /// One probe is in flight; the others wait for its answer.
    HalfOpen,
}

impl CircuitState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Closed, Self::Open, Self::HalfOpen]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// A destination's circuit, as the store keeps it. A destination without one is closed with no
/// failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Circuit {
    /// The state.
    pub state: CircuitState,
    /// Consecutive failures.
    pub failures: u32,
    /// When the current run of failures began (none while the destination answers).
    pub failing_since: Option<DateTime<Utc>>,
    /// The last cool-down (the next re-open doubles it).
    #[serde(serialize_with = "millis")]
    pub cool_down: Duration,
    /// Open: when the cool-down ends. Half-open: when the probe's lease ends.
    pub until: Option<DateTime<Utc>>,
    /// Half-open: the probing execution.
    pub probe: Option<ExecutionId>,
    /// When the state last changed.
    pub changed_at: DateTime<Utc>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Circuit {
    /// A closed circuit with no failures.
    pub fn closed(policy: &BreakerPolicy, now: DateTime<Utc>) -> Self {
        Circuit {
            state: CircuitState::Closed,
            failures: 0,
            failing_since: None,
            cool_down: policy.cool_down,
            until: None,
            probe: None,
            changed_at: now,
        }
    }

    /// Whether it is closed with no failures: nothing worth storing.
    pub fn is_clean(&self) -> bool {
        self.state == CircuitState::Closed && self.failures == 0
    }
}

/// Whether a delivery may go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Go.
    Pass,
    /// The cool-down is over (or the last probe was lost): go as the probe, if the store gives
    /// it to this delivery ([`take_probe`]).
    Probe,
    /// Wait until then, attempt uncounted.
    Wait(DateTime<Utc>),
}

/// How long deliveries wait while another delivery probes.
pub const PROBE_RECHECK: Duration = Duration::from_secs(5);

/// Whether a delivery to a destination whose circuit is `circuit` may go at `now`.
pub fn gate(circuit: Option<&Circuit>, now: DateTime<Utc>) -> Gate {
    let Some(c) = circuit else {
        return Gate::Pass;
    };
    match (c.state, c.until) {
        (CircuitState::Closed, _) => Gate::Pass,
        (CircuitState::Open, Some(until)) if until > now => Gate::Wait(until),
        (CircuitState::HalfOpen, Some(until)) if until > now => {
            Gate::Wait(until.min(now + chrono_of(PROBE_RECHECK)))
        }
        _ => Gate::Probe,
    }
}

/// Under the destination's lock: the circuit with `execution` as its probe until
/// `lease_until`, or `None` when the probe is not (or no longer) to be had.
pub fn take_probe(
    circuit: Option<&Circuit>,
    execution: ExecutionId,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Option<Circuit> {
    let c = circuit?;
    (gate(Some(c), now) == Gate::Probe).then_some(Circuit {
        state: CircuitState::HalfOpen,
        until: Some(lease_until),
        probe: Some(execution),
        ..*c
    })
}

/// Under the destination's lock: the circuit with the probe of `execution` given back (it was
/// not sent after all: its limits refused it, or its request could not be built), open with its
/// cool-down over so that the next delivery may probe at once; `None` when it holds no probe.
pub fn give_back_probe(
    circuit: Option<&Circuit>,
    execution: ExecutionId,
    now: DateTime<Utc>,
) -> Option<Circuit> {
    let c = circuit?;
    (c.state == CircuitState::HalfOpen && c.probe == Some(execution)).then_some(Circuit {
        state: CircuitState::Open,
        until: Some(now),
        probe: None,
        ..*c
    })
}

/// What an attempt says about its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// It answered (2xx, or a 4xx about the request).
    Up,
    /// No answer, a timeout, 408, 429 or 5xx.
    Down,
}

impl Health {
    /// The health an attempt's result shows; `None` when it says nothing about the destination
    /// (the request could not even be built).
    pub fn of(result: &AttemptResult) -> Option<Health> {
        match result {
            AttemptResult::Response { status, .. } => Some(match status {
                408 | 429 | 500..=599 => Health::Down,
                _ => Health::Up,
            }),
            AttemptResult::Unreachable(_) => Some(Health::Down),
            AttemptResult::Invalid(_) => None,
        }
    }
}

/// A change of state worth telling the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Closed to open: the failures reached the policy's count.
    Opened,
    /// The probe failed: open again, for longer.
    Reopened,
    /// The destination answered: closed.
    Closed,
}

/// Under the destination's lock: the circuit after an attempt of `execution` showed `health`
/// at `now`, and the change it makes; `None` when nothing is to be written.
pub fn observe(
    circuit: Option<&Circuit>,
    health: Health,
    execution: ExecutionId,
    now: DateTime<Utc>,
    policy: &BreakerPolicy,
) -> Option<(Circuit, Option<Change>)> {
    let c = circuit
        .copied()
        .unwrap_or_else(|| Circuit::closed(policy, now));
    match (health, c.state) {
        (Health::Up, _) if c.is_clean() => None,
        (Health::Up, CircuitState::Closed) => Some((
            Circuit {
                failures: 0,
                failing_since: None,
                ..c
            },
            None,
        )),
        (Health::Up, _) => Some((Circuit::closed(policy, now), Some(Change::Closed))),
        (Health::Down, state) => {
            let failures = c.failures.saturating_add(1);
            let failing_since = c.failing_since.or(Some(now));
            let counted = Circuit {
                failures,
                failing_since,
                ..c
            };
            let open = |cool_down: Duration| Circuit {
                state: CircuitState::Open,
                cool_down,
                until: Some(now + chrono_of(cool_down)),
                probe: None,
                changed_at: now,
                ..counted
            };
            match state {
                CircuitState::Closed if failures >= policy.failures.max(1) => {
                    Some((open(policy.cool_down), Some(Change::Opened)))
                }
                CircuitState::HalfOpen if c.probe == Some(execution) => Some((
                    open((c.cool_down * 2).min(policy.max_cool_down)),
                    Some(Change::Reopened),
                )),
                _ => Some((counted, None)),
            }
        }
    }
}

/// Why a customer's endpoint should be disabled after an attempt that answered `status` (if it
/// answered) and left its circuit as `circuit`: it answered 410 Gone, or it has failed for
/// longer than the policy allows.
pub fn disable_reason(
    status: Option<u16>,
    circuit: Option<&Circuit>,
    now: DateTime<Utc>,
    policy: &BreakerPolicy,
) -> Option<String> {
    if status == Some(410) {
        return Some("the endpoint answered 410 Gone".to_owned());
    }
    let since = circuit?.failing_since?;
    let period = policy.disable_after?;
    (now - since >= chrono_of(period)).then(|| {
        format!(
            "the endpoint failed every delivery since {} (more than {} h)",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            period.as_secs() / 3600
        )
    })
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failures: 3,
            cool_down: Duration::from_secs(10),
            max_cool_down: Duration::from_secs(25),
            disable_after: Some(Duration::from_secs(7200)),
        }
    }

    /// Applies `observe` and returns the change.
    fn see(
        c: &mut Option<Circuit>,
        health: Health,
        e: ExecutionId,
        now: DateTime<Utc>,
    ) -> Option<Change> {
        let (next, change) = observe(c.as_ref(), health, e, now, &policy())?;
        *c = Some(next);
        change
    }

    #[test]
    fn a_timeline_opens_probes_reopens_longer_and_closes() {
        let mut c = None;
        let e = ExecutionId::new();
        assert_eq!(gate(c.as_ref(), t(0)), Gate::Pass);
        // Two failures, then an answer: the count starts again.
        see(&mut c, Health::Down, e, t(0));
        see(&mut c, Health::Down, e, t(1));
        assert_eq!(c.unwrap().failing_since, Some(t(0)));
        see(&mut c, Health::Up, e, t(2));
        assert_eq!((c.unwrap().failures, c.unwrap().failing_since), (0, None));
        // Three in a row open it for 10 s.
        for s in 3..5 {
            assert_eq!(see(&mut c, Health::Down, e, t(s)), None);
        }
        assert_eq!(see(&mut c, Health::Down, e, t(5)), Some(Change::Opened));
        assert_eq!(gate(c.as_ref(), t(6)), Gate::Wait(t(15)));
        // At 15 s one probe is taken; a second is refused, and others wait for it.
        assert_eq!(gate(c.as_ref(), t(15)), Gate::Probe);
        let probe = ExecutionId::new();
        c = take_probe(c.as_ref(), probe, t(15), t(75));
        assert_eq!(c.unwrap().state, CircuitState::HalfOpen);
        assert_eq!(
            take_probe(c.as_ref(), ExecutionId::new(), t(15), t(75)),
            None
        );
        assert_eq!(gate(c.as_ref(), t(16)), Gate::Wait(t(21)));
        // A failure of another delivery is counted, but only the probe's re-opens.
        assert_eq!(see(&mut c, Health::Down, e, t(16)), None);
        assert_eq!(c.unwrap().state, CircuitState::HalfOpen);
        assert_eq!(
            see(&mut c, Health::Down, probe, t(17)),
            Some(Change::Reopened)
        );
        assert_eq!(
            gate(c.as_ref(), t(18)),
            Gate::Wait(t(37)),
            "20 s: twice as long"
        );
        // Fails again: capped at 25 s.
        c = take_probe(c.as_ref(), probe, t(37), t(97));
        assert_eq!(
            see(&mut c, Health::Down, probe, t(38)),
            Some(Change::Reopened)
        );
        assert_eq!(gate(c.as_ref(), t(39)), Gate::Wait(t(63)));
        // The probe succeeds: closed, the cool-down back to 10 s.
        c = take_probe(c.as_ref(), probe, t(63), t(123));
        assert_eq!(see(&mut c, Health::Up, probe, t(64)), Some(Change::Closed));
        let closed = c.unwrap();
        assert_eq!(
            (closed.state, closed.failures, closed.cool_down),
            (CircuitState::Closed, 0, Duration::from_secs(10))
        );
        assert_eq!(gate(c.as_ref(), t(65)), Gate::Pass);
        // A clean circuit that answers needs no write.
        assert_eq!(observe(c.as_ref(), Health::Up, e, t(66), &policy()), None);
    }

    #[test]
    fn an_endpoint_is_disabled_on_410_or_after_failing_for_the_period() {
        let mut c = None;
        let e = ExecutionId::new();
        see(&mut c, Health::Down, e, t(0));
        let p = policy();
        assert_eq!(disable_reason(None, c.as_ref(), t(7199), &p), None);
        let reason = disable_reason(None, c.as_ref(), t(7200), &p).unwrap();
        assert!(reason.contains("more than 2 h"), "{reason}");
        // An answer in between starts the period again.
        see(&mut c, Health::Up, e, t(7000));
        assert_eq!(disable_reason(None, c.as_ref(), t(7200), &p), None);
        assert!(
            disable_reason(Some(410), None, t(0), &p)
                .unwrap()
                .contains("410 Gone")
        );
        let never = BreakerPolicy {
            disable_after: None,
            ..p
        };
        see(&mut c, Health::Down, e, t(8000));
        assert_eq!(disable_reason(None, c.as_ref(), t(99_999), &never), None);
    }

    #[test]
    fn a_probe_given_back_lets_the_next_delivery_probe_at_once() {
        let mut c = None;
        let e = ExecutionId::new();
        for s in 0..3 {
            see(&mut c, Health::Down, e, t(s));
        }
        let probe = ExecutionId::new();
        c = take_probe(c.as_ref(), probe, t(20), t(80));
        assert_eq!(give_back_probe(c.as_ref(), ExecutionId::new(), t(21)), None);
        c = give_back_probe(c.as_ref(), probe, t(21));
        assert_eq!(gate(c.as_ref(), t(21)), Gate::Probe);
        assert_eq!(
            c.unwrap().cool_down,
            Duration::from_secs(10),
            "not a failure"
        );
    }

    #[test]
    fn a_lost_probe_frees_the_half_open_state_when_its_lease_ends() {
        let mut c = None;
        let e = ExecutionId::new();
        for s in 0..3 {
            see(&mut c, Health::Down, e, t(s));
        }
        c = take_probe(c.as_ref(), e, t(20), t(30));
        assert!(matches!(gate(c.as_ref(), t(29)), Gate::Wait(_)));
        assert_eq!(gate(c.as_ref(), t(30)), Gate::Probe);
        let other = ExecutionId::new();
        assert_eq!(
            take_probe(c.as_ref(), other, t(30), t(90)).unwrap().probe,
            Some(other)
        );
    }

    #[test]
    fn an_answer_closes_an_open_circuit_and_a_bad_request_is_an_answer() {
        let mut c = None;
        let e = ExecutionId::new();
        for s in 0..3 {
            see(&mut c, Health::Down, e, t(s));
        }
        assert_eq!(c.unwrap().state, CircuitState::Open);
        assert_eq!(see(&mut c, Health::Up, e, t(4)), Some(Change::Closed));
        let answer = |status| AttemptResult::Response {
            status,
            body: String::new(),
            retry_after: None,
            location: None,
            external_id: None,
            response_error: None,
        };
        assert_eq!(Health::of(&answer(400)), Some(Health::Up));
        assert_eq!(Health::of(&answer(410)), Some(Health::Up));
        for down in [408, 429, 500, 503] {
            assert_eq!(Health::of(&answer(down)), Some(Health::Down));
        }
        assert_eq!(
            Health::of(&AttemptResult::Unreachable("timeout".into())),
            Some(Health::Down)
        );
        assert_eq!(Health::of(&AttemptResult::Invalid("no URL".into())), None);
    }
}
