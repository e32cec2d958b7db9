//! The alert rules, decided in one place: [`evaluate`] turns what was observed (the rollup's
//! figures over each rule's window, the circuits, the queue) into the conditions that hold now,
//! and [`decide`] compares them with the open incidents: a condition with no open incident
//! fires one, an open incident whose condition no longer holds is resolved. Both are pure, so
//! the evaluator (in any number of processes) only reads, calls them, and writes their result.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::analytics::Figures;
use crate::store::AlertRow;

/// Attempts that failed among all attempts, over a window, above a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FailureRate {
    /// The rate above which it fires (0 to 1; default 0.05).
    pub threshold: f64,
    /// The window, in whole minutes, the current one included (default 5 min).
    pub window: Duration,
    /// Fewer attempts than this in the window say nothing (default 10).
    pub min_attempts: u64,
}

/// The 95th percentile of attempts' latency, over a window, above a bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowResponses {
    /// The p95 above which it fires (default 10 s).
    pub p95_over: Duration,
    /// The window, in whole minutes, the current one included (default 5 min).
    pub window: Duration,
    /// Fewer attempts than this in the window say nothing (default 10).
    pub min_attempts: u64,
}

/// The queue falling behind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backlog {
    /// Executions waiting (pending, sending, or failed and waiting for a retry) above which it
    /// fires (default 10,000).
    pub waiting_over: u64,
    /// How long the longest-waiting due execution may have waited (default 5 min).
    pub oldest_due_over: Duration,
}

/// Which conditions raise an alert, and how often they are checked. Every rule is on by default;
/// set one to `None` (or `endpoint_down` to `false`) to turn it off.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRules {
    /// Failing attempts, per endpoint and per `#[target]` webhook.
    pub failure_rate: Option<FailureRate>,
    /// Slow answers, per endpoint and per `#[target]` webhook.
    pub slow_responses: Option<SlowResponses>,
    /// A destination (endpoint or target host) whose circuit is open: down or unreachable.
    pub endpoint_down: bool,
    /// Deliveries that used every attempt and went to dead letter within this window, per
    /// endpoint and per `#[target]` webhook (default 5 min).
    pub retries_exhausted: Option<Duration>,
    /// The queue's backlog.
    pub backlog: Option<Backlog>,
    /// How often the evaluator checks them (default 30 s).
    pub interval: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        let window = Duration::from_secs(300);
        AlertRules {
            failure_rate: Some(FailureRate {
                threshold: 0.05,
                window,
                min_attempts: 10,
            }),
            slow_responses: Some(SlowResponses {
                p95_over: Duration::from_secs(10),
                window,
                min_attempts: 10,
            }),
            endpoint_down: true,
            retries_exhausted: Some(window),
            backlog: Some(Backlog {
                waiting_over: 10_000,
                oldest_due_over: window,
            }),
            interval: Duration::from_secs(30),
        }
    }
}

impl AlertRules {
    /// Every rule off (turn on the ones wanted).
    pub fn none() -> Self {
        AlertRules {
            failure_rate: None,
            slow_responses: None,
            endpoint_down: false,
            retries_exhausted: None,
            backlog: None,
            interval: Duration::from_secs(30),
        }
    }

    /// What is wrong with these rules, one line per problem (the runtime refuses to start with
    /// any): a window shorter than the rollup's minute, a rate outside 0 to 1, an interval under
    /// 100 ms.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let minute = Duration::from_secs(60);
        let mut window = |name: &str, w: Duration| {
            if w < minute || !w.as_secs().is_multiple_of(60) {
                out.push(format!(
                    "alert rule `{name}`: its window must be whole minutes (the rollup's), not {w:?}"
                ));
            }
        };
        if let Some(rule) = self.failure_rate {
            window("failure_rate", rule.window);
        }
        if let Some(rule) = self.slow_responses {
            window("slow_responses", rule.window);
        }
        if let Some(w) = self.retries_exhausted {
            window("retries_exhausted", w);
        }
        if let Some(rule) = self.failure_rate
            && !(0.0..1.0).contains(&rule.threshold)
        {
            out.push(format!(
                "alert rule `failure_rate`: the threshold is a rate between 0 and 1 (0.05 is 5 %), not {}",
                rule.threshold
            ));
        }
        if self.interval < Duration::from_millis(100) {
            out.push(format!(
                "alert rules: check them at most every 100 ms, not every {:?}",
                self.interval
            ));
        }
        out
    }

    /// The windows the rules read figures over, each once.
    pub fn windows(&self) -> BTreeSet<Duration> {
        [
            self.failure_rate.map(|r| r.window),
            self.slow_responses.map(|r| r.window),
            self.retries_exhausted,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// A rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// [`AlertRules::failure_rate`].
    FailureRate,
    /// [`AlertRules::slow_responses`].
    SlowResponses,
    /// [`AlertRules::endpoint_down`].
    EndpointDown,
    /// [`AlertRules::retries_exhausted`].
    RetriesExhausted,
    /// [`AlertRules::backlog`].
    Backlog,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 5] = [
        Rule::FailureRate,
        Rule::SlowResponses,
        Rule::EndpointDown,
        Rule::RetriesExhausted,
        Rule::Backlog,
    ];

    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::FailureRate => "failure_rate",
            Rule::SlowResponses => "slow_responses",
            Rule::EndpointDown => "endpoint_down",
            Rule::RetriesExhausted => "retries_exhausted",
            Rule::Backlog => "backlog",
        }
    }

    /// The rule a stored name names.
    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// What the evaluator read: the figures of each window per subject (`endpoint:<id>`,
/// `webhook:<name>`), the destinations whose circuit is not closed, and the queue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Per window: the figures of each subject with attempts in it.
    pub windows: BTreeMap<Duration, Vec<(String, Figures)>>,
    /// Destinations whose circuit is not closed: key (`endpoint:<id>`, `host:<host>`), state,
    /// consecutive failures.
    pub circuits: Vec<(String, String, u32)>,
    /// Executions waiting: pending, sending, or failed and waiting for a retry.
    pub waiting: u64,
    /// How long the longest-waiting due execution has waited.
    pub oldest_due_age: Option<Duration>,
}

/// A condition that holds now.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    /// The rule.
    pub rule: Rule,
    /// What it is about.
    pub subject: String,
    /// What it says, in a sentence (an operator's chat message).
    pub summary: String,
    /// The figures it holds on.
    pub detail: Value,
}

impl Firing {
    /// The key of its incident: one open per rule and subject.
    pub fn key(&self) -> String {
        key(self.rule, &self.subject)
    }
}

fn key(rule: Rule, subject: &str) -> String {
    format!("{}/{subject}", rule.as_str())
}

fn minutes(d: Duration) -> String {
    let m = d.as_secs() / 60;
    if m == 1 {
        "minute".to_owned()
    } else {
        format!("{m} minutes")
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// The subject, as a sentence names it.
pub fn describe(subject: &str) -> String {
    match subject.split_once(':') {
        Some(("endpoint", id)) => format!("endpoint {id}"),
        Some(("webhook", name)) => format!("webhook {name}"),
        Some(("host", host)) => format!("target host {host}"),
        _ => "the queue".to_owned(),
    }
}

/// The conditions that hold in `observed` under `rules`, ordered by rule and subject.
pub fn evaluate(rules: &AlertRules, observed: &Observed) -> Vec<Firing> {
    let mut out = Vec::new();
    let figures = |window: Duration| observed.windows.get(&window).into_iter().flatten();
    if let Some(rule) = rules.failure_rate {
        for (subject, f) in figures(rule.window) {
            let failed = f.retried + f.dead_letter;
            if f.attempts < rule.min_attempts.max(1) {
                continue;
            }
            let rate = failed as f64 / f.attempts as f64;
            if rate > rule.threshold {
                out.push(Firing {
                    rule: Rule::FailureRate,
                    subject: subject.clone(),
                    summary: format!(
                        "{} of {} attempts failed ({}) over the last {} for {} (threshold {})",
                        failed,
                        f.attempts,
                        percent(rate),
                        minutes(rule.window),
                        describe(subject),
                        percent(rule.threshold)
                    ),
                    detail: json!({
                        "window_secs": rule.window.as_secs(),
                        "attempts": f.attempts,
                        "failed": failed,
                        "rate": rate,
                        "threshold": rule.threshold,
                    }),
                });
            }
        }
    }
    if let Some(rule) = rules.slow_responses {
        let bound = rule.p95_over.as_secs_f64() * 1000.0;
        for (subject, f) in figures(rule.window) {
            if f.attempts < rule.min_attempts.max(1) {
                continue;
            }
            if let Some(p95) = f.p95_ms.filter(|p| *p > bound) {
                out.push(Firing {
                    rule: Rule::SlowResponses,
                    subject: subject.clone(),
                    summary: format!(
                        "95% of answers took up to {:.1} s over the last {} for {} (bound {:.1} s)",
                        p95 / 1000.0,
                        minutes(rule.window),
                        describe(subject),
                        bound / 1000.0
                    ),
                    detail: json!({
                        "window_secs": rule.window.as_secs(),
                        "attempts": f.attempts,
                        "p95_ms": p95,
                        "bound_ms": bound,
                    }),
                });
            }
        }
    }
    if rules.endpoint_down {
        for (key, state, failures) in &observed.circuits {
            if state == "closed" {
                continue;
            }
            out.push(Firing {
                rule: Rule::EndpointDown,
                subject: key.clone(),
                summary: format!(
                    "{} is down: its circuit is {} after {} consecutive failures",
                    describe(key),
                    state.replace('_', "-"),
                    failures
                ),
                detail: json!({ "circuit": state, "failures": failures }),
            });
        }
    }
    if let Some(window) = rules.retries_exhausted {
        for (subject, f) in figures(window) {
            if f.dead_letter > 0 {
                out.push(Firing {
                    rule: Rule::RetriesExhausted,
                    subject: subject.clone(),
                    summary: format!(
                        "{} {} to {} used every attempt and went to dead letter over the last {}",
                        f.dead_letter,
                        if f.dead_letter == 1 { "delivery" } else { "deliveries" },
                        describe(subject),
                        minutes(window)
                    ),
                    detail: json!({ "window_secs": window.as_secs(), "dead_letter": f.dead_letter }),
                });
            }
        }
    }
    if let Some(rule) = rules.backlog {
        let age = observed.oldest_due_age.unwrap_or_default();
        if observed.waiting > rule.waiting_over || age > rule.oldest_due_over {
            out.push(Firing {
                rule: Rule::Backlog,
                subject: "queue".to_owned(),
                summary: format!(
                    "The queue is behind: {} executions waiting, the oldest due {} s ago (bounds {} and {} s)",
                    observed.waiting,
                    age.as_secs(),
                    rule.waiting_over,
                    rule.oldest_due_over.as_secs()
                ),
                detail: json!({
                    "waiting": observed.waiting,
                    "oldest_due_secs": age.as_secs(),
                    "waiting_over": rule.waiting_over,
                    "oldest_due_over_secs": rule.oldest_due_over.as_secs(),
                }),
            });
        }
    }
    out.sort_by(|a, b| (a.rule, &a.subject).cmp(&(b.rule, &b.subject)));
    out
}

/// What an evaluation changes: incidents to open, and open ones to resolve.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Conditions with no open incident.
    pub fire: Vec<Firing>,
    /// Open incidents whose condition no longer holds (or whose rule was turned off).
    pub resolve: Vec<AlertRow>,
}

/// Compares the conditions that hold with the open incidents: one incident per condition for as
/// long as it holds, resolved the first time it does not.
pub fn decide(open: &[AlertRow], holding: Vec<Firing>) -> Plan {
    let open_keys: BTreeSet<&str> = open.iter().map(|a| a.key.as_str()).collect();
    let holding_keys: BTreeSet<String> = holding.iter().map(Firing::key).collect();
    Plan {
        resolve: open
            .iter()
            .filter(|a| !holding_keys.contains(&a.key))
            .cloned()
            .collect(),
        fire: holding
            .into_iter()
            .filter(|f| !open_keys.contains(f.key().as_str()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(attempts: u64, sent: u64, retried: u64, dead: u64, p95: f64) -> Figures {
        Figures {
            attempts,
            sent,
            retried,
            dead_letter: dead,
            p95_ms: Some(p95),
            ..Figures::default()
        }
    }

    fn observed(subjects: Vec<(&str, Figures)>) -> Observed {
        let mut windows = BTreeMap::new();
        windows.insert(
            Duration::from_secs(300),
            subjects
                .into_iter()
                .map(|(s, f)| (s.to_owned(), f))
                .collect(),
        );
        Observed {
            windows,
            ..Observed::default()
        }
    }

    fn rules_of(firings: &[Firing]) -> Vec<(Rule, &str)> {
        firings
            .iter()
            .map(|f| (f.rule, f.subject.as_str()))
            .collect()
    }

    #[test]
    fn each_rule_fires_past_its_default_bound_only() {
        let rules = AlertRules::default();
        let seen = observed(vec![
            // 1 failure in 20: 5 %, not over 5 %.
            ("endpoint:a", figures(20, 19, 1, 0, 200.0)),
            // 2 in 20 and one dead letter, slow.
            ("endpoint:b", figures(20, 18, 1, 1, 12_000.0)),
            // Few attempts: the rates say nothing, the dead letter does.
            ("webhook:W", figures(3, 0, 2, 1, 20_000.0)),
        ]);
        let firing = evaluate(&rules, &seen);
        assert_eq!(
            rules_of(&firing),
            [
                (Rule::FailureRate, "endpoint:b"),
                (Rule::SlowResponses, "endpoint:b"),
                (Rule::RetriesExhausted, "endpoint:b"),
                (Rule::RetriesExhausted, "webhook:W"),
            ]
        );
        assert_eq!(
            firing[0].summary,
            "2 of 20 attempts failed (10.0%) over the last 5 minutes for endpoint b (threshold 5.0%)"
        );
        let quiet = evaluate(&AlertRules::none(), &seen);
        assert!(quiet.is_empty());
    }

    #[test]
    fn bad_rules_say_what_to_fix() {
        assert!(AlertRules::default().problems().is_empty());
        let bad = AlertRules {
            failure_rate: Some(FailureRate {
                threshold: 5.0,
                window: Duration::from_secs(90),
                min_attempts: 1,
            }),
            interval: Duration::ZERO,
            ..AlertRules::default()
        };
        assert_eq!(
            bad.problems(),
            [
                "alert rule `failure_rate`: its window must be whole minutes (the rollup's), not 90s",
                "alert rule `failure_rate`: the threshold is a rate between 0 and 1 (0.05 is 5 %), not 5",
                "alert rules: check them at most every 100 ms, not every 0ns",
            ]
        );
    }

    #[test]
    fn circuits_and_the_queue() {
        let rules = AlertRules::default();
        let seen = Observed {
            circuits: vec![
                ("endpoint:a".into(), "open".into(), 5),
                ("host:api.example.com".into(), "half_open".into(), 5),
                ("endpoint:c".into(), "closed".into(), 2),
            ],
            waiting: 10,
            oldest_due_age: Some(Duration::from_secs(301)),
            ..Observed::default()
        };
        let firing = evaluate(&rules, &seen);
        assert_eq!(
            rules_of(&firing),
            [
                (Rule::EndpointDown, "endpoint:a"),
                (Rule::EndpointDown, "host:api.example.com"),
                (Rule::Backlog, "queue"),
            ]
        );
        assert_eq!(
            firing[1].summary,
            "target host api.example.com is down: its circuit is half-open after 5 consecutive failures"
        );
        let calm = Observed {
            waiting: 10_000,
            oldest_due_age: Some(Duration::from_secs(300)),
            ..Observed::default()
        };
        assert!(evaluate(&rules, &calm).is_empty());
    }

    fn open(key: &str) -> AlertRow {
        let (rule, subject) = key.split_once('/').unwrap();
        AlertRow {
            id: uuid::Uuid::nil(),
            key: key.into(),
            rule: rule.into(),
            subject: subject.into(),
            summary: String::new(),
            detail: Value::Null,
            fired_at: chrono::DateTime::UNIX_EPOCH,
            resolved_at: None,
        }
    }

    #[test]
    fn one_incident_per_condition_while_it_holds() {
        let holding = |subjects: &[&str]| -> Vec<Firing> {
            subjects
                .iter()
                .map(|s| Firing {
                    rule: Rule::EndpointDown,
                    subject: (*s).into(),
                    summary: String::new(),
                    detail: Value::Null,
                })
                .collect()
        };
        // a and b hold; b is open already: only a fires.
        let plan = decide(&[open("endpoint_down/b")], holding(&["a", "b"]));
        assert_eq!(rules_of(&plan.fire), [(Rule::EndpointDown, "a")]);
        assert!(plan.resolve.is_empty());
        // Neither holds: both open ones resolve, nothing fires.
        let plan = decide(&[open("endpoint_down/a"), open("endpoint_down/b")], vec![]);
        assert!(plan.fire.is_empty());
        assert_eq!(plan.resolve.len(), 2);
        // Nothing open, nothing holding: nothing to do.
        assert_eq!(decide(&[], vec![]), Plan::default());
    }
}
