//! Prints the schema as Elm, through askama templates (`templates/elm`) bound to small view
//! models. Expressions are built here; layout lives in the templates. The output is what
//! `elm-format 0.8.8` would print (the golden tests run `elm-format --validate` on it).

use askama::Template;

use super::schema::{Absent, Body, Decl, Field, Repr, Schema, Shape, Trigger, Ty};

#[derive(Template)]
#[template(path = "elm/Webhooks.elm", escape = "none")]
struct ModuleView<'a> {
    sources: &'a [String],
    blocks: Vec<String>,
}

/// A top-level function: its annotation, arguments and body lines.
#[derive(Template)]
#[template(path = "elm/function.elm", escape = "none")]
struct FunctionView {
    name: String,
    signature: String,
    args: Vec<String>,
    body: Vec<String>,
}

/// `type alias Name = { field : Type, ... }` (or `empty` when there are no fields: `{}`, a type).
#[derive(Template)]
#[template(path = "elm/alias.elm", escape = "none")]
struct AliasView {
    name: String,
    fields: Vec<(String, String)>,
    empty: String,
}

/// `type Name = A args | B args`, the first constructor optionally followed by a record.
#[derive(Template)]
#[template(path = "elm/custom.elm", escape = "none")]
struct CustomView {
    name: String,
    constructors: Vec<(String, String)>,
    record_fields: Vec<(String, String)>,
}

fn render(template: &impl Template) -> String {
    template
        .render()
        .expect("templates render")
        .trim_end()
        .to_owned()
}

/// The whole module.
pub(crate) fn module(schema: &Schema) -> String {
    let printer = Printer { schema };
    let mut blocks = Vec::new();
    for name in &schema.order {
        let decl = &schema.decls[name];
        blocks.push(printer.type_decl(decl));
        blocks.extend(printer.encoder_decl(decl));
        blocks.extend(printer.decoder_decl(decl));
    }
    for t in &schema.triggers {
        let payload = &schema.decls[&t.name].elm;
        let name = &t.name;
        blocks.push(render(&FunctionView {
            name: format!("trigger{name}"),
            signature: format!("{payload} -> (Result Error Execution -> msg) -> Cmd msg"),
            args: vec![],
            body: vec![format!("trigger{name}With defaultConfig")],
        }));
        blocks.push(render(&FunctionView {
            name: format!("trigger{name}With"),
            signature: format!("Config -> {payload} -> (Result Error Execution -> msg) -> Cmd msg"),
            args: vec!["config".into(), "payload".into()],
            body: vec![format!(
                "trigger config \"{name}\" (encode{payload} payload)"
            )],
        }));
    }
    for t in &schema.triggers {
        blocks.extend(printer.typed_execution(t));
    }
    let mut text = ModuleView {
        sources: &schema.sources,
        blocks,
    }
    .render()
    .expect("the module template renders");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Wraps `s` in parentheses when it is not a single token (as an argument must be).
fn arg(s: &str) -> String {
    if is_atomic(s) {
        s.to_owned()
    } else {
        format!("({s})")
    }
}

fn is_atomic(s: &str) -> bool {
    if !s.contains(' ') {
        return true;
    }
    let (open, close) = match s.chars().next() {
        Some('(') => ('(', ')'),
        Some('[') => ('[', ']'),
        Some('{') => ('{', '}'),
        _ => return false,
    };
    // One group spanning the whole string.
    let mut depth = 0;
    let mut in_string = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i == s.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

/// A Rust string as an Elm string literal.
fn string(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:04X}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

struct Printer<'a> {
    schema: &'a Schema,
}

impl Printer<'_> {
    fn elm_name(&self, rust: &str) -> &str {
        &self.schema.decls[rust].elm
    }

    /// `<Name>Execution`, its decoder and its getter, for a webhook that declares the types of
    /// its answers (`()` for the one it leaves out).
    fn typed_execution(&self, t: &Trigger) -> Vec<String> {
        let Some(alias) = t.typed_execution() else {
            return vec![];
        };
        let name = &t.name;
        let side = |rust: &Option<String>| match rust {
            Some(r) => (
                self.elm_name(r).to_owned(),
                format!("decode{}", self.elm_name(r)),
            ),
            None => ("()".to_owned(), "(Decode.null ())".to_owned()),
        };
        let ((response, decode_response), (error, decode_error)) =
            (side(&t.response), side(&t.error));
        let described = |declared: &Option<String>, elm: &str, when: &str| match declared {
            Some(_) => format!("`{elm}` {when}"),
            None => format!("`()` {when} (no type is declared)"),
        };
        let doc = format!(
            "{{-| A `{name}` execution with the target's answer read: {}, {}.\n-}}",
            described(&t.response, &response, "when delivered"),
            described(&t.error, &error, "when refused"),
        );
        vec![
            format!(
                "{doc}\ntype alias {alias} =\n    TypedExecution {} {}",
                arg(&response),
                arg(&error)
            ),
            format!(
                "{{-| The execution `id` of a `{name}`, its answer read (`getExecutionAs decode{alias}` takes a `Config`).\n-}}\n{}",
                render(&FunctionView {
                    name: format!("get{alias}"),
                    signature: format!("ExecutionId -> (Result Error {alias} -> msg) -> Cmd msg"),
                    args: vec![],
                    body: vec![format!("getExecutionAs decode{alias} defaultConfig")],
                })
            ),
            render(&FunctionView {
                name: format!("decode{alias}"),
                signature: format!("Decode.Decoder {alias}"),
                args: vec![],
                body: vec![format!(
                    "decodeTypedExecution {decode_response} {decode_error}"
                )],
            }),
        ]
    }

    fn ty(&self, ty: &Ty) -> String {
        match ty {
            Ty::String => "String".into(),
            Ty::Char => "Char".into(),
            Ty::Bool => "Bool".into(),
            Ty::Int => "Int".into(),
            Ty::Float => "Float".into(),
            Ty::Json => "Encode.Value".into(),
            Ty::Unit => "()".into(),
            Ty::Option(t) => format!("Maybe {}", arg(&self.ty(t))),
            Ty::List(t) => format!("List {}", arg(&self.ty(t))),
            Ty::Dict(t) => format!("Dict String {}", arg(&self.ty(t))),
            Ty::Tuple(ts) => format!(
                "( {} )",
                ts.iter().map(|t| self.ty(t)).collect::<Vec<_>>().join(", ")
            ),
            Ty::Named(n) => self.elm_name(n).to_owned(),
        }
    }

    /// An expression of type `a -> Encode.Value`.
    fn encoder(&self, ty: &Ty) -> String {
        match ty {
            Ty::String => "Encode.string".into(),
            Ty::Char => "encodeChar".into(),
            Ty::Bool => "Encode.bool".into(),
            Ty::Int => "Encode.int".into(),
            Ty::Float => "Encode.float".into(),
            Ty::Json => "identity".into(),
            Ty::Unit => "encodeUnit".into(),
            Ty::Option(t) => format!("encodeMaybe {}", arg(&self.encoder(t))),
            Ty::List(t) => format!("Encode.list {}", arg(&self.encoder(t))),
            Ty::Dict(t) => format!("Encode.dict identity {}", arg(&self.encoder(t))),
            Ty::Tuple(ts) => format!(
                "encodeTuple{} {}",
                ts.len(),
                ts.iter()
                    .map(|t| arg(&self.encoder(t)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Ty::Named(n) => format!("encode{}", self.elm_name(n)),
        }
    }

    /// An expression of type `Decode.Decoder a`; `within` is the declaration being decoded, so
    /// references into its own cycle go through `Decode.lazy`.
    fn decoder(&self, ty: &Ty, within: &str) -> String {
        match ty {
            Ty::String => "Decode.string".into(),
            Ty::Char => "decodeChar".into(),
            Ty::Bool => "Decode.bool".into(),
            Ty::Int => "Decode.int".into(),
            Ty::Float => "Decode.float".into(),
            Ty::Json => "Decode.value".into(),
            Ty::Unit => "Decode.null ()".into(),
            Ty::Option(t) => format!("Decode.nullable {}", arg(&self.decoder(t, within))),
            Ty::List(t) => format!("Decode.list {}", arg(&self.decoder(t, within))),
            Ty::Dict(t) => format!("Decode.dict {}", arg(&self.decoder(t, within))),
            Ty::Tuple(ts) => format!(
                "decodeTuple{} {}",
                ts.len(),
                ts.iter()
                    .map(|t| arg(&self.decoder(t, within)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Ty::Named(n) => {
                let name = format!("decode{}", self.elm_name(n));
                let cycle = &self.schema.cycle_of;
                if cycle.contains_key(n) && cycle.get(n) == cycle.get(within) {
                    format!("Decode.lazy (\\_ -> {name})")
                } else {
                    name
                }
            }
        }
    }

    fn record_type(&self, fields: &[Field]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|f| (f.elm.clone(), self.ty(&f.ty)))
            .collect()
    }

    fn inline_record(&self, fields: &[Field]) -> String {
        if fields.is_empty() {
            return "{}".into();
        }
        let inner: Vec<String> = self
            .record_type(fields)
            .into_iter()
            .map(|(n, t)| format!("{n} : {t}"))
            .collect();
        format!("{{ {} }}", inner.join(", "))
    }

    fn type_decl(&self, decl: &Decl) -> String {
        let name = decl.elm.clone();
        let wrapper = |args: String| {
            render(&CustomView {
                name: name.clone(),
                constructors: vec![(name.clone(), args)],
                record_fields: vec![],
            })
        };
        match &decl.body {
            Body::Record(fields) if decl.recursive => render(&CustomView {
                name: name.clone(),
                constructors: vec![(
                    name.clone(),
                    if fields.is_empty() {
                        "{}".into()
                    } else {
                        String::new()
                    },
                )],
                record_fields: self.record_type(fields),
            }),
            Body::Record(fields) => render(&AliasView {
                name,
                fields: self.record_type(fields),
                empty: "{}".into(),
            }),
            Body::Newtype(t) if decl.recursive => wrapper(arg(&self.ty(t))),
            Body::Tuple(_) if decl.recursive => wrapper(arg(&self.ty(&tuple_ty(&decl.body)))),
            Body::Newtype(t) => render(&AliasView {
                name,
                fields: vec![],
                empty: self.ty(t),
            }),
            Body::Tuple(_) => render(&AliasView {
                name,
                fields: vec![],
                empty: self.ty(&tuple_ty(&decl.body)),
            }),
            Body::Unit => render(&AliasView {
                name,
                fields: vec![],
                empty: "()".into(),
            }),
            Body::Enum { variants, .. } => render(&CustomView {
                name,
                constructors: variants
                    .iter()
                    .map(|v| {
                        let args = match &v.shape {
                            Shape::Unit => String::new(),
                            Shape::Newtype(t) => arg(&self.ty(t)),
                            Shape::Tuple(ts) => ts
                                .iter()
                                .map(|t| arg(&self.ty(t)))
                                .collect::<Vec<_>>()
                                .join(" "),
                            Shape::Record(fields) => self.inline_record(fields),
                        };
                        (v.ctor.clone(), args)
                    })
                    .collect(),
                record_fields: vec![],
            }),
        }
    }

    /// `( "key", encoder value.field )` for each field serde reads, and `++ xFields value.f`
    /// for flattened ones. `owner` is the expression holding the record.
    fn field_pairs(&self, fields: &[Field], owner: &str) -> (Vec<String>, Vec<String>) {
        let mut pairs = Vec::new();
        let mut flattened = Vec::new();
        for f in fields {
            let value = format!("{owner}.{}", f.elm);
            if f.flatten {
                if let Ty::Named(n) = &f.ty {
                    flattened.push(format!("{}Fields {value}", lower_first(self.elm_name(n))));
                }
                continue;
            }
            if let Some(key) = &f.encode_key {
                pairs.push(format!(
                    "( {}, {} {value} )",
                    string(key),
                    self.encoder(&f.ty)
                ));
            }
        }
        (pairs, flattened)
    }

    fn encoder_decl(&self, decl: &Decl) -> Vec<String> {
        let elm = &decl.elm;
        let signature = format!("{elm} -> Encode.Value");
        let pattern = if decl.recursive {
            format!("({elm} value)")
        } else {
            "value".into()
        };
        let function = |args: Vec<String>, body: Vec<String>| {
            render(&FunctionView {
                name: format!("encode{elm}"),
                signature: signature.clone(),
                args,
                body,
            })
        };
        match &decl.body {
            Body::Record(fields) => {
                let fields_fn = format!("{}Fields", lower_first(elm));
                let (pairs, flattened) = self.field_pairs(fields, "value");
                let mut body = list_lines(&pairs);
                body.extend(flattened.iter().map(|f| format!("    ++ {f}")));
                vec![
                    function(
                        vec!["value".into()],
                        vec![format!("Encode.object ({fields_fn} value)")],
                    ),
                    render(&FunctionView {
                        name: fields_fn,
                        signature: format!("{elm} -> List ( String, Encode.Value )"),
                        args: vec![pattern],
                        body,
                    }),
                ]
            }
            Body::Newtype(t) => vec![function(
                vec![pattern],
                vec![format!("{} value", self.encoder(t))],
            )],
            Body::Tuple(_) => vec![function(
                vec![pattern],
                vec![format!("{} value", self.encoder(&tuple_ty(&decl.body)))],
            )],
            Body::Unit => vec![function(vec!["_".into()], vec!["Encode.null".into()])],
            Body::Enum { repr, variants } => {
                let mut body = vec!["case value of".to_owned()];
                for (i, v) in variants.iter().enumerate() {
                    if i > 0 {
                        body.push(String::new());
                    }
                    let args: Vec<String> = match &v.shape {
                        Shape::Unit => vec![],
                        Shape::Newtype(_) | Shape::Record(_) => vec!["v1".into()],
                        Shape::Tuple(ts) => (1..=ts.len()).map(|i| format!("v{i}")).collect(),
                    };
                    let head = std::iter::once(v.ctor.clone())
                        .chain(args)
                        .collect::<Vec<_>>()
                        .join(" ");
                    body.push(format!("    {head} ->"));
                    body.push(format!("        {}", self.variant_encoder(repr, v)));
                }
                vec![function(vec!["value".into()], body)]
            }
        }
    }

    /// The JSON of a variant's fields alone (`None` for a unit variant).
    fn content(&self, shape: &Shape) -> Option<String> {
        match shape {
            Shape::Unit => None,
            Shape::Newtype(t) => Some(format!("{} v1", self.encoder(t))),
            Shape::Tuple(ts) => Some(format!(
                "Encode.list identity [ {} ]",
                ts.iter()
                    .enumerate()
                    .map(|(i, t)| format!("{} v{}", self.encoder(t), i + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Shape::Record(fields) => {
                let (pairs, _) = self.field_pairs(fields, "v1");
                Some(format!("Encode.object {}", inline_list(&pairs)))
            }
        }
    }

    fn variant_encoder(&self, repr: &Repr, v: &super::schema::Variant) -> String {
        let name = string(&v.encode_name);
        match repr {
            Repr::External => match self.content(&v.shape) {
                None => format!("Encode.string {name}"),
                Some(c) => format!("Encode.object [ ( {name}, {c} ) ]"),
            },
            Repr::Untagged => self.content(&v.shape).unwrap_or("Encode.null".into()),
            Repr::Adjacent { tag, content } => {
                let tag = format!("( {}, Encode.string {name} )", string(tag));
                match self.content(&v.shape) {
                    None => format!("Encode.object [ {tag} ]"),
                    Some(c) => format!("Encode.object [ {tag}, ( {}, {c} ) ]", string(content)),
                }
            }
            Repr::Internal { tag } => {
                let tag = format!("( {}, Encode.string {name} )", string(tag));
                match &v.shape {
                    Shape::Unit => format!("Encode.object [ {tag} ]"),
                    Shape::Record(fields) => {
                        let (pairs, _) = self.field_pairs(fields, "v1");
                        let all: Vec<String> = std::iter::once(tag).chain(pairs).collect();
                        format!("Encode.object {}", inline_list(&all))
                    }
                    Shape::Newtype(Ty::Named(n)) => format!(
                        "Encode.object ({tag} :: {}Fields v1)",
                        lower_first(self.elm_name(n))
                    ),
                    // Refused when the schema was built.
                    Shape::Newtype(_) | Shape::Tuple(_) => "Encode.null".into(),
                }
            }
        }
    }

    /// `Decode.succeed (\v1 v2 -> make { a = v1, b = v2 }) |> andMap (...) ...`, as pipeline
    /// parts (the first is the start).
    fn record_decoder(&self, fields: &[Field], make: &str, within: &str) -> Vec<String> {
        if fields.is_empty() {
            let value = if make.is_empty() {
                "{}".to_owned()
            } else {
                format!("({make} {{}})")
            };
            return vec![format!("Decode.succeed {value}")];
        }
        let vars: Vec<String> = (1..=fields.len()).map(|i| format!("v{i}")).collect();
        let assigns: Vec<String> = fields
            .iter()
            .zip(&vars)
            .map(|(f, v)| format!("{} = {v}", f.elm))
            .collect();
        let record = format!("{{ {} }}", assigns.join(", "));
        let body = if make.is_empty() {
            record
        } else {
            format!("{make} {record}")
        };
        let mut parts = vec![format!("Decode.succeed (\\{} -> {body})", vars.join(" "))];
        for f in fields {
            let part = if f.flatten {
                match &f.ty {
                    Ty::Named(n) => format!("decode{}", self.elm_name(n)),
                    _ => continue,
                }
            } else {
                let key = string(&f.decode_key);
                match (&f.absent, &f.ty) {
                    (Absent::Nothing, Ty::Option(inner)) => {
                        format!("optionalField {key} {}", arg(&self.decoder(inner, within)))
                    }
                    (Absent::Default(default), ty) => format!(
                        "fieldWithDefault {key} {default} {}",
                        arg(&self.decoder(ty, within))
                    ),
                    (_, ty) => format!("Decode.field {key} {}", arg(&self.decoder(ty, within))),
                }
            };
            parts.push(format!("|> andMap {}", arg(&part)));
        }
        parts
    }

    /// A decoder for a variant's fields alone, making the variant.
    fn content_decoder(&self, v: &super::schema::Variant, within: &str) -> String {
        match &v.shape {
            Shape::Unit => format!("Decode.succeed {}", v.ctor),
            Shape::Newtype(t) => format!("Decode.map {} {}", v.ctor, arg(&self.decoder(t, within))),
            Shape::Tuple(ts) => {
                let mut parts = vec![format!("Decode.succeed {}", v.ctor)];
                for (i, t) in ts.iter().enumerate() {
                    parts.push(format!(
                        "|> andMap (Decode.index {i} {})",
                        arg(&self.decoder(t, within))
                    ));
                }
                parts.join(" ")
            }
            Shape::Record(fields) => self.record_decoder(fields, &v.ctor, within).join(" "),
        }
    }

    fn decoder_decl(&self, decl: &Decl) -> Vec<String> {
        let elm = &decl.elm;
        let within = decl.rust.as_str();
        let function = |body: Vec<String>| {
            render(&FunctionView {
                name: format!("decode{elm}"),
                signature: format!("Decode.Decoder {elm}"),
                args: vec![],
                body,
            })
        };
        let wrap = |inner: String| {
            if decl.recursive {
                format!("Decode.map {elm} {}", arg(&inner))
            } else {
                inner
            }
        };
        match &decl.body {
            Body::Record(fields) => {
                let make = if decl.recursive { elm.as_str() } else { "" };
                let parts = self.record_decoder(fields, make, within);
                let mut body = vec![parts[0].clone()];
                body.extend(parts[1..].iter().map(|p| format!("    {p}")));
                vec![function(body)]
            }
            Body::Newtype(t) => vec![function(vec![wrap(self.decoder(t, within))])],
            Body::Tuple(_) => vec![function(vec![wrap(
                self.decoder(&tuple_ty(&decl.body), within),
            )])],
            Body::Unit => vec![function(vec!["Decode.null ()".into()])],
            Body::Enum { repr, variants } => {
                let from_tag = format!("{}FromTag", lower_first(elm));
                let tag_function = |branches: Vec<(String, String)>| {
                    let mut body = vec!["case tag of".to_owned()];
                    for (name, decoder) in branches {
                        body.push(format!("    {} ->", string(&name)));
                        body.push(format!("        {decoder}"));
                        body.push(String::new());
                    }
                    body.push("    _ ->".into());
                    body.push(format!(
                        "        Decode.fail (\"unknown {} variant: \" ++ tag)",
                        decl.rust
                    ));
                    render(&FunctionView {
                        name: from_tag.clone(),
                        signature: format!("String -> Decode.Decoder {elm}"),
                        args: vec!["tag".into()],
                        body,
                    })
                };
                match repr {
                    Repr::External => {
                        let units: Vec<(String, String)> = variants
                            .iter()
                            .filter(|v| v.shape == Shape::Unit)
                            .map(|v| (v.decode_name.clone(), format!("Decode.succeed {}", v.ctor)))
                            .collect();
                        let mut alternatives = Vec::new();
                        if !units.is_empty() {
                            alternatives
                                .push(format!("Decode.string |> Decode.andThen {from_tag}"));
                        }
                        for v in variants.iter().filter(|v| v.shape != Shape::Unit) {
                            alternatives.push(format!(
                                "Decode.field {} ({})",
                                string(&v.decode_name),
                                self.content_decoder(v, within)
                            ));
                        }
                        let mut body = vec!["Decode.oneOf".to_owned()];
                        body.extend(
                            list_lines(&alternatives)
                                .into_iter()
                                .map(|l| format!("    {l}")),
                        );
                        let mut out = vec![function(body)];
                        if !units.is_empty() {
                            out.push(tag_function(units));
                        }
                        out
                    }
                    Repr::Untagged => {
                        let alternatives: Vec<String> = variants
                            .iter()
                            .map(|v| match &v.shape {
                                Shape::Unit => format!("Decode.null {}", v.ctor),
                                _ => self.content_decoder(v, within),
                            })
                            .collect();
                        let mut body = vec!["Decode.oneOf".to_owned()];
                        body.extend(
                            list_lines(&alternatives)
                                .into_iter()
                                .map(|l| format!("    {l}")),
                        );
                        vec![function(body)]
                    }
                    Repr::Internal { tag } | Repr::Adjacent { tag, .. } => {
                        let branches = variants
                            .iter()
                            .map(|v| {
                                let decoder = match (repr, &v.shape) {
                                    (_, Shape::Unit) => format!("Decode.succeed {}", v.ctor),
                                    (Repr::Adjacent { content, .. }, _) => format!(
                                        "Decode.field {} ({})",
                                        string(content),
                                        self.content_decoder(v, within)
                                    ),
                                    (_, Shape::Newtype(Ty::Named(n))) => {
                                        format!("Decode.map {} decode{}", v.ctor, self.elm_name(n))
                                    }
                                    _ => self.content_decoder(v, within),
                                };
                                (v.decode_name.clone(), decoder)
                            })
                            .collect();
                        vec![
                            function(vec![format!(
                                "Decode.field {} Decode.string |> Decode.andThen {from_tag}",
                                string(tag)
                            )]),
                            tag_function(branches),
                        ]
                    }
                }
            }
        }
    }
}

fn tuple_ty(body: &Body) -> Ty {
    match body {
        Body::Tuple(ts) => Ty::Tuple(ts.clone()),
        _ => Ty::Unit,
    }
}

/// `[ a, b ]` on one line.
fn inline_list(items: &[String]) -> String {
    if items.is_empty() {
        "[]".into()
    } else {
        format!("[ {} ]", items.join(", "))
    }
}

/// A list one item a line, as elm-format lays out a multi-line list.
fn list_lines(items: &[String]) -> Vec<String> {
    if items.is_empty() {
        return vec!["[]".into()];
    }
    let mut lines: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, item)| format!("{} {item}", if i == 0 { "[" } else { "," }))
        .collect();
    lines.push("]".into());
    lines
}
