//! From Rust types and serde's attributes to the wire types of the plan: one declaration at a
//! time, refusing what cannot be mapped exactly.

use serde_derive_internals::ast::{Container, Data, Style};
use serde_derive_internals::attr::TagType;
use syn::{DeriveInput, GenericArgument, PathArguments, Type};

use std::path::PathBuf;

use super::{Absent, Body, Decl, Field, Refusal, Repr, Shape, Ty, Variant};
use crate::source::{Problem, derives};

/// Elm's reserved words: a field named like one gets a trailing `_`.
const RESERVED: [&str; 17] = [
    "if", "then", "else", "case", "of", "let", "in", "type", "module", "where", "import",
    "exposing", "as", "port", "infix", "alias", "effect",
];

pub(super) struct Cx<'a> {
    pub(super) file: &'a str,
    pub(super) problems: &'a mut Vec<Refusal>,
}

impl Cx<'_> {
    fn refuse(&mut self, item: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::about(
            self.file.to_owned(),
            item.into(),
            message.into(),
        ));
    }
}

pub(super) fn convert(cx: &mut Cx<'_>, input: &DeriveInput, elm: String) -> Option<Decl> {
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
                // `#[serde(other)]` (a unit variant, serde insists) maps as it is: serde writes
                // its own name and reads that name back; the unknown names it also accepts
                // never come out of serde, so Elm never sees them.
                if v.attrs.untagged() {
                    cx.refuse(&item, "uses a per-variant `untagged`, which the generator does not map: tag it like the others");
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
