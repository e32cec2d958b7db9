//! Reads model files from disk: every `#[derive(BuildAmpWebhook)]` struct in them, through the same
//! parser the derive uses. This is how the code generator (and tests) see what the compiler sees.

use std::fmt;
use std::path::{Path, PathBuf};

use syn::{DeriveInput, Item};

use crate::ctxt::Ctxt;
use crate::ir::Webhook;
use crate::model;

/// A webhook read from a file, with where it came from.
#[derive(Clone, Debug)]
pub struct SourcedWebhook {
    /// The file that declares it.
    pub file: PathBuf,
    /// The checked model.
    pub webhook: Webhook,
}

/// Every problem found while reading model files, each with its place.
#[derive(Debug)]
pub struct ModelError {
    /// One entry a problem, in file order.
    pub problems: Vec<Problem>,
}

/// One problem in a model file.
#[derive(Debug)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                p.file.display(),
                p.line,
                p.column,
                p.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelError {}

/// Reads every `*.rs` file directly in `dir`, in name order, and returns their webhooks.
///
/// # Errors
/// Every unreadable file, syntax error and invalid model, all at once.
pub fn read_dir(dir: &Path) -> Result<Vec<SourcedWebhook>, ModelError> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect(),
        Err(e) => {
            return Err(ModelError {
                problems: vec![problem(
                    dir,
                    None,
                    format!("cannot read the models folder: {e}"),
                )],
            });
        }
    };
    files.sort();
    let mut webhooks = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match read_file(&file) {
            Ok(found) => webhooks.extend(found),
            Err(e) => problems.extend(e.problems),
        }
    }
    if problems.is_empty() {
        Ok(webhooks)
    } else {
        Err(ModelError { problems })
    }
}

/// Reads one model file and returns its webhooks, in declaration order.
///
/// # Errors
/// The file cannot be read or parsed, or a model in it is invalid.
pub fn read_file(file: &Path) -> Result<Vec<SourcedWebhook>, ModelError> {
    let source = std::fs::read_to_string(file).map_err(|e| ModelError {
        problems: vec![problem(file, None, format!("cannot read: {e}"))],
    })?;
    let syntax = syn::parse_file(&source).map_err(|e| errors(file, e))?;
    let mut webhooks = Vec::new();
    let mut problems = Vec::new();
    let mut items: Vec<&Item> = syntax.items.iter().collect();
    while let Some(item) = items.pop() {
        match item {
            Item::Mod(m) => items.extend(m.content.iter().flat_map(|(_, inner)| inner)),
            Item::Struct(s) if derives_webhook(&s.attrs) => {
                let input = DeriveInput::from(s.clone());
                match parse(&input) {
                    Ok(webhook) => webhooks.push(SourcedWebhook {
                        file: file.to_owned(),
                        webhook,
                    }),
                    Err(e) => problems.extend(errors(file, e).problems),
                }
            }
            _ => {}
        }
    }
    webhooks.reverse();
    if problems.is_empty() {
        Ok(webhooks)
    } else {
        Err(ModelError { problems })
    }
}

/// Parses and checks one derive input into the IR.
///
/// # Errors
/// Every problem in the input, combined into one `syn::Error` (iterate it for each one).
pub fn parse(input: &DeriveInput) -> Result<Webhook, syn::Error> {
    let cx = Ctxt::new();
    let webhook = model::webhook(&cx, input);
    cx.check()?;
    Ok(webhook.expect("a model without errors is always built"))
}

fn derives_webhook(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                found |= meta
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "BuildAmpWebhook");
                Ok(())
            });
            found
        })
}

fn errors(file: &Path, error: syn::Error) -> ModelError {
    ModelError {
        problems: error
            .into_iter()
            .map(|e| problem(file, Some(e.span().start()), e.to_string()))
            .collect(),
    }
}

fn problem(file: &Path, at: Option<proc_macro2::LineColumn>, message: String) -> Problem {
    Problem {
        file: file.to_owned(),
        line: at.map_or(0, |a| a.line),
        column: at.map_or(0, |a| a.column + 1),
        message,
    }
}
