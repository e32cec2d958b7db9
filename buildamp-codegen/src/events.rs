//! JSON Schema (draft 2020-12) for every event type: what a customer's endpoint receives, the
//! whole envelope (`event_type`, `event_id`, `timestamp`, `data`, `metadata`), with `data`
//! described by the same serde plan the Elm module is printed from ([`crate::elm::schema`]), so
//! the documented shape is the shape serde writes. Doc comments become descriptions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::elm::schema::{Absent, Body, Field, Repr, Schema, Shape, Ty, Variant, build_events};
use crate::ir::EventType;
use crate::source::{self, Problem};

/// One event type and its schema.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSchema {
    /// The event type.
    pub event: EventType,
    /// Its JSON Schema.
    pub schema: Value,
}

/// Every event type in `files` (`(shown name, path)`) with its schema, sorted by name.
///
/// # Errors
/// Every refusal or unreadable item, all at once.
pub fn schemas(files: &[(String, PathBuf)]) -> Result<Vec<EventSchema>, Vec<Problem>> {
    let (plan, events) = build_events(files)?;
    let docs = docs(files);
    Ok(events
        .into_iter()
        .map(|event| {
            let schema = envelope_schema(&plan, &docs, &event);
            EventSchema { event, schema }
        })
        .collect())
}

/// Writes `<out>/<event name>.json` for every event type of the models folder `models`, and
/// `<out>/index.json` listing them; returns the files written.
///
/// # Errors
/// Every refusal, or a file cannot be written.
pub fn write(models: &Path, out: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let files =
        source::find(models).map_err(|p| crate::elm::GenerateError { problems: vec![p] })?;
    let all = schemas(&files).map_err(|problems| crate::elm::GenerateError { problems })?;
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    let mut index = Vec::new();
    for s in &all {
        let path = out.join(format!("{}.json", s.event.name));
        std::fs::write(
            &path,
            format!("{}\n", serde_json::to_string_pretty(&s.schema)?),
        )?;
        written.push(path);
        index.push(json!({
            "name": s.event.name, "version": s.event.version,
            "description": s.event.description, "schema": format!("{}.json", s.event.name),
        }));
    }
    let path = out.join("index.json");
    std::fs::write(
        &path,
        format!("{}\n", serde_json::to_string_pretty(&Value::from(index))?),
    )?;
    written.push(path);
    Ok(written)
}

/// Doc comments by `Type` and `Type.field` (or `Type.Variant`).
fn docs(files: &[(String, PathBuf)]) -> BTreeMap<String, String> {
    let mut docs = BTreeMap::new();
    for (shown, path) in files {
        let Ok(file) = source::read(shown, path) else {
            continue;
        };
        for item in &file.items {
            let name = item.ident.to_string();
            put(&mut docs, name.clone(), &item.attrs);
            match &item.data {
                syn::Data::Struct(s) => {
                    for f in &s.fields {
                        if let Some(ident) = &f.ident {
                            put(&mut docs, format!("{name}.{ident}"), &f.attrs);
                        }
                    }
                }
                syn::Data::Enum(e) => {
                    for v in &e.variants {
                        put(&mut docs, format!("{name}.{}", v.ident), &v.attrs);
                    }
                }
                syn::Data::Union(_) => {}
            }
        }
    }
    docs
}

fn put(docs: &mut BTreeMap<String, String>, key: String, attrs: &[syn::Attribute]) {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }),
                ..
            }) => Some(s.value().trim().to_owned()),
            _ => None,
        })
        .collect();
    let text = lines.join(" ").trim().to_owned();
    if !text.is_empty() {
        docs.insert(key, text);
    }
}

fn envelope_schema(plan: &Schema, docs: &BTreeMap<String, String>, event: &EventType) -> Value {
    // The definitions `data` reaches, in the plan's stable order.
    let mut defs = Map::new();
    let mut stack = vec![event.rust.clone()];
    let mut reached = std::collections::BTreeSet::new();
    while let Some(name) = stack.pop() {
        if !reached.insert(name.clone()) {
            continue;
        }
        if let Some(decl) = plan.decls.get(&name) {
            let mut refs = std::collections::BTreeSet::new();
            crate::elm::schema::body_refs(&decl.body, &mut refs);
            stack.extend(refs);
        }
    }
    for name in plan.order.iter().filter(|n| reached.contains(*n)) {
        let decl = &plan.decls[name];
        let mut schema = body(&decl.rust, &decl.body, docs);
        if let (Some(d), Value::Object(o)) = (docs.get(&decl.rust), &mut schema) {
            o.insert("description".into(), d.clone().into());
        }
        defs.insert(decl.rust.clone(), schema);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{}.json", event.name),
        "title": event.name,
        "description": event.description,
        "type": "object",
        "properties": {
            "event_type": { "const": event.name },
            "event_id": { "type": "string", "description": "The event's id: the same on every retry and every endpoint (`webhook-id`); deduplicate on it." },
            "timestamp": { "type": "string", "format": "date-time", "description": "When the event happened." },
            "data": { "$ref": format!("#/$defs/{}", event.rust) },
            "metadata": {
                "type": "object",
                "properties": {
                    "version": { "const": event.version, "description": "The version of this event type's schema." },
                    "retry_count": { "type": "integer", "minimum": 0, "description": "0 on the first attempt, then 1, 2, ..." }
                },
                "required": ["version", "retry_count"]
            }
        },
        "required": ["event_type", "event_id", "timestamp", "data", "metadata"],
        "$defs": defs,
    })
}

fn ty(t: &Ty) -> Value {
    match t {
        Ty::String => json!({"type": "string"}),
        Ty::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Int => json!({"type": "integer"}),
        Ty::Float => json!({"type": "number"}),
        Ty::Json => json!({}),
        Ty::Unit => json!({"type": "null"}),
        Ty::Option(inner) => json!({"anyOf": [ty(inner), {"type": "null"}]}),
        Ty::List(inner) => json!({"type": "array", "items": ty(inner)}),
        Ty::Dict(inner) => json!({"type": "object", "additionalProperties": ty(inner)}),
        Ty::Tuple(items) => json!({
            "type": "array", "prefixItems": items.iter().map(ty).collect::<Vec<_>>(),
            "minItems": items.len(), "maxItems": items.len(),
        }),
        Ty::Named(n) => json!({"$ref": format!("#/$defs/{n}")}),
    }
}

/// An object of `fields` (serde's written keys), flattened structs merged in with `allOf`.
fn record(
    owner: &str,
    fields: &[Field],
    extra: Option<(&str, Value)>,
    docs: &BTreeMap<String, String>,
) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut flattened = Vec::new();
    if let Some((tag, value)) = extra {
        properties.insert(tag.to_owned(), value);
        required.push(Value::from(tag));
    }
    for f in fields {
        if f.flatten {
            flattened.push(ty(&f.ty));
            continue;
        }
        let mut schema = ty(&f.ty);
        if let (Some(d), Value::Object(o)) = (docs.get(&format!("{owner}.{}", f.rust)), &mut schema)
        {
            o.insert("description".into(), d.clone().into());
        }
        properties.insert(f.decode_key.clone(), schema);
        if f.absent == Absent::Required {
            required.push(f.decode_key.clone().into());
        }
    }
    let own = json!({"type": "object", "properties": properties, "required": required});
    if flattened.is_empty() {
        own
    } else {
        flattened.insert(0, own);
        json!({"allOf": flattened})
    }
}

fn body(owner: &str, b: &Body, docs: &BTreeMap<String, String>) -> Value {
    match b {
        Body::Record(fields) => record(owner, fields, None, docs),
        Body::Newtype(t) => ty(t),
        Body::Tuple(items) => ty(&Ty::Tuple(items.clone())),
        Body::Unit => json!({"type": "null"}),
        Body::Enum { repr, variants } => {
            let cases: Vec<Value> = variants
                .iter()
                .map(|v| variant(owner, repr, v, docs))
                .collect();
            match repr {
                Repr::Untagged => json!({"anyOf": cases}),
                _ => json!({"oneOf": cases}),
            }
        }
    }
}

fn variant(owner: &str, repr: &Repr, v: &Variant, docs: &BTreeMap<String, String>) -> Value {
    let name = v.decode_name.as_str();
    let content = || match &v.shape {
        Shape::Unit => json!({"type": "null"}),
        Shape::Newtype(t) => ty(t),
        Shape::Tuple(items) => ty(&Ty::Tuple(items.clone())),
        Shape::Record(fields) => record(&format!("{owner}.{}", v.rust), fields, None, docs),
    };
    let mut schema = match (repr, &v.shape) {
        (Repr::External, Shape::Unit) => json!({"const": name}),
        (Repr::External, _) => json!({
            "type": "object", "properties": { name: content() }, "required": [name],
            "additionalProperties": false,
        }),
        (Repr::Internal { tag }, Shape::Record(fields)) => record(
            &format!("{owner}.{}", v.rust),
            fields,
            Some((tag, json!({"const": name}))),
            docs,
        ),
        (Repr::Internal { tag } | Repr::Adjacent { tag, .. }, Shape::Unit) => {
            json!({"type": "object", "properties": { tag.clone(): {"const": name} }, "required": [tag]})
        }
        (Repr::Internal { tag }, _) => json!({"allOf": [
            {"type": "object", "properties": { tag.clone(): {"const": name} }, "required": [tag]},
            content(),
        ]}),
        (Repr::Adjacent { tag, content: key }, _) => json!({
            "type": "object",
            "properties": { tag.clone(): {"const": name}, key.clone(): content() },
            "required": [tag, key],
        }),
        (Repr::Untagged, _) => content(),
    };
    if let (Some(d), Value::Object(o)) = (docs.get(&format!("{owner}.{}", v.rust)), &mut schema) {
        o.insert("description".into(), d.clone().into());
    }
    schema
}
