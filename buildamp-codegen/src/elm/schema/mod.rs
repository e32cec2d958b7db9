//! What the Elm generator knows about the model types: every struct and enum the frontend
//! webhooks reach, with serde's own attribute semantics (`serde_derive_internals`) already
//! applied. Each wire decision is made here once, in a plan that both the Elm printer and the
//! evaluator the tests use (`tests/support/elm_eval.rs`) read, so the two cannot disagree about serde.
//!
//! Shapes that cannot be mapped exactly are refused here, each with a message naming the type,
//! the field and the fix.

//!
//! # Layout
//! One stage a module: this one holds the plan's types and [`build`], which reads the model
//! files through the front end (`crate::source`), resolves types by name and runs the stages:
//! `convert` (Rust types and serde attributes to wire types), `check` (rules across types:
//! flattening, Elm names), `order` (dependencies first, cycles found).

mod check;
mod convert;
mod order;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::DeriveInput;

pub use check::TAKEN;
use check::{check_flatten, check_names};
pub use convert::elm_field;
use convert::{Cx, convert};
pub(crate) use order::body_refs;
use order::order;

use crate::ir::{EventType, Exposure, Webhook};
use crate::source::{self, Problem, derives};

/// A type as the wire sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `String` (also `&str`, `Box<str>`).
    String,
    /// `char`: a one-character string.
    Char,
    /// `bool`.
    Bool,
    /// `i8`–`i32`, `u8`–`u32`: exact in Elm's `Int`.
    Int,
    /// `f32`, `f64`.
    Float,
    /// `serde_json::Value`: any JSON.
    Json,
    /// `()`: `null`.
    Unit,
    /// `Option<T>`: `null` for `None`.
    Option(Box<Ty>),
    /// `Vec<T>`, `VecDeque<T>`, sets, slices, arrays: a JSON array.
    List(Box<Ty>),
    /// `HashMap<String, T>`, `BTreeMap<String, T>`: a JSON object.
    Dict(Box<Ty>),
    /// `(A, B)` and `(A, B, C)`: a JSON array.
    Tuple(Vec<Ty>),
    /// A struct or enum declared in the models.
    Named(String),
}

/// Where a record field's value comes from when serde's output leaves it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Absent {
    /// Serde always writes it: absent is an error.
    Required,
    /// `Option`: absent or `null` is `Nothing`.
    Nothing,
    /// Serde may skip it (`skip_serializing_if`, `skip_serializing`): absent is this value
    /// (the Elm literal of the type's `Default`).
    Default(&'static str),
}

/// One field of a record (a struct with named fields, or a struct variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The Rust name.
    pub rust: String,
    /// The Elm record field name (camelCase; reserved words get a `_`).
    pub elm: String,
    /// The type.
    pub ty: Ty,
    /// The key the encoder writes (serde's deserialize name); `None` when serde does not read it
    /// (`skip_deserializing`), so the encoder leaves it out.
    pub encode_key: Option<String>,
    /// The key the decoder reads (serde's serialize name).
    pub decode_key: String,
    /// How the decoder treats the key's absence.
    pub absent: Absent,
    /// `#[serde(flatten)]` of a struct: its fields sit in this object.
    pub flatten: bool,
}

/// How an enum is tagged, in serde's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repr {
    /// `{"Variant": content}`, unit variants as `"Variant"`.
    External,
    /// `{"tag": "Variant", ...fields}`.
    Internal {
        /// The tag's key.
        tag: String,
    },
    /// `{"tag": "Variant", "content": content}`.
    Adjacent {
        /// The tag's key.
        tag: String,
        /// The content's key.
        content: String,
    },
    /// The content alone; the first variant that decodes wins, in declaration order.
    Untagged,
}

/// A variant's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// No fields.
    Unit,
    /// One unnamed field.
    Newtype(Ty),
    /// Several unnamed fields: a JSON array.
    Tuple(Vec<Ty>),
    /// Named fields: a JSON object.
    Record(Vec<Field>),
}

/// One enum variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// The Rust name.
    pub rust: String,
    /// The Elm constructor: the enum's Elm name then the variant's.
    pub ctor: String,
    /// The name the encoder writes (serde's deserialize name).
    pub encode_name: String,
    /// The name the decoder reads (serde's serialize name).
    pub decode_name: String,
    /// Its fields.
    pub shape: Shape,
}

/// A declaration's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// A struct with named fields: a JSON object.
    Record(Vec<Field>),
    /// A struct with one unnamed field: the field's JSON.
    Newtype(Ty),
    /// A struct with several unnamed fields: a JSON array.
    Tuple(Vec<Ty>),
    /// A unit struct: `null`.
    Unit,
    /// An enum.
    Enum {
        /// The tagging.
        repr: Repr,
        /// The variants, in declaration order.
        variants: Vec<Variant>,
    },
}

/// A struct or enum, ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    /// The Rust name.
    pub rust: String,
    /// The Elm type name (`<Name>Payload` for a webhook's payload).
    pub elm: String,
    /// The file that declares it.
    pub file: PathBuf,
    /// Its body.
    pub body: Body,
    /// Whether it is part of a cycle of types: a record then becomes a one-constructor custom
    /// type (Elm type aliases cannot be recursive) and decoders reach it through `Decode.lazy`.
    pub recursive: bool,
}

/// A frontend webhook. Its payload's Rust type has the same name (a key of [`Schema::decls`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The webhook's name (the route's `{Name}`).
    pub name: String,
    /// The Rust name of the type its 2xx answers are (`#[target(response = ...)]`), a key of
    /// [`Schema::decls`].
    pub response: Option<String>,
    /// The Rust name of the type its refusals are (`#[target(error = ...)]`), a key of
    /// [`Schema::decls`].
    pub error: Option<String>,
}

impl Trigger {
    /// The Elm name of its executions read with its answer types (`<Name>Execution`), when it
    /// declares any.
    pub fn typed_execution(&self) -> Option<String> {
        (self.response.is_some() || self.error.is_some()).then(|| format!("{}Execution", self.name))
    }
}

/// Everything the module is generated from.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Frontend webhooks, sorted by name.
    pub triggers: Vec<Trigger>,
    /// Every type they reach, by Rust name; `order` says the print order.
    pub decls: BTreeMap<String, Decl>,
    /// Rust names, each type after the types it uses (sorted among equals), so output is stable.
    pub order: Vec<String>,
    /// Rust names of each cycle's members, for `Decode.lazy`: a decoder in a cycle refers to the
    /// decoders of its own cycle lazily.
    pub cycle_of: BTreeMap<String, usize>,
    /// The model files read, in order, as shown in the header.
    pub sources: Vec<String>,
}

/// A refusal or a problem reading the models, naming where and what to do: the front end's one
/// problem type.
pub type Refusal = crate::source::Problem;

/// A parsed model file.
struct Source {
    shown: String,
    items: Vec<DeriveInput>,
    webhooks: Vec<Webhook>,
    events: Vec<EventType>,
}

/// Builds the schema of the frontend webhooks from model files (`(shown name, path)`), in the
/// order given.
///
/// # Errors
/// Every refusal and unreadable or unresolvable item, all at once.
pub fn build(files: &[(String, PathBuf)]) -> Result<Schema, Vec<Refusal>> {
    build_from(files, Roots::Frontend).map(|(schema, _)| schema)
}

/// Builds the schema of every `#[derive(BuildAmpEvent)]` type in the model files (with the same
/// serde semantics and refusals as the Elm module's), and the event types, sorted by name.
///
/// # Errors
/// Every refusal, unreadable or unresolvable item and duplicate event name, all at once.
pub fn build_events(files: &[(String, PathBuf)]) -> Result<(Schema, Vec<EventType>), Vec<Refusal>> {
    build_from(files, Roots::Events)
}

/// Which declarations a schema starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Roots {
    /// The frontend webhooks' payloads.
    Frontend,
    /// The event types' data.
    Events,
}

fn build_from(
    files: &[(String, PathBuf)],
    roots: Roots,
) -> Result<(Schema, Vec<EventType>), Vec<Refusal>> {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for (shown, path) in files {
        match read(shown, path) {
            Ok(source) => sources.push(source),
            Err(p) => problems.extend(p),
        }
    }
    let mut events: Vec<(EventType, String)> = sources
        .iter()
        .flat_map(|s| s.events.iter().map(|e| (e.clone(), s.shown.clone())))
        .collect();
    events.sort_by(|a, b| (&a.0.name, &a.1).cmp(&(&b.0.name, &b.1)));
    if roots == Roots::Events {
        for pair in events.windows(2) {
            if pair[0].0.name == pair[1].0.name {
                problems.push(Problem::about(
                    format!("{}, {}", pair[0].1, pair[1].1),
                    pair[1].0.rust.clone(),
                    format!("event name `{}` is also declared by `{}`: event names are unique across the program, rename one", pair[1].0.name, pair[0].0.rust),
                ));
            }
        }
    }
    // Every declared type, by name; a name declared twice is an error only when used.
    let mut declared: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (s, source) in sources.iter().enumerate() {
        for (i, item) in source.items.iter().enumerate() {
            declared
                .entry(item.ident.to_string())
                .or_default()
                .push((s, i));
        }
    }
    let mut triggers: Vec<Trigger> = Vec::new();
    for source in &sources {
        let frontend = source
            .webhooks
            .iter()
            .filter(|w| roots == Roots::Frontend && w.target.exposure == Exposure::Frontend);
        for w in frontend {
            let mut answer = |key: &str, path: &Option<syn::Path>| {
                let path = path.as_ref()?;
                let last = path.segments.last()?;
                if !last.arguments.is_none() {
                    problems.push(Problem::about(source.shown.clone(), w.name.clone(), format!("its `{key}` type has generic arguments: Elm needs one concrete type; declare a non-generic struct for it")));
                    return None;
                }
                Some(last.ident.to_string())
            };
            triggers.push(Trigger {
                name: w.name.clone(),
                response: answer("response", &w.target.response),
                error: answer("error", &w.target.error),
            });
        }
    }
    triggers.sort_by(|a, b| a.name.cmp(&b.name));
    let webhook_names: BTreeSet<String> = triggers.iter().map(|t| t.name.clone()).collect();
    for t in &triggers {
        if let Some(base) = t.name.strip_suffix("With")
            && webhook_names.contains(base)
        {
            let file = sources
                .iter()
                .find(|s| s.webhooks.iter().any(|w| w.name == t.name))
                .map(|s| s.shown.clone())
                .unwrap_or_default();
            problems.push(Problem::about(file, t.name.clone(), format!("its trigger `trigger{}` would clash with `{base}`'s `trigger{base}With`: rename one of the webhooks", t.name)));
        }
    }

    let mut decls = BTreeMap::new();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let file_of = |name: &str| {
        sources
            .iter()
            .find(|s| s.webhooks.iter().any(|w| w.name == name))
            .map(|s| s.shown.clone())
            .unwrap_or_default()
    };
    let mut queue: Vec<(String, String, String)> = triggers
        .iter()
        .flat_map(|t| {
            let answers = [&t.response, &t.error]
                .into_iter()
                .flatten()
                .map(|a| (a.clone(), t.name.clone(), file_of(&t.name)));
            std::iter::once((t.name.clone(), String::new(), String::new())).chain(answers)
        })
        .chain(
            events
                .iter()
                .filter(|_| roots == Roots::Events)
                .map(|(e, _)| (e.rust.clone(), String::new(), String::new())),
        )
        .collect();
    let mut seen = BTreeSet::new();
    while let Some((name, used_by, used_in)) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(places) = declared.get(&name) else {
            problems.push(Problem::about(used_in, used_by, format!(
                    "uses `{name}`, which no model file declares: declare it (deriving Serialize and Deserialize) in a file under the models folder"
                )));
            continue;
        };
        if places.len() > 1 {
            let files: Vec<&str> = places
                .iter()
                .map(|(s, _)| sources[*s].shown.as_str())
                .collect();
            problems.push(Problem::about(files.join(", "), name.clone(), "is declared more than once: rename one, the generated module needs one type per name"));
            continue;
        }
        let (s, i) = places[0];
        let source = &sources[s];
        let elm = if webhook_names.contains(&name) {
            format!("{name}Payload")
        } else {
            name.clone()
        };
        let mut cx = Cx {
            file: &source.shown,
            problems: &mut problems,
        };
        if let Some(decl) = convert(&mut cx, &source.items[i], elm) {
            let mut refs = BTreeSet::new();
            body_refs(&decl.body, &mut refs);
            for r in &refs {
                queue.push((r.clone(), name.clone(), source.shown.clone()));
            }
            uses.insert(name.clone(), refs);
            decls.insert(name.clone(), decl);
        }
    }
    check_flatten(&decls, &mut problems);
    check_names(&decls, &triggers, &mut problems);
    if !problems.is_empty() {
        problems.sort_by(|a, b| (&a.file, &a.item).cmp(&(&b.file, &b.item)));
        problems.dedup();
        return Err(problems);
    }
    let (order, cycles) = order(&uses);
    let mut cycle_of = BTreeMap::new();
    for (n, cycle) in cycles.iter().enumerate() {
        let recursive = cycle.len() > 1 || cycle.iter().all(|c| uses[c].contains(c));
        for member in cycle {
            if recursive {
                cycle_of.insert(member.clone(), n);
                if let Some(d) = decls.get_mut(member) {
                    d.recursive = true;
                }
            }
        }
    }
    let mut problems = Vec::new();
    for decl in decls.values() {
        if let Body::Record(fields) = &decl.body {
            for f in fields.iter().filter(|f| f.flatten) {
                if let Ty::Named(n) = &f.ty
                    && (decl.recursive || decls[n].recursive)
                {
                    problems.push(Problem::about(decl.file.display().to_string(), format!("{}.{}", decl.rust, f.rust), "flattens a recursive type, which cannot be decoded in one pass: nest it instead of `#[serde(flatten)]`"));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((
        Schema {
            triggers,
            decls,
            order,
            cycle_of,
            sources: sources.into_iter().map(|s| s.shown).collect(),
        },
        events.into_iter().map(|(e, _)| e).collect(),
    ))
}

/// A model file through the front end: its serde types, and its webhooks (checked by the
/// derive's parser).
fn read(shown: &str, path: &Path) -> Result<Source, Vec<Refusal>> {
    let file = source::read(shown, path)?;
    let (webhooks, mut problems) = file.webhooks();
    let (events, event_problems) = file.events();
    problems.extend(event_problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let items = file
        .items
        .into_iter()
        .filter(|i| derives(i, "Serialize") || derives(i, "Deserialize"))
        .collect();
    Ok(Source {
        shown: file.shown,
        items,
        webhooks,
        events,
    })
}
