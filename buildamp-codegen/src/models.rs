//! Reads model files from disk: every `#[derive(BuildAmpWebhook)]` struct in them, through the
//! same parser the derive uses (and the same front end, [`crate::source`], as the Elm generator).
//! This is how the code generator (and tests) see what the compiler sees.

use std::fmt;
use std::path::{Path, PathBuf};

use syn::DeriveInput;

use crate::ctxt::Ctxt;
use crate::ir::{EventType, Webhook};
pub use crate::source::Problem;
use crate::source::{self, ModelFile};
use crate::{event, model};

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

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            // The path and place only: the item is in the message's own words.
            let problem = Problem {
                item: String::new(),
                ..p.clone()
            };
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelError {}

/// Reads every model file under `dir` (as [`source::find`] finds them), in path order, and
/// returns their webhooks.
///
/// # Errors
/// Every unreadable file, syntax error and invalid model, all at once.
pub fn read_dir(dir: &Path) -> Result<Vec<SourcedWebhook>, ModelError> {
    let files = source::find(dir).map_err(|p| ModelError { problems: vec![p] })?;
    let mut webhooks = Vec::new();
    let mut problems = Vec::new();
    for (_, path) in files {
        match read_file(&path) {
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
    let parsed: ModelFile = source::read(&file.display().to_string(), file)
        .map_err(|problems| ModelError { problems })?;
    let (webhooks, problems) = parsed.webhooks();
    if !problems.is_empty() {
        return Err(ModelError { problems });
    }
    Ok(webhooks
        .into_iter()
        .map(|webhook| SourcedWebhook {
            file: file.to_owned(),
            webhook,
        })
        .collect())
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

/// Parses and checks one `#[derive(BuildAmpEvent)]` input into the IR.
///
/// # Errors
/// Every problem in the input, combined into one `syn::Error`.
pub fn parse_event(input: &DeriveInput) -> Result<EventType, syn::Error> {
    let cx = Ctxt::new();
    let event = event::event(&cx, input);
    cx.check()?;
    Ok(event.expect("an event type without errors is always built"))
}
