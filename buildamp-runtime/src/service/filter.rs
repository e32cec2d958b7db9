//! Which endpoints an event goes to: subscriptions to event types (with wildcards) and content
//! filters over the envelope. Pure functions: publishing (every backend) and the management API's
//! validation both call these, so the rule lives in one place.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Whether the subscription `pattern` covers the event `name`.
///
/// Patterns are dotted like names; `*` stands for one segment, and a last `*` for one or more:
/// `lead.*` covers `lead.created` and `lead.stage.changed`, `*.created` covers `lead.created`,
/// and `*` alone covers every event.
pub fn subscribed(pattern: &str, name: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let name: Vec<&str> = name.split('.').collect();
    for (i, p) in pattern.iter().enumerate() {
        let last = i == pattern.len() - 1;
        match (*p, name.get(i)) {
            (_, None) => return false,
            ("*", Some(_)) if last => return true,
            ("*", Some(_)) => {}
            (p, Some(n)) if p == *n => {}
            _ => return false,
        }
    }
    pattern.len() == name.len()
}

/// Whether `pattern` is a valid subscription: dotted segments of lowercase letters, digits, `_`,
/// or `*`.
pub fn valid_pattern(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern.split('.').all(|s| {
            s == "*"
                || (s.starts_with(|c: char| c.is_ascii_lowercase())
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        })
}

/// A comparison of one field of the envelope with a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Where the field is in the envelope: dotted keys, with numbers for list items
    /// (`data.lead.score`, `data.items.0.sku`).
    pub field_path: String,
    /// How it is compared.
    pub operator: Operator,
    /// What it is compared with (a list for `in` / `nin`, a pattern for `regex`, a boolean for
    /// `exists`, which defaults to `true`).
    #[serde(default)]
    pub value: Value,
    /// Whether strings compare with their case (`eq`, `neq`, `in`, `nin`, `contains`, `regex`).
    #[serde(default = "yes")]
    pub case_sensitive: bool,
}

fn yes() -> bool {
    true
}

/// A filter operator. Seed 003's long names (`greater_than`, ...) are accepted too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Equal (numbers by value, strings per `case_sensitive`).
    #[serde(alias = "equals")]
    Eq,
    /// Not equal; a missing field is not equal.
    #[serde(alias = "not_equals")]
    Neq,
    /// Greater than (numbers, or strings in byte order such as RFC 3339 times).
    #[serde(alias = "greater_than")]
    Gt,
    /// Greater than or equal.
    #[serde(alias = "greater_than_or_equal")]
    Gte,
    /// Less than.
    #[serde(alias = "less_than")]
    Lt,
    /// Less than or equal.
    #[serde(alias = "less_than_or_equal")]
    Lte,
    /// Equal to one of a list.
    In,
    /// Equal to none of a list; a missing field is in none.
    #[serde(alias = "not_in")]
    Nin,
    /// A string containing the value, or a list holding it.
    Contains,
    /// Present and not `null` (`value: false`: absent or `null`).
    Exists,
    /// A string matching the regular expression (linear-time: no look-around or back-references).
    #[serde(alias = "matches")]
    Regex,
}

/// How an endpoint's rules combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every rule must hold.
    #[default]
    All,
    /// One rule is enough.
    Any,
}

/// An endpoint's content filter: rules, all-of or any-of. No rules: every event passes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// How the rules combine.
    #[serde(default, rename = "match")]
    pub combine: Combine,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// Why a filter is not valid: the rule's index, and what to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// The path of the field of the request at fault (`filter.rules[0].value`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A filter checked once and ready to run: its regular expressions compiled.
#[derive(Clone, Debug)]
pub struct CompiledFilter {
    combine: Combine,
    rules: Vec<(Rule, Option<Regex>)>,
}

/// The longest a filter's regular expression may compile to, so one endpoint cannot make
/// publishing slow for every other.
const REGEX_SIZE_LIMIT: usize = 64 * 1024;

impl Filter {
    /// Checks the rules' values against their operators and compiles the regular expressions.
    ///
    /// # Errors
    /// The first rule that is not valid, with its path.
    pub fn compile(&self) -> Result<CompiledFilter, FilterError> {
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str, message: String| FilterError {
                path: format!("filter.rules[{i}].{field}"),
                message,
            };
            if rule.field_path.is_empty() || rule.field_path.split('.').any(str::is_empty) {
                return Err(at(
                    "field_path",
                    "a field path is dotted keys, like `data.lead.score`".into(),
                ));
            }
            let regex = match (rule.operator, &rule.value) {
                (Operator::In | Operator::Nin, Value::Array(_)) => None,
                (Operator::In | Operator::Nin, _) => {
                    return Err(at(
                        "value",
                        "`in` and `nin` compare with a list: write `\"value\": [\"a\", \"b\"]`"
                            .into(),
                    ));
                }
                (Operator::Exists, Value::Bool(_) | Value::Null) => None,
                (Operator::Exists, _) => {
                    return Err(at("value", "`exists` takes `true` or `false`".into()));
                }
                (Operator::Regex, Value::String(pattern)) => Some(
                    RegexBuilder::new(pattern)
                        .case_insensitive(!rule.case_sensitive)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| at("value", format!("not a valid regular expression: {e}")))?,
                ),
                (Operator::Regex, _) => {
                    return Err(at("value", "`regex` takes a string pattern".into()));
                }
                (
                    Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte,
                    Value::Number(_) | Value::String(_),
                ) => None,
                (Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte, _) => {
                    return Err(at(
                        "value",
                        "ordering operators compare with a number or a string".into(),
                    ));
                }
                (Operator::Contains, Value::Null) => {
                    return Err(at("value", "`contains` needs a value".into()));
                }
                _ => None,
            };
            rules.push((rule.clone(), regex));
        }
        Ok(CompiledFilter {
            combine: self.combine,
            rules,
        })
    }
}

impl CompiledFilter {
    /// Whether `envelope` passes.
    pub fn accepts(&self, envelope: &Value) -> bool {
        let mut results = self
            .rules
            .iter()
            .map(|(rule, regex)| holds(rule, regex.as_ref(), envelope));
        match (self.combine, self.rules.is_empty()) {
            (_, true) => true,
            (Combine::All, false) => results.all(|r| r),
            (Combine::Any, false) => results.any(|r| r),
        }
    }
}

/// The value at a dotted `path` of `root`; numeric segments index lists.
pub fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(root, |v, key| match v {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn holds(rule: &Rule, regex: Option<&Regex>, envelope: &Value) -> bool {
    let field = lookup(envelope, &rule.field_path).filter(|v| !v.is_null());
    let eq = |a: &Value, b: &Value| equal(a, b, rule.case_sensitive);
    match (rule.operator, field) {
        (Operator::Exists, f) => f.is_some() == rule.value.as_bool().unwrap_or(true),
        (Operator::Neq, None) | (Operator::Nin, None) => true,
        (_, None) => false,
        (Operator::Eq, Some(f)) => eq(f, &rule.value),
        (Operator::Neq, Some(f)) => !eq(f, &rule.value),
        (Operator::In, Some(f)) => list(&rule.value).iter().any(|v| eq(f, v)),
        (Operator::Nin, Some(f)) => !list(&rule.value).iter().any(|v| eq(f, v)),
        (Operator::Gt, Some(f)) => order(f, &rule.value).is_some_and(|o| o.is_gt()),
        (Operator::Gte, Some(f)) => order(f, &rule.value).is_some_and(|o| o.is_ge()),
        (Operator::Lt, Some(f)) => order(f, &rule.value).is_some_and(|o| o.is_lt()),
        (Operator::Lte, Some(f)) => order(f, &rule.value).is_some_and(|o| o.is_le()),
        (Operator::Contains, Some(Value::Array(items))) => items.iter().any(|i| eq(i, &rule.value)),
        (Operator::Contains, Some(Value::String(s))) => match rule.value.as_str() {
            Some(needle) if rule.case_sensitive => s.contains(needle),
            Some(needle) => s.to_lowercase().contains(&needle.to_lowercase()),
            None => false,
        },
        (Operator::Contains, Some(_)) => false,
        (Operator::Regex, Some(Value::String(s))) => regex.is_some_and(|r| r.is_match(s)),
        (Operator::Regex, Some(_)) => false,
    }
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn equal(a: &Value, b: &Value, case_sensitive: bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) if !case_sensitive => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subscription_patterns() {
        for (pattern, name, covered) in [
            ("lead.created", "lead.created", true),
            ("lead.created", "lead.updated", false),
            ("lead.*", "lead.created", true),
            ("lead.*", "lead.stage.changed", true),
            ("lead.*", "lead", false),
            ("lead.*", "leads.created", false),
            ("*.created", "lead.created", true),
            ("*.created", "lead.stage.created", false),
            ("*", "call.ended", true),
            ("call", "call.ended", false),
            ("call.ended.x", "call.ended", false),
        ] {
            assert_eq!(subscribed(pattern, name), covered, "{pattern} {name}");
        }
        assert!(
            valid_pattern("lead.*")
                && valid_pattern("*")
                && valid_pattern("call.recording_available")
        );
        assert!(!valid_pattern("Lead.*") && !valid_pattern("lead.") && !valid_pattern("lead.cre*"));
    }

    fn passes(rule: serde_json::Value, envelope: &serde_json::Value) -> bool {
        let filter: Filter = serde_json::from_value(json!({ "rules": [rule] })).unwrap();
        filter.compile().unwrap().accepts(envelope)
    }

    #[test]
    fn every_operator() {
        let e = json!({
            "event_type": "lead.created",
            "data": { "lead": { "score": 85, "source": "Website", "tags": ["vip", "eu"], "email": "jo@example.com", "note": null },
                      "items": [{ "sku": "A1" }] }
        });
        let table = [
            (
                json!({"field_path": "data.lead.score", "operator": "eq", "value": 85}),
                true,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "eq", "value": 85.0}),
                true,
            ),
            (
                json!({"field_path": "data.lead.source", "operator": "eq", "value": "website"}),
                false,
            ),
            (
                json!({"field_path": "data.lead.source", "operator": "eq", "value": "website", "case_sensitive": false}),
                true,
            ),
            (
                json!({"field_path": "data.lead.source", "operator": "neq", "value": "Website"}),
                false,
            ),
            (
                json!({"field_path": "data.lead.missing", "operator": "neq", "value": 1}),
                true,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "gt", "value": 80}),
                true,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "greater_than", "value": 85}),
                false,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "gte", "value": 85}),
                true,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "lt", "value": 85}),
                false,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "lte", "value": 85}),
                true,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "gt", "value": "80"}),
                false,
            ),
            (
                json!({"field_path": "data.lead.source", "operator": "in", "value": ["Website", "ads"]}),
                true,
            ),
            (
                json!({"field_path": "data.lead.source", "operator": "nin", "value": ["Website"]}),
                false,
            ),
            (
                json!({"field_path": "data.lead.missing", "operator": "nin", "value": ["x"]}),
                true,
            ),
            (
                json!({"field_path": "data.lead.tags", "operator": "contains", "value": "vip"}),
                true,
            ),
            (
                json!({"field_path": "data.lead.email", "operator": "contains", "value": "EXAMPLE", "case_sensitive": false}),
                true,
            ),
            (
                json!({"field_path": "data.lead.email", "operator": "contains", "value": "EXAMPLE"}),
                false,
            ),
            (
                json!({"field_path": "data.lead.email", "operator": "exists"}),
                true,
            ),
            (
                json!({"field_path": "data.lead.note", "operator": "exists"}),
                false,
            ),
            (
                json!({"field_path": "data.lead.note", "operator": "exists", "value": false}),
                true,
            ),
            (
                json!({"field_path": "data.lead.email", "operator": "regex", "value": "@example\\.com$"}),
                true,
            ),
            (
                json!({"field_path": "data.lead.source", "operator": "regex", "value": "^web", "case_sensitive": false}),
                true,
            ),
            (
                json!({"field_path": "data.lead.score", "operator": "regex", "value": "8"}),
                false,
            ),
            (
                json!({"field_path": "data.items.0.sku", "operator": "eq", "value": "A1"}),
                true,
            ),
            (
                json!({"field_path": "data.missing.deep", "operator": "eq", "value": 1}),
                false,
            ),
        ];
        for (rule, expected) in table {
            assert_eq!(passes(rule.clone(), &e), expected, "{rule}");
        }
    }

    #[test]
    fn all_of_and_any_of() {
        let e = json!({"data": {"a": 1, "b": 2}});
        let rules = json!([
            {"field_path": "data.a", "operator": "eq", "value": 1},
            {"field_path": "data.b", "operator": "eq", "value": 3}
        ]);
        let all: Filter = serde_json::from_value(json!({"match": "all", "rules": rules})).unwrap();
        let any: Filter = serde_json::from_value(json!({"match": "any", "rules": rules})).unwrap();
        assert!(!all.compile().unwrap().accepts(&e));
        assert!(any.compile().unwrap().accepts(&e));
        assert!(Filter::default().compile().unwrap().accepts(&e));
    }

    #[test]
    fn invalid_rules_name_their_field() {
        for (rule, path, says) in [
            (
                json!({"field_path": "data.a", "operator": "in", "value": 1}),
                "filter.rules[0].value",
                "a list",
            ),
            (
                json!({"field_path": "data.a", "operator": "regex", "value": "("}),
                "filter.rules[0].value",
                "regular expression",
            ),
            (
                json!({"field_path": "data..a", "operator": "eq", "value": 1}),
                "filter.rules[0].field_path",
                "dotted",
            ),
            (
                json!({"field_path": "data.a", "operator": "gt", "value": [1]}),
                "filter.rules[0].value",
                "number or a string",
            ),
        ] {
            let filter: Filter = serde_json::from_value(json!({"rules": [rule]})).unwrap();
            let e = filter.compile().unwrap_err();
            assert_eq!(e.path, path);
            assert!(e.message.contains(says), "{}", e.message);
        }
    }
}
