//! Rules across declarations, over the converted plan: what may be flattened, and Elm names that
//! must not clash.

use std::collections::BTreeMap;

use super::{Body, Decl, Refusal, Repr, Shape, Trigger, Ty};
use crate::source::Problem;

/// Names the module declares (types, constructors, and types whose `encode`/`decode` functions
/// would be its helpers'), and Elm's default imports: a model type may not take them.
pub const TAKEN: [&str; 69] = [
    "Execution",
    "DeliveryEvent",
    "MessageStatus",
    "MessageScheduled",
    "MessageQueued",
    "MessageSending",
    "MessageSent",
    "MessageDelayed",
    "MessageDelivered",
    "MessageRead",
    "MessageOpened",
    "MessageClicked",
    "MessageComplained",
    "MessageCanceled",
    "MessageUndelivered",
    "MessageBounced",
    "MessageFailed",
    "MessageOther",
    "TypedExecution",
    "Answer",
    "NotAnswered",
    "Answered",
    "Unreadable",
    "Refused",
    "ExecutionQuery",
    "ExecutionState",
    "StatePending",
    "StateSending",
    "StateSent",
    "StateFailed",
    "StateDeadLetter",
    "ExecutionId",
    "WebhookStatus",
    "WebhookResponse",
    "Error",
    "Config",
    "Pending",
    "Sending",
    "Sent",
    "Failed",
    "DeadLetter",
    "BadUrl",
    "Timeout",
    "NetworkError",
    "BadStatus",
    "BadBody",
    "Tuple2",
    "Tuple3",
    "Unit",
    "Dict",
    "Maybe",
    "Just",
    "Nothing",
    "List",
    "Result",
    "Ok",
    "Err",
    "String",
    "Char",
    "Int",
    "Float",
    "Bool",
    "True",
    "False",
    "Cmd",
    "Sub",
    "Never",
    "Order",
    "Program",
];

/// Flattened fields and internally tagged newtype variants must hold a record struct.
pub(super) fn check_flatten(decls: &BTreeMap<String, Decl>, problems: &mut Vec<Refusal>) {
    let is_record = |n: &str| matches!(decls.get(n).map(|d| &d.body), Some(Body::Record(_)));
    for d in decls.values() {
        let file = d.file.display().to_string();
        match &d.body {
            Body::Record(fields) => {
                for f in fields.iter().filter(|f| f.flatten) {
                    if let Ty::Named(n) = &f.ty
                        && decls.contains_key(n)
                        && !is_record(n)
                    {
                        problems.push(Problem::about(file.clone(), format!("{}.{}", d.rust, f.rust), format!("flattens `{n}`, which is not a struct with named fields: the generator flattens only those; nest it instead")));
                    }
                }
            }
            Body::Enum {
                repr: Repr::Internal { .. },
                variants,
            } => {
                for v in variants {
                    if let Shape::Newtype(Ty::Named(n)) = &v.shape
                        && decls.contains_key(n)
                        && !is_record(n)
                    {
                        problems.push(Problem::about(file.clone(), format!("{}::{}", d.rust, v.rust), format!("is an internally tagged newtype variant holding `{n}`, which is not a struct with named fields: serde can only merge the tag into a struct; make it a struct variant")));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Elm names must be unique: types, constructors (a record alias is one too), the typed
/// executions of webhooks, and the module's.
pub(super) fn check_names(
    decls: &BTreeMap<String, Decl>,
    triggers: &[Trigger],
    problems: &mut Vec<Refusal>,
) {
    let mut owners: BTreeMap<String, String> = TAKEN
        .iter()
        .map(|t| {
            (
                (*t).to_owned(),
                "the BuildAmp.Webhooks module itself".to_owned(),
            )
        })
        .collect();
    for t in triggers {
        if let Some(name) = t.typed_execution() {
            owners.insert(name, format!("the typed execution of webhook `{}`", t.name));
        }
    }
    for d in decls.values() {
        let mut names = vec![(d.elm.clone(), d.rust.clone())];
        if let Body::Enum { variants, .. } = &d.body {
            names.extend(
                variants
                    .iter()
                    .map(|v| (v.ctor.clone(), format!("{}::{}", d.rust, v.rust))),
            );
        }
        for (elm, what) in names {
            if let Some(owner) = owners.get(&elm) {
                problems.push(Problem::about(d.file.display().to_string(), what.clone(), format!("becomes the Elm name `{elm}`, which {owner} already uses: rename one of them")));
            } else {
                owners.insert(elm, format!("`{what}`"));
            }
        }
    }
}
