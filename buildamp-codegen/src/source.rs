//! The model compiler's one front end: where the model files are, their syntax, and the items
//! the derives mark. The derive's file reader ([`crate::models`]) and the Elm generator
//! ([`crate::elm`]) both read models through it, and report in its one problem type.

use std::fmt;
use std::path::{Path, PathBuf};

use syn::{DeriveInput, Item};

use crate::ir::{EventType, Webhook};

/// A problem found in the models, with where it is and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, as shown to the user (its path, or its path under the models folder).
    pub file: String,
    /// 1-based line, 0 when the problem has no one place.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// `Type` or `Type.field`, when the problem is about one.
    pub item: String,
    /// What is wrong and the fix.
    pub message: String,
}

impl Problem {
    /// A problem with `file` as a whole.
    pub fn in_file(file: &str, message: impl Into<String>) -> Self {
        Problem {
            file: file.to_owned(),
            line: 0,
            column: 0,
            item: String::new(),
            message: message.into(),
        }
    }

    /// A problem about `item` of `file`, with no one place.
    pub fn about(
        file: impl Into<String>,
        item: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            file: file.into(),
            line: 0,
            column: 0,
            item: item.into(),
            message: message.into(),
        }
    }

    /// A problem at the place `error` points to (one problem per error `syn` combined).
    fn at(file: &str, item: &str, error: syn::Error) -> Vec<Self> {
        error
            .into_iter()
            .map(|e| {
                let start = e.span().start();
                Problem {
                    file: file.to_owned(),
                    line: start.line,
                    column: start.column + 1,
                    item: item.to_owned(),
                    message: e.to_string(),
                }
            })
            .collect()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if !self.item.is_empty() {
            write!(f, "`{}`: ", self.item)?;
        }
        f.write_str(&self.message)
    }
}

/// One parsed model file.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// The file, as shown to the user.
    pub shown: String,
    /// Every struct and enum in it (inline modules included), in declaration order.
    pub items: Vec<DeriveInput>,
}

impl ModelFile {
    /// The `#[derive(BuildAmpWebhook)]` items, parsed and checked by the derive's own parser, in
    /// declaration order; and every problem in them, each at its place.
    pub fn webhooks(&self) -> (Vec<Webhook>, Vec<Problem>) {
        let mut webhooks = Vec::new();
        let mut problems = Vec::new();
        for input in self.items.iter().filter(|i| derives(i, "BuildAmpWebhook")) {
            match crate::models::parse(input) {
                Ok(webhook) => webhooks.push(webhook),
                Err(e) => problems.extend(Problem::at(&self.shown, &input.ident.to_string(), e)),
            }
        }
        (webhooks, problems)
    }

    /// The `#[derive(BuildAmpEvent)]` items, parsed and checked by the derive's own parser, in
    /// declaration order; and every problem in them, each at its place.
    pub fn events(&self) -> (Vec<EventType>, Vec<Problem>) {
        let mut events = Vec::new();
        let mut problems = Vec::new();
        for input in self.items.iter().filter(|i| derives(i, "BuildAmpEvent")) {
            match crate::models::parse_event(input) {
                Ok(event) => events.push(event),
                Err(e) => problems.extend(Problem::at(&self.shown, &input.ident.to_string(), e)),
            }
        }
        (events, problems)
    }
}

/// The model files under `models`, sorted, each with its path under `models` (with `/`): every
/// `*.rs`, in subfolders too, except under `tests/`, `examples/`, `benches/`, `target/` and
/// hidden folders.
///
/// # Errors
/// A folder cannot be read.
pub fn find(models: &Path) -> Result<Vec<(String, PathBuf)>, Problem> {
    let mut files = Vec::new();
    let mut dirs = vec![models.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Problem::in_file(
                &dir.display().to_string(),
                format!("cannot read the models folder: {e}"),
            )
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["tests", "examples", "benches", "target"].contains(&name.as_str())
                    && !name.starts_with('.')
                {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                let shown = path
                    .strip_prefix(models)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push((shown, path));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and parses the model file at `path`, shown as `shown`.
///
/// # Errors
/// The file cannot be read, or its syntax is not Rust (at the error's place).
pub fn read(shown: &str, path: &Path) -> Result<ModelFile, Vec<Problem>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![Problem::in_file(shown, format!("cannot read: {e}"))])?;
    let syntax = syn::parse_file(&text).map_err(|e| Problem::at(shown, "", e))?;
    let mut items = Vec::new();
    let mut stack: Vec<&Item> = syntax.items.iter().rev().collect();
    while let Some(item) = stack.pop() {
        match item {
            Item::Mod(m) => {
                stack.extend(m.content.iter().flat_map(|(_, inner)| inner.iter().rev()))
            }
            Item::Struct(s) => items.push(DeriveInput::from(s.clone())),
            Item::Enum(e) => items.push(DeriveInput::from(e.clone())),
            _ => {}
        }
    }
    Ok(ModelFile {
        shown: shown.to_owned(),
        items,
    })
}

/// Whether `input` derives `name` (by its last path segment: `serde::Serialize` counts).
pub fn derives(input: &DeriveInput, name: &str) -> bool {
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
