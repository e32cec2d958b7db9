//! What the generated Elm encoders and decoders do, evaluated in Rust over the same schema the
//! printer reads: Elm's `Json.Decode`/`Json.Encode` semantics, one function per construct the
//! printer emits. Tests feed it serde's output (does each decoder accept what serde writes?) and
//! hand its output to serde (does serde accept what each encoder writes?), without an Elm
//! compiler. The golden files pin the printed text to these same constructs.
//!
//! Test machinery, not part of the library: `tests/elm_roundtrip.rs` includes it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use buildamp_codegen::elm::schema::{Absent, Body, Field, Repr, Schema, Shape, Ty};

/// An Elm value of a generated type.
#[derive(Clone, Debug, PartialEq)]
pub enum ElmValue {
    /// `String`.
    Str(String),
    /// `Char`.
    Char(char),
    /// `Bool`.
    Bool(bool),
    /// `Int`.
    Int(i64),
    /// `Float`.
    Float(f64),
    /// `Json.Encode.Value`.
    Json(Value),
    /// `()`.
    Unit,
    /// `Maybe a`.
    Maybe(Option<Box<ElmValue>>),
    /// `List a`.
    List(Vec<ElmValue>),
    /// `Dict String a`.
    Dict(BTreeMap<String, ElmValue>),
    /// A tuple.
    Tuple(Vec<ElmValue>),
    /// A record, by Elm field name.
    Record(BTreeMap<String, ElmValue>),
    /// A custom type's constructor and its arguments (a recursive struct's wrapper too).
    Ctor(String, Vec<ElmValue>),
}

type Decoded = Result<ElmValue, String>;

/// Runs the generated decoder of the model type `rust` on `json`.
///
/// # Errors
/// Where and why the Elm decoder would fail.
pub fn decode(schema: &Schema, rust: &str, json: &Value) -> Decoded {
    decode_ty(schema, &Ty::Named(rust.to_owned()), json)
}

/// Runs the generated encoder of the model type `rust` on `value`.
///
/// # Panics
/// When `value` is not a value of that Elm type (a bug in the test).
pub fn encode(schema: &Schema, rust: &str, value: &ElmValue) -> Value {
    encode_ty(schema, &Ty::Named(rust.to_owned()), value)
}

/// `Answer response error` in the module: what `decodeAnswer` makes of an execution's `status`.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// `NotAnswered`.
    NotAnswered,
    /// `Answered response`.
    Answered(ElmValue),
    /// `Unreadable why`.
    Unreadable(String),
    /// `Refused status (Maybe error)`.
    Refused(i64, Option<ElmValue>),
}

/// Runs the module's `decodeAnswer` (the answer of `decode<Webhook>Execution`) on an execution's
/// `status` object, with the decoders the generator passes it for `webhook`: its declared types',
/// or `Decode.null ()` for one it leaves out.
///
/// # Errors
/// Where and why the Elm decoder would fail.
pub fn answer(schema: &Schema, webhook: &str, status: &Value) -> Result<Answer, String> {
    let trigger = schema
        .triggers
        .iter()
        .find(|t| t.name == webhook)
        .ok_or_else(|| format!("no frontend webhook `{webhook}`"))?;
    let declared = |rust: &Option<String>| rust.clone().map_or(Ty::Unit, Ty::Named);
    let field = |json: &Value, key: &str| {
        json.get(key)
            .cloned()
            .ok_or_else(|| format!("expected a field `{key}` in {json}"))
    };
    let state = field(status, "state")?;
    if state == "sent" {
        let response = field(status, "response")?;
        // `optionalField "problem"`: absent or null is `Nothing`.
        return match response.get("problem") {
            Some(Value::String(why)) => Ok(Answer::Unreadable(why.clone())),
            Some(Value::Null) | None => decode_ty(
                schema,
                &declared(&trigger.response),
                &field(&response, "value")?,
            )
            .map(Answer::Answered),
            Some(other) => Err(format!("expected a string, got {other}")),
        };
    }
    match status.get("response") {
        None | Some(Value::Null) => Ok(Answer::NotAnswered),
        Some(response) => {
            let code = decode_ty(schema, &Ty::Int, &field(response, "status")?)?;
            let ElmValue::Int(code) = code else {
                unreachable!("Ty::Int decodes to an Int")
            };
            // `Decode.nullable decodeError`.
            let error = match field(response, "value")? {
                Value::Null => None,
                value => Some(decode_ty(schema, &declared(&trigger.error), &value)?),
            };
            Ok(Answer::Refused(code, error))
        }
    }
}

fn decode_ty(schema: &Schema, ty: &Ty, json: &Value) -> Decoded {
    let fail = |what: &str| Err(format!("expected {what}, got {json}"));
    match ty {
        Ty::String => json
            .as_str()
            .map(|s| ElmValue::Str(s.to_owned()))
            .map_or_else(|| fail("a string"), Ok),
        Ty::Char => {
            let mut chars = json.as_str().map(str::chars).into_iter().flatten();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(ElmValue::Char(c)),
                _ => fail("one character"),
            }
        }
        Ty::Bool => json
            .as_bool()
            .map_or_else(|| fail("a bool"), |b| Ok(ElmValue::Bool(b))),
        // Elm's `Decode.int` takes any JSON number with an integral value.
        Ty::Int => match json.as_f64() {
            Some(f) if f.fract() == 0.0 => Ok(ElmValue::Int(f as i64)),
            _ => fail("an integer"),
        },
        Ty::Float => json
            .as_f64()
            .map_or_else(|| fail("a number"), |f| Ok(ElmValue::Float(f))),
        Ty::Json => Ok(ElmValue::Json(json.clone())),
        Ty::Unit => match json {
            Value::Null => Ok(ElmValue::Unit),
            _ => fail("null"),
        },
        Ty::Option(t) => match json {
            Value::Null => Ok(ElmValue::Maybe(None)),
            _ => Ok(ElmValue::Maybe(Some(Box::new(decode_ty(schema, t, json)?)))),
        },
        Ty::List(t) => match json {
            Value::Array(items) => items
                .iter()
                .map(|i| decode_ty(schema, t, i))
                .collect::<Result<_, _>>()
                .map(ElmValue::List),
            _ => fail("an array"),
        },
        Ty::Dict(t) => match json {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), decode_ty(schema, t, v)?)))
                .collect::<Result<_, String>>()
                .map(ElmValue::Dict),
            _ => fail("an object"),
        },
        Ty::Tuple(ts) => {
            let items = json.as_array().map_or(&[][..], Vec::as_slice);
            ts.iter()
                .enumerate()
                .map(|(i, t)| match items.get(i) {
                    Some(item) => decode_ty(schema, t, item),
                    None => Err(format!("expected an array with index {i}, got {json}")),
                })
                .collect::<Result<_, _>>()
                .map(ElmValue::Tuple)
        }
        Ty::Named(n) => decode_decl(schema, n, json),
    }
}

fn field<'j>(json: &'j Value, key: &str) -> Option<&'j Value> {
    json.as_object().and_then(|o| o.get(key))
}

/// `Decode.succeed (\v1 .. -> { .. }) |> andMap ..`: the fields of a record from `json`.
fn decode_record(
    schema: &Schema,
    fields: &[Field],
    json: &Value,
) -> Result<BTreeMap<String, ElmValue>, String> {
    let mut out = BTreeMap::new();
    for f in fields {
        let value = if f.flatten {
            decode_ty(schema, &f.ty, json)?
        } else {
            let present = field(json, &f.decode_key);
            match (&f.absent, &f.ty, present) {
                // optionalField: absent is Nothing; present goes through Decode.nullable.
                (Absent::Nothing, Ty::Option(_), None) => ElmValue::Maybe(None),
                (Absent::Nothing, ty, Some(v)) => decode_ty(schema, ty, v)?,
                // fieldWithDefault: absent is the default.
                (Absent::Default(d), ty, None) => default_value(d, ty),
                (_, ty, Some(v)) => decode_ty(schema, ty, v)
                    .map_err(|e| format!("field `{}`: {e}", f.decode_key))?,
                (_, _, None) => {
                    return Err(format!("expected a field `{}` in {json}", f.decode_key));
                }
            }
        };
        out.insert(f.elm.clone(), value);
    }
    Ok(out)
}

fn default_value(literal: &str, ty: &Ty) -> ElmValue {
    match (literal, ty) {
        ("\"\"", _) => ElmValue::Str(String::new()),
        ("False", _) => ElmValue::Bool(false),
        ("0", Ty::Float) => ElmValue::Float(0.0),
        ("0", _) => ElmValue::Int(0),
        ("[]", _) => ElmValue::List(Vec::new()),
        ("Dict.empty", _) => ElmValue::Dict(BTreeMap::new()),
        (other, _) => panic!("no Elm default `{other}`"),
    }
}

fn decode_decl(schema: &Schema, rust: &str, json: &Value) -> Decoded {
    let decl = &schema.decls[rust];
    let wrap = |v: ElmValue| {
        if decl.recursive {
            ElmValue::Ctor(decl.elm.clone(), vec![v])
        } else {
            v
        }
    };
    match &decl.body {
        Body::Record(fields) => Ok(wrap(ElmValue::Record(decode_record(schema, fields, json)?))),
        Body::Newtype(t) => Ok(wrap(decode_ty(schema, t, json)?)),
        Body::Tuple(ts) => Ok(wrap(decode_ty(schema, &Ty::Tuple(ts.clone()), json)?)),
        Body::Unit => decode_ty(schema, &Ty::Unit, json),
        Body::Enum { repr, variants } => match repr {
            Repr::External => {
                // Decode.oneOf [ unit variants by string, then each `Decode.field "Name"` ].
                if let Some(tag) = json.as_str() {
                    return variants
                        .iter()
                        .find(|v| v.shape == Shape::Unit && v.decode_name == tag)
                        .map(|v| ElmValue::Ctor(v.ctor.clone(), vec![]))
                        .ok_or_else(|| format!("unknown {rust} variant: {tag}"));
                }
                for v in variants.iter().filter(|v| v.shape != Shape::Unit) {
                    if let Some(content) = field(json, &v.decode_name)
                        && let Ok(value) = decode_content(schema, &v.shape, &v.ctor, content)
                    {
                        return Ok(value);
                    }
                }
                Err(format!("no {rust} variant decodes {json}"))
            }
            Repr::Untagged => variants
                .iter()
                .find_map(|v| match &v.shape {
                    Shape::Unit => json
                        .is_null()
                        .then(|| ElmValue::Ctor(v.ctor.clone(), vec![])),
                    shape => decode_content(schema, shape, &v.ctor, json).ok(),
                })
                .ok_or_else(|| format!("no {rust} variant decodes {json}")),
            Repr::Internal { tag } | Repr::Adjacent { tag, .. } => {
                let name = field(json, tag)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("expected a string field `{tag}` in {json}"))?;
                let v = variants
                    .iter()
                    .find(|v| v.decode_name == name)
                    .ok_or_else(|| format!("unknown {rust} variant: {name}"))?;
                match (repr, &v.shape) {
                    (_, Shape::Unit) => Ok(ElmValue::Ctor(v.ctor.clone(), vec![])),
                    (Repr::Adjacent { content, .. }, shape) => {
                        let inner = field(json, content)
                            .ok_or_else(|| format!("expected a field `{content}` in {json}"))?;
                        decode_content(schema, shape, &v.ctor, inner)
                    }
                    (_, shape) => decode_content(schema, shape, &v.ctor, json),
                }
            }
        },
    }
}

/// A variant's fields alone, made into the variant.
fn decode_content(schema: &Schema, shape: &Shape, ctor: &str, json: &Value) -> Decoded {
    let args = match shape {
        Shape::Unit => vec![],
        Shape::Newtype(t) => vec![decode_ty(schema, t, json)?],
        Shape::Tuple(ts) => match decode_ty(schema, &Ty::Tuple(ts.clone()), json)? {
            ElmValue::Tuple(items) => items,
            _ => unreachable!(),
        },
        Shape::Record(fields) => vec![ElmValue::Record(decode_record(schema, fields, json)?)],
    };
    Ok(ElmValue::Ctor(ctor.to_owned(), args))
}

/// `Encode.float`: a JavaScript number, so `1.0` is written `1`.
fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        Value::from(f)
    }
}

fn encode_ty(schema: &Schema, ty: &Ty, value: &ElmValue) -> Value {
    match (ty, value) {
        (Ty::String, ElmValue::Str(s)) => Value::from(s.clone()),
        (Ty::Char, ElmValue::Char(c)) => Value::from(c.to_string()),
        (Ty::Bool, ElmValue::Bool(b)) => Value::from(*b),
        (Ty::Int, ElmValue::Int(i)) => Value::from(*i),
        (Ty::Float, ElmValue::Float(f)) => float(*f),
        (Ty::Json, ElmValue::Json(v)) => v.clone(),
        (Ty::Unit, ElmValue::Unit) => Value::Null,
        (Ty::Option(_), ElmValue::Maybe(None)) => Value::Null,
        (Ty::Option(t), ElmValue::Maybe(Some(v))) => encode_ty(schema, t, v),
        (Ty::List(t), ElmValue::List(items)) => {
            Value::Array(items.iter().map(|i| encode_ty(schema, t, i)).collect())
        }
        (Ty::Dict(t), ElmValue::Dict(map)) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), encode_ty(schema, t, v)))
                .collect(),
        ),
        (Ty::Tuple(ts), ElmValue::Tuple(items)) => Value::Array(
            ts.iter()
                .zip(items)
                .map(|(t, i)| encode_ty(schema, t, i))
                .collect(),
        ),
        (Ty::Named(n), v) => encode_decl(schema, n, v),
        (ty, v) => panic!("{v:?} is not a value of {ty:?}"),
    }
}

/// `xFields value`: the pairs an encoder writes for a record, flattened records' appended.
fn record_pairs(schema: &Schema, fields: &[Field], record: &ElmValue) -> Vec<(String, Value)> {
    let ElmValue::Record(values) = record else {
        panic!("{record:?} is not a record")
    };
    let mut pairs = Vec::new();
    let mut flattened = Vec::new();
    for f in fields {
        let value = &values[&f.elm];
        if f.flatten {
            let Ty::Named(n) = &f.ty else { continue };
            flattened.extend(decl_pairs(schema, n, value));
        } else if let Some(key) = &f.encode_key {
            pairs.push((key.clone(), encode_ty(schema, &f.ty, value)));
        }
    }
    pairs.extend(flattened);
    pairs
}

fn decl_pairs(schema: &Schema, rust: &str, value: &ElmValue) -> Vec<(String, Value)> {
    let decl = &schema.decls[rust];
    let Body::Record(fields) = &decl.body else {
        panic!("{rust} is not a record")
    };
    let record = match (decl.recursive, value) {
        (true, ElmValue::Ctor(_, args)) => &args[0],
        _ => value,
    };
    record_pairs(schema, fields, record)
}

/// `Encode.object pairs`: a later key replaces an earlier one, as in a JavaScript object.
fn object(pairs: Vec<(String, Value)>) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k, v);
    }
    Value::Object(map)
}

fn encode_decl(schema: &Schema, rust: &str, value: &ElmValue) -> Value {
    let decl = &schema.decls[rust];
    let inner = match (decl.recursive, value) {
        (true, ElmValue::Ctor(name, args)) if *name == decl.elm => &args[0],
        _ => value,
    };
    match &decl.body {
        Body::Record(_) => object(decl_pairs(schema, rust, value)),
        Body::Newtype(t) => encode_ty(schema, t, inner),
        Body::Tuple(ts) => encode_ty(schema, &Ty::Tuple(ts.clone()), inner),
        Body::Unit => Value::Null,
        Body::Enum { repr, variants } => {
            let ElmValue::Ctor(ctor, args) = value else {
                panic!("{value:?} is not a {rust}")
            };
            let v = variants
                .iter()
                .find(|v| v.ctor == *ctor)
                .unwrap_or_else(|| panic!("{ctor} is not a {rust} constructor"));
            let content = || -> Option<Value> {
                match &v.shape {
                    Shape::Unit => None,
                    Shape::Newtype(t) => Some(encode_ty(schema, t, &args[0])),
                    Shape::Tuple(ts) => Some(encode_ty(
                        schema,
                        &Ty::Tuple(ts.clone()),
                        &ElmValue::Tuple(args.clone()),
                    )),
                    Shape::Record(fields) => Some(object(record_pairs(schema, fields, &args[0]))),
                }
            };
            let name = Value::from(v.encode_name.clone());
            match repr {
                Repr::External => match content() {
                    None => name,
                    Some(c) => object(vec![(v.encode_name.clone(), c)]),
                },
                Repr::Untagged => content().unwrap_or(Value::Null),
                Repr::Adjacent { tag, content: key } => {
                    let mut pairs = vec![(tag.clone(), name)];
                    if let Some(c) = content() {
                        pairs.push((key.clone(), c));
                    }
                    object(pairs)
                }
                Repr::Internal { tag } => {
                    let mut pairs = vec![(tag.clone(), name)];
                    match &v.shape {
                        Shape::Unit => {}
                        Shape::Record(fields) => {
                            pairs.extend(record_pairs(schema, fields, &args[0]))
                        }
                        Shape::Newtype(Ty::Named(n)) => {
                            pairs.extend(decl_pairs(schema, n, &args[0]))
                        }
                        Shape::Newtype(_) | Shape::Tuple(_) => {
                            unreachable!("refused when the schema was built")
                        }
                    }
                    object(pairs)
                }
            }
        }
    }
}
