//! `#[derive(BuildAmpEvent)] #[event(name = "lead.created", version = "1")]`: the input's shape, the
//! attribute's keys and the name rules, each problem reported at its token.

use syn::{Data, DeriveInput, Fields, LitStr};

use crate::attr::{Value, parse_entries};
use crate::ctxt::Ctxt;
use crate::ir::EventType;
use crate::suggest::did_you_mean;

/// The keys `#[event(...)]` accepts.
pub const EVENT_KEYS: &[&str] = &["name", "version", "description"];

/// The name prefix kept for BuildAmp's own events (`buildamp.test`).
pub const RESERVED_PREFIX: &str = "buildamp.";

/// Builds the IR of one `#[derive(BuildAmpEvent)]` input, reporting every problem into `cx`.
pub(crate) fn event(cx: &Ctxt, input: &DeriveInput) -> Option<EventType> {
    let rust = input.ident.to_string();
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(_) => {}
            Fields::Unnamed(unnamed) => cx.error_spanned_by(unnamed, format!("`BuildAmpEvent` needs named fields: an event's `data` is a JSON object that filters address by field (`data.lead.score`), so write `struct {rust} {{ field: Type, .. }}`")),
            Fields::Unit => cx.error_at(input.ident.span(), format!("`BuildAmpEvent` needs named fields: `{rust}` has no data to send")),
        },
        Data::Enum(data) => cx.error_at(data.enum_token.span, "`BuildAmpEvent` can only be derived for a struct with named fields: declare one struct per event type (an enum can still be a field)"),
        Data::Union(data) => cx.error_at(data.union_token.span, "`BuildAmpEvent` can only be derived for a struct with named fields, not a union"),
    }
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(&input.generics, format!("`BuildAmpEvent` cannot be generic: an event type has one schema; make `{rust}` concrete"));
    }
    let mut attrs = input.attrs.iter().filter(|a| a.path().is_ident("event"));
    let Some(attr) = attrs.next() else {
        cx.error_at(input.ident.span(), format!("missing `#[event(name = \"...\", version = \"1\")]` on `{rust}`: name the event type customers subscribe to, like `lead.created`"));
        return None;
    };
    for extra in attrs {
        cx.error_spanned_by(
            extra,
            "duplicate `#[event]`: an event type has one name, so merge these into one attribute",
        );
    }
    let tokens = match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        other => {
            cx.error_spanned_by(
                other,
                "expected `#[event(name = \"...\", version = \"1\")]`",
            );
            return None;
        }
    };
    let entries = parse_entries(cx, tokens);
    let (mut name, mut version, mut description) = (None, None, None);
    for entry in &entries.entries {
        let key = entry.key.to_string();
        let slot = match key.as_str() {
            "name" => &mut name,
            "version" => &mut version,
            "description" => &mut description,
            _ => {
                let hint = match did_you_mean(&key, EVENT_KEYS) {
                    h if h.is_empty() => {
                        "; the keys are `name`, `version` and `description`".to_owned()
                    }
                    h => h,
                };
                cx.error_at(
                    entry.key.span(),
                    format!("unknown key `{key}` in `#[event]`{hint}"),
                );
                continue;
            }
        };
        if slot.is_some() {
            cx.error_at(
                entry.key.span(),
                format!("`{key}` is given twice: keep one"),
            );
            continue;
        }
        match &entry.value {
            Value::Str(lit) => *slot = Some(lit.clone()),
            other => cx.error_at(
                other.span(),
                format!("`{key}` takes a string, found {}", other.kind()),
            ),
        }
    }
    let missing = |key: &str| !entries.malformed_keys.iter().any(|k| k == key);
    let name = match name {
        Some(lit) => check_name(cx, &lit).then(|| lit.value()),
        None => {
            if missing("name") {
                cx.error_spanned_by(
                    attr,
                    "missing `name`: add `name = \"lead.created\"` (dotted lowercase segments)",
                );
            }
            None
        }
    };
    let version = match version {
        Some(lit) => check_version(cx, &lit).then(|| lit.value()),
        None => {
            if missing("version") {
                cx.error_spanned_by(attr, "missing `version`: add `version = \"1\"`, and raise it when the event's data changes shape (receivers read it in `metadata.version`)");
            }
            None
        }
    };
    let description = description
        .map(|d| d.value())
        .unwrap_or_else(|| doc_comment(input));
    Some(EventType {
        rust,
        name: name?,
        version: version?,
        description,
    })
}

/// Event names are dotted lowercase segments, at least two (`lead.created`, `call.recording_available`).
fn check_name(cx: &Ctxt, lit: &LitStr) -> bool {
    let name = lit.value();
    let segments: Vec<&str> = name.split('.').collect();
    let segment_ok = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let problem = if name.starts_with(RESERVED_PREFIX) {
        Some(format!(
            "`{name}`: names under `{RESERVED_PREFIX}` are kept for BuildAmp's own events; choose another first segment"
        ))
    } else if segments.len() < 2 {
        Some(format!(
            "`{name}` has one segment: an event name is a noun and what happened to it, like `{}.created`",
            name.to_ascii_lowercase()
        ))
    } else if segments.iter().all(|s| segment_ok(s)) {
        None
    } else {
        let fixed: String = name
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Some(format!(
            "`{name}` is not dotted lowercase segments (each starts with a letter, then letters, digits or `_`){}",
            if fixed != name && fixed.split('.').all(segment_ok) {
                format!(": write `{fixed}`")
            } else {
                String::new()
            }
        ))
    };
    match problem {
        Some(message) => {
            cx.error_at(lit.span(), message);
            false
        }
        None => true,
    }
}

/// Versions are numbers separated by dots: `"1"`, `"1.0"`, `"2.3"`.
fn check_version(cx: &Ctxt, lit: &LitStr) -> bool {
    let version = lit.value();
    let ok = !version.is_empty()
        && version
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        cx.error_at(lit.span(), format!("`{version}` is not a version: write numbers separated by dots, like `\"1\"` or `\"1.2\"`"));
    }
    ok
}

/// The struct's `///` lines, joined, trimmed.
fn doc_comment(input: &DeriveInput) -> String {
    let lines: Vec<String> = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<EventType, Vec<String>> {
        let input: DeriveInput = syn::parse_str(src).unwrap();
        let cx = Ctxt::new();
        let event = event(&cx, &input);
        match cx.check() {
            Ok(()) => Ok(event.unwrap()),
            Err(e) => Err(e.into_iter().map(|e| e.to_string()).collect()),
        }
    }

    #[test]
    fn reads_name_version_and_the_doc_comment() {
        let e = parse("/// A lead was created.\n#[event(name = \"lead.created\", version = \"1.0\")] struct LeadCreated { id: String }").unwrap();
        assert_eq!(
            (e.name.as_str(), e.version.as_str()),
            ("lead.created", "1.0")
        );
        assert_eq!(e.description, "A lead was created.");
    }

    #[test]
    fn names_are_dotted_lowercase_segments() {
        for (name, says) in [
            ("lead", "has one segment"),
            ("Lead.Created", "write `lead.created`"),
            ("lead..created", "not dotted lowercase"),
            ("lead.1st", "not dotted lowercase"),
            ("buildamp.test", "kept for BuildAmp"),
        ] {
            let errors = parse(&format!(
                "#[event(name = \"{name}\", version = \"1\")] struct E {{ a: u8 }}"
            ))
            .unwrap_err();
            assert!(errors[0].contains(says), "{name}: {errors:?}");
        }
        assert!(
            parse(
                "#[event(name = \"call.recording_available\", version = \"2\")] struct E { a: u8 }"
            )
            .is_ok()
        );
    }

    #[test]
    fn every_problem_at_once() {
        let errors = parse("#[event(nam = \"a.b\", version = \"v1\")] enum E { A }").unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("did you mean `name`")));
        assert!(errors.iter().any(|e| e.contains("missing `name`")));
        assert!(errors.iter().any(|e| e.contains("`v1` is not a version")));
        assert!(
            errors
                .iter()
                .any(|e| e.contains("only be derived for a struct"))
        );
    }
}
