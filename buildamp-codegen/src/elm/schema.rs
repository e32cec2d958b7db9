//! What the Elm generator knows about the model types: every struct and enum the frontend
//! webhooks reach, with serde's own attribute semantics (`serde_derive_internals`) already
//! applied. Each wire decision is made here once, in a plan that both the Elm printer and the
//! evaluator the tests use (`eval`) read, so the two cannot disagree about serde.
//!
//! Shapes that cannot be mapped exactly are refused here, each with a message naming the type,
//! the field and the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_derive_internals::ast::{Container, Data, Style};
use serde_derive_internals::attr::TagType;
use syn::{DeriveInput, GenericArgument, Item, PathArguments, Type};

use crate::ir::{Exposure, Webhook};

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

/// A refusal or a problem reading the models, naming where and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The file (as shown in the header).
    pub file: String,
    /// `Type` or `Type.field`.
    pub item: String,
    /// What is wrong and the fix.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.item.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: `{}`: {}", self.file, self.item, self.message)
        }
    }
}

/// Elm's reserved words: a field named like one gets a trailing `_`.
const RESERVED: [&str; 17] = [
    "if", "then", "else", "case", "of", "let", "in", "type", "module", "where", "import",
    "exposing", "as", "port", "infix", "alias", "effect",
];

/// Names the module declares (types, constructors, and types whose `encode`/`decode` functions
/// would be its helpers'), and Elm's default imports: a model type may not take them.
pub const TAKEN: [&str; 39] = [
    "Execution",
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

/// A parsed model file.
struct Source {
    shown: String,
    items: Vec<DeriveInput>,
    webhooks: Vec<Webhook>,
}

/// Builds the schema from model files (`(shown name, path)`), in the order given.
///
/// # Errors
/// Every refusal and unreadable or unresolvable item, all at once.
pub fn build(files: &[(String, PathBuf)]) -> Result<Schema, Vec<Refusal>> {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for (shown, path) in files {
        match read(shown, path) {
            Ok(source) => sources.push(source),
            Err(p) => problems.extend(p),
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
    let mut triggers: Vec<Trigger> = sources
        .iter()
        .flat_map(|s| &s.webhooks)
        .filter(|w| w.target.exposure == Exposure::Frontend)
        .map(|w| Trigger {
            name: w.name.clone(),
        })
        .collect();
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
            problems.push(Refusal {
                file,
                item: t.name.clone(),
                message: format!("its trigger `trigger{}` would clash with `{base}`'s `trigger{base}With`: rename one of the webhooks", t.name),
            });
        }
    }

    let mut decls = BTreeMap::new();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut queue: Vec<(String, String, String)> = triggers
        .iter()
        .map(|t| (t.name.clone(), String::new(), String::new()))
        .collect();
    let mut seen = BTreeSet::new();
    while let Some((name, used_by, used_in)) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(places) = declared.get(&name) else {
            problems.push(Refusal {
                file: used_in,
                item: used_by,
                message: format!(
                    "uses `{name}`, which no model file declares: declare it (deriving Serialize and Deserialize) in a file under the models folder"
                ),
            });
            continue;
        };
        if places.len() > 1 {
            let files: Vec<&str> = places
                .iter()
                .map(|(s, _)| sources[*s].shown.as_str())
                .collect();
            problems.push(Refusal {
                file: files.join(", "),
                item: name.clone(),
                message: "is declared more than once: rename one, the generated module needs one type per name".into(),
            });
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
    check_names(&decls, &mut problems);
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
                    problems.push(Refusal {
                        file: decl.file.display().to_string(),
                        item: format!("{}.{}", decl.rust, f.rust),
                        message: "flattens a recursive type, which cannot be decoded in one pass: nest it instead of `#[serde(flatten)]`".into(),
                    });
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Schema {
        triggers,
        decls,
        order,
        cycle_of,
        sources: sources.into_iter().map(|s| s.shown).collect(),
    })
}

fn read(shown: &str, path: &Path) -> Result<Source, Vec<Refusal>> {
    let fail = |message: String| {
        vec![Refusal {
            file: shown.to_owned(),
            item: String::new(),
            message,
        }]
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let file = syn::parse_file(&text).map_err(|e| {
        let at = e.span().start();
        fail(format!("{}:{}: {e}", at.line, at.column + 1))
    })?;
    let mut items = Vec::new();
    let mut webhooks = Vec::new();
    let mut problems = Vec::new();
    let mut stack: Vec<&Item> = file.items.iter().rev().collect();
    while let Some(item) = stack.pop() {
        let input = match item {
            Item::Mod(m) => {
                stack.extend(m.content.iter().flat_map(|(_, inner)| inner.iter().rev()));
                continue;
            }
            Item::Struct(s) => DeriveInput::from(s.clone()),
            Item::Enum(e) => DeriveInput::from(e.clone()),
            _ => continue,
        };
        if !derives(&input, "Serialize") && !derives(&input, "Deserialize") {
            continue;
        }
        if derives(&input, "BuildAmpWebhook") {
            match crate::models::parse(&input) {
                Ok(w) => webhooks.push(w),
                Err(e) => problems.extend(e.into_iter().map(|e| Refusal {
                    file: shown.to_owned(),
                    item: input.ident.to_string(),
                    message: e.to_string(),
                })),
            }
        }
        items.push(input);
    }
    if problems.is_empty() {
        Ok(Source {
            shown: shown.to_owned(),
            items,
            webhooks,
        })
    } else {
        Err(problems)
    }
}

fn derives(input: &DeriveInput, name: &str) -> bool {
    input.attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|paths| {
                paths
                    .iter()
                    .any(|p| p.segments.last().is_some_and(|s| s.ident == name))
            })
    })
}

struct Cx<'a> {
    file: &'a str,
    problems: &'a mut Vec<Refusal>,
}

impl Cx<'_> {
    fn refuse(&mut self, item: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Refusal {
            file: self.file.to_owned(),
            item: item.into(),
            message: message.into(),
        });
    }
}

fn convert(cx: &mut Cx<'_>, input: &DeriveInput, elm: String) -> Option<Decl> {
    let name = input.ident.to_string();
    if !input.generics.params.is_empty() {
        cx.refuse(
            &name,
            "is generic: Elm needs one concrete type; declare a non-generic struct for each use",
        );
        return None;
    }
    if !derives(input, "Serialize") || !derives(input, "Deserialize") {
        cx.refuse(
            &name,
            "must derive both Serialize and Deserialize: the frontend encodes it and decodes it",
        );
        return None;
    }
    let serde_cx = serde_derive_internals::Ctxt::new();
    let container = Container::from_ast(
        &serde_cx,
        input,
        serde_derive_internals::Derive::Deserialize,
    );
    if let Err(errors) = serde_cx.check() {
        for e in errors {
            cx.refuse(&name, format!("serde rejects it: {e}"));
        }
        return None;
    }
    let container = container?;
    let attrs = &container.attrs;
    for (set, what) in [
        (attrs.transparent(), "`#[serde(transparent)]`"),
        (attrs.type_from().is_some(), "`#[serde(from = ...)]`"),
        (
            attrs.type_try_from().is_some(),
            "`#[serde(try_from = ...)]`",
        ),
        (attrs.type_into().is_some(), "`#[serde(into = ...)]`"),
        (attrs.remote().is_some(), "`#[serde(remote = ...)]`"),
    ] {
        if set {
            cx.refuse(&name, format!("uses {what}, whose wire form the generator cannot see: declare the wire type itself as a model"));
            return None;
        }
    }
    let before = cx.problems.len();
    let body = match &container.data {
        Data::Struct(Style::Struct, fields) => Body::Record(fields_of(cx, &name, fields, false)),
        Data::Struct(Style::Newtype, fields) => Body::Newtype(ty_of(cx, &name, fields[0].ty)?),
        Data::Struct(Style::Tuple, fields) => {
            Body::Tuple(tuple(cx, &name, fields.iter().map(|f| f.ty))?)
        }
        Data::Struct(Style::Unit, _) => Body::Unit,
        Data::Enum(variants) => {
            let repr = match attrs.tag() {
                TagType::External => Repr::External,
                TagType::Internal { tag } => Repr::Internal { tag: tag.clone() },
                TagType::Adjacent { tag, content } => Repr::Adjacent {
                    tag: tag.clone(),
                    content: content.clone(),
                },
                TagType::None => Repr::Untagged,
            };
            let mut out = Vec::new();
            for v in variants {
                let item = format!("{name}::{}", v.ident);
                if v.attrs.skip_deserializing() || v.attrs.skip_serializing() {
                    cx.refuse(&item, "is skipped by serde (`skip`, `skip_serializing` or `skip_deserializing`), so the Elm type would hold a value serde refuses or never sends: remove the `skip`, or the variant");
                    continue;
                }
                if v.attrs.other() || v.attrs.untagged() {
                    cx.refuse(&item, "uses `#[serde(other)]` or a per-variant `untagged`, which the generator does not map: tag it like the others");
                    continue;
                }
                if v.attrs.serialize_with().is_some() || v.attrs.deserialize_with().is_some() {
                    cx.refuse(&item, "uses `serialize_with`/`deserialize_with`, whose wire form the generator cannot see: remove it");
                    continue;
                }
                let shape = match v.style {
                    Style::Unit => Shape::Unit,
                    Style::Newtype => match ty_of(cx, &item, v.fields[0].ty) {
                        Some(t) => Shape::Newtype(t),
                        None => continue,
                    },
                    Style::Tuple => match tuple(cx, &item, v.fields.iter().map(|f| f.ty)) {
                        Some(t) => Shape::Tuple(t),
                        None => continue,
                    },
                    Style::Struct => Shape::Record(fields_of(cx, &item, &v.fields, true)),
                };
                if let (Repr::Internal { .. }, Shape::Newtype(inner)) = (&repr, &shape)
                    && !matches!(inner, Ty::Named(_))
                {
                    cx.refuse(&item, "is a newtype variant of an internally tagged enum holding a non-struct, which serde cannot serialize: make it a struct variant");
                    continue;
                }
                out.push(Variant {
                    rust: v.ident.to_string(),
                    ctor: format!("{elm}{}", v.ident),
                    encode_name: v.attrs.name().deserialize_name().to_owned(),
                    decode_name: v.attrs.name().serialize_name().to_owned(),
                    shape,
                });
            }
            if variants.is_empty() {
                cx.refuse(
                    &name,
                    "has no variants, so no value exists to send: add one",
                );
            }
            Body::Enum {
                repr,
                variants: out,
            }
        }
    };
    if cx.problems.len() > before {
        return None;
    }
    Some(Decl {
        rust: name,
        elm,
        file: PathBuf::from(cx.file),
        body,
        recursive: false,
    })
}

fn tuple<'t>(
    cx: &mut Cx<'_>,
    item: &str,
    types: impl Iterator<Item = &'t Type>,
) -> Option<Vec<Ty>> {
    let types: Vec<&Type> = types.collect();
    if types.len() > 3 {
        cx.refuse(
            item,
            format!(
                "has {} unnamed fields; Elm tuples hold at most 3: give the fields names",
                types.len()
            ),
        );
        return None;
    }
    let mut out = Vec::new();
    for t in types {
        out.push(ty_of(cx, item, t)?);
    }
    Some(out)
}

fn fields_of(
    cx: &mut Cx<'_>,
    owner: &str,
    fields: &[serde_derive_internals::ast::Field<'_>],
    in_variant: bool,
) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for f in fields {
        let rust = match &f.member {
            syn::Member::Named(ident) => ident.to_string(),
            syn::Member::Unnamed(i) => i.index.to_string(),
        };
        let rust = rust.trim_start_matches("r#").to_owned();
        let item = format!("{owner}.{rust}");
        let a = &f.attrs;
        if a.skip_serializing() && a.skip_deserializing() {
            continue;
        }
        if a.serialize_with().is_some() || a.deserialize_with().is_some() {
            cx.refuse(&item, "uses `with`/`serialize_with`/`deserialize_with`, whose wire form the generator cannot see: use a model type with that wire form instead");
            continue;
        }
        let Some(ty) = ty_of(cx, &item, f.ty) else {
            continue;
        };
        if a.flatten() {
            if in_variant {
                cx.refuse(&item, "flattens into an enum variant, which the generator does not map: nest it instead");
                continue;
            }
            if !matches!(ty, Ty::Named(_)) {
                cx.refuse(&item, "flattens a map, an option or a list, whose keys the generator cannot know: flatten a struct, or nest it");
                continue;
            }
        }
        let may_be_absent = a.skip_serializing_if().is_some() || a.skip_serializing();
        let absent = match (&ty, may_be_absent) {
            (Ty::Option(_), _) => Absent::Nothing,
            (_, false) => Absent::Required,
            (ty, true) => match elm_default(ty) {
                Some(d) => Absent::Default(d),
                None => {
                    cx.refuse(&item, "may be left out by `skip_serializing_if`/`skip_serializing`, and its type has no default the Elm decoder can fill in: make it an `Option`, or always serialize it");
                    continue;
                }
            },
        };
        let elm = elm_field(&rust);
        if let Some(other) = out.iter().find(|o| o.elm == elm) {
            cx.refuse(
                &item,
                format!(
                    "becomes the Elm field `{elm}`, as `{}` does: rename one of them",
                    other.rust
                ),
            );
            continue;
        }
        out.push(Field {
            rust,
            elm,
            ty,
            encode_key: (!a.skip_deserializing()).then(|| a.name().deserialize_name().to_owned()),
            decode_key: a.name().serialize_name().to_owned(),
            absent,
            flatten: a.flatten(),
        });
    }
    out
}

/// The Elm value of a type's `Default`, when it has an obvious one.
fn elm_default(ty: &Ty) -> Option<&'static str> {
    match ty {
        Ty::String => Some("\"\""),
        Ty::Bool => Some("False"),
        Ty::Int => Some("0"),
        Ty::Float => Some("0"),
        Ty::List(_) => Some("[]"),
        Ty::Dict(_) => Some("Dict.empty"),
        _ => None,
    }
}

/// A Rust field name as an Elm record field: camelCase, reserved words with a trailing `_`.
pub fn elm_field(rust: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for (i, c) in rust.trim_start_matches('_').chars().enumerate() {
        if c == '_' {
            upper = i > 0;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if let Some(first) = out.chars().next()
        && first.is_uppercase()
    {
        out = first.to_lowercase().chain(out.chars().skip(1)).collect();
    }
    if out.is_empty() || out.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        out = format!("field{out}");
    }
    if RESERVED.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

fn last_segment(ty: &Type) -> Option<(&syn::PathSegment, usize)> {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().map(|s| (s, p.path.segments.len()))
        }
        _ => None,
    }
}

fn generic_args(segment: &syn::PathSegment) -> Vec<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn ty_of(cx: &mut Cx<'_>, item: &str, ty: &Type) -> Option<Ty> {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => return Some(Ty::Unit),
        Type::Tuple(t) => return tuple(cx, item, t.elems.iter()).map(Ty::Tuple),
        Type::Reference(r) => {
            if matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str")) {
                return Some(Ty::String);
            }
            return ty_of(cx, item, &r.elem);
        }
        Type::Array(a) => return ty_of(cx, item, &a.elem).map(|t| Ty::List(Box::new(t))),
        Type::Slice(s) => return ty_of(cx, item, &s.elem).map(|t| Ty::List(Box::new(t))),
        Type::Paren(p) => return ty_of(cx, item, &p.elem),
        Type::Group(g) => return ty_of(cx, item, &g.elem),
        _ => {}
    }
    let Some((segment, _)) = last_segment(ty) else {
        cx.refuse(
            item,
            format!(
                "has the type `{}`, which the generator does not map: use a named model type",
                quote::quote!(#ty)
            ),
        );
        return None;
    };
    let args = generic_args(segment);
    let name = segment.ident.to_string();
    let one = |cx: &mut Cx<'_>| -> Option<Ty> {
        match args.as_slice() {
            [t] => ty_of(cx, item, t),
            _ => {
                cx.refuse(item, format!("`{name}` needs one type argument"));
                None
            }
        }
    };
    Some(match name.as_str() {
        "String" | "str" => Ty::String,
        "char" => Ty::Char,
        "bool" => Ty::Bool,
        "i8" | "i16" | "i32" | "u8" | "u16" | "u32" | "NonZeroU8" | "NonZeroU16" | "NonZeroU32" => {
            Ty::Int
        }
        "i64" | "u64" | "i128" | "u128" | "isize" | "usize" | "NonZeroU64" | "NonZeroI64" => {
            cx.refuse(item, format!("is `{name}`: Elm's `Int` is a JavaScript number, exact only up to 2^53, so a 64-bit integer could arrive corrupted. Use `i32`/`u32` if the values fit, or send it as a `String`"));
            return None;
        }
        "f32" | "f64" => Ty::Float,
        "Value" => Ty::Json,
        "Box" | "Rc" | "Arc" | "Cow" => {
            let t = args.last().copied();
            match t {
                Some(t) => return ty_of(cx, item, t),
                None => {
                    cx.refuse(item, format!("`{name}` needs a type argument"));
                    return None;
                }
            }
        }
        "Option" => {
            let inner = one(cx)?;
            if matches!(inner, Ty::Option(_)) {
                cx.refuse(item, "is `Option<Option<_>>`: serde reads both `None` and `Some(None)` from `null`, so Elm cannot tell them apart. Use one `Option`, or an enum");
                return None;
            }
            Ty::Option(Box::new(inner))
        }
        "Vec" | "VecDeque" | "LinkedList" | "HashSet" | "BTreeSet" | "BinaryHeap" => {
            Ty::List(Box::new(one(cx)?))
        }
        "HashMap" | "BTreeMap" | "IndexMap" => {
            let [k, v] = args.as_slice() else {
                cx.refuse(item, format!("`{name}` needs two type arguments"));
                return None;
            };
            let key = ty_of(cx, item, k)?;
            if key != Ty::String {
                cx.refuse(item, format!("is a map keyed by `{}`: JSON object keys are strings and Elm's `Dict` here is keyed by `String`. Key it by `String`", rust_type(k)));
                return None;
            }
            Ty::Dict(Box::new(ty_of(cx, item, v)?))
        }
        _ if !args.is_empty() => {
            cx.refuse(item, format!("uses the generic type `{}`, which the generator does not map: use a concrete model type", rust_type(ty)));
            return None;
        }
        _ => Ty::Named(name),
    })
}

/// A type as written, without the token spacing of `quote`.
fn rust_type(ty: &Type) -> String {
    quote::quote!(#ty)
        .to_string()
        .replace(' ', "")
        .replace(',', ", ")
}

fn ty_refs(ty: &Ty, out: &mut BTreeSet<String>) {
    match ty {
        Ty::Named(n) => {
            out.insert(n.clone());
        }
        Ty::Option(t) | Ty::List(t) | Ty::Dict(t) => ty_refs(t, out),
        Ty::Tuple(ts) => ts.iter().for_each(|t| ty_refs(t, out)),
        _ => {}
    }
}

fn body_refs(body: &Body, out: &mut BTreeSet<String>) {
    match body {
        Body::Record(fields) => fields.iter().for_each(|f| ty_refs(&f.ty, out)),
        Body::Newtype(t) => ty_refs(t, out),
        Body::Tuple(ts) => ts.iter().for_each(|t| ty_refs(t, out)),
        Body::Unit => {}
        Body::Enum { variants, .. } => {
            for v in variants {
                match &v.shape {
                    Shape::Unit => {}
                    Shape::Newtype(t) => ty_refs(t, out),
                    Shape::Tuple(ts) => ts.iter().for_each(|t| ty_refs(t, out)),
                    Shape::Record(fields) => fields.iter().for_each(|f| ty_refs(&f.ty, out)),
                }
            }
        }
    }
}

/// Flattened fields and internally tagged newtype variants must hold a record struct.
fn check_flatten(decls: &BTreeMap<String, Decl>, problems: &mut Vec<Refusal>) {
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
                        problems.push(Refusal {
                            file: file.clone(),
                            item: format!("{}.{}", d.rust, f.rust),
                            message: format!("flattens `{n}`, which is not a struct with named fields: the generator flattens only those; nest it instead"),
                        });
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
                        problems.push(Refusal {
                            file: file.clone(),
                            item: format!("{}::{}", d.rust, v.rust),
                            message: format!("is an internally tagged newtype variant holding `{n}`, which is not a struct with named fields: serde can only merge the tag into a struct; make it a struct variant"),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// Elm names must be unique: types, constructors (a record alias is one too), and the module's.
fn check_names(decls: &BTreeMap<String, Decl>, problems: &mut Vec<Refusal>) {
    let mut owners: BTreeMap<String, String> = TAKEN
        .iter()
        .map(|t| {
            (
                (*t).to_owned(),
                "the BuildAmp.Webhooks module itself".to_owned(),
            )
        })
        .collect();
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
                problems.push(Refusal {
                    file: d.file.display().to_string(),
                    item: what.clone(),
                    message: format!("becomes the Elm name `{elm}`, which {owner} already uses: rename one of them"),
                });
            } else {
                owners.insert(elm, format!("`{what}`"));
            }
        }
    }
}

/// Types in dependency order (a type after those it uses; cycles together), and the cycles
/// (strongly connected components, Tarjan's algorithm), both deterministic.
fn order(uses: &BTreeMap<String, BTreeSet<String>>) -> (Vec<String>, Vec<Vec<String>>) {
    struct Tarjan<'a> {
        uses: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.uses.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.uses.contains_key(w) {
                    continue;
                }
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                component.sort();
                self.components.push(component);
            }
        }
    }
    let mut t = Tarjan {
        uses,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in uses.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    // Tarjan emits components dependencies-first.
    let order = t.components.iter().flatten().cloned().collect();
    (order, t.components)
}
