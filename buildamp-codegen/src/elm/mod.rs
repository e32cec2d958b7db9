//! The Elm client: `BuildAmp.Webhooks`, generated from the model files.
//!
//! [`generate`] reads a models folder (every `*.rs` under it, except `tests/`, `examples/`,
//! `benches/` and `target/`), resolves the types the frontend webhooks use by name across files,
//! applies serde's own attribute rules (`serde_derive_internals`, pinned exactly) and prints the
//! module. Call it from the `buildamp gen` CLI or from a `build.rs`.
//!
//! # Mapping rules
//! `String` → `String`; `char` → `Char` (a one-character string); `bool` → `Bool`; `i8`–`i32`,
//! `u8`–`u32` → `Int`; `f32`/`f64` → `Float`; `Option<T>` → `Maybe T` (absent or `null` decode to
//! `Nothing`; `Nothing` encodes as `null`); `Vec`, `VecDeque` and sets → `List`; maps keyed by
//! `String` → `Dict String`; tuples up to three → Elm tuples; `()` and unit structs → `()`
//! (`null`); newtype structs → their inner type; tuple structs → a tuple; `serde_json::Value` →
//! `Json.Encode.Value`; **`Vec<u8>` → `List Int`**, serde's own form for bytes (an array of
//! numbers 0–255). Structs become records (a webhook's as `<Name>Payload`), enums custom types
//! whose constructors are prefixed with the enum's name, in all four serde representations.
//! Field names become camelCase; Elm's reserved words get a trailing `_` (`type` → `type_`).
//! Types in a cycle become one-constructor custom types, decoded through `Decode.lazy`. A
//! `#[serde(other)]` variant is a constructor like the others: serde reads unknown tags into it
//! and writes it under its own name, the only name Elm then sees.
//!
//! A webhook whose target names its answer types (`#[target(response = R, error = E)]`) also gets
//! `<Name>Execution` (`TypedExecution R E`, `()` for a side it leaves out), its decoder
//! `decode<Name>Execution` and its getter `get<Name>Execution`; `R` and `E` are generated like
//! payload types, under the same rules and refusals.
//!
//! Refused, with the type, field and fix named: 64-bit and wider integers, maps not keyed by
//! `String`, `Option<Option<T>>`, tuples over three, generic types, `with`/`serialize_with`,
//! `transparent`/`from`/`into`, `flatten` of anything but a struct with named fields (or of a
//! recursive one), skipped or per-variant `untagged` variants, a field serde may leave out whose type has no
//! Elm default, and two types or constructors that would get the same Elm name.

mod render;
pub mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

pub use schema::{Refusal, Schema};

/// Where the module goes, relative to the output folder.
pub const MODULE_PATH: &str = "BuildAmp/Webhooks.elm";

/// Why nothing was generated: every problem, each naming its file and item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateError {
    /// The problems, sorted.
    pub problems: Vec<Refusal>,
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GenerateError {}

/// The model files under `models`, sorted, each with the name shown in the module's header
/// (its path relative to `models`, with `/`).
///
/// # Errors
/// The folder cannot be read.
pub fn model_files(models: &Path) -> Result<Vec<(String, PathBuf)>, GenerateError> {
    crate::source::find(models).map_err(|problem| GenerateError {
        problems: vec![problem],
    })
}

/// The schema of the frontend webhooks in `files` (`(shown name, path)`).
///
/// # Errors
/// Every refusal, all at once.
pub fn schema(files: &[(String, PathBuf)]) -> Result<Schema, GenerateError> {
    schema::build(files).map_err(|problems| GenerateError { problems })
}

/// The text of `BuildAmp/Webhooks.elm` for `files`.
///
/// # Errors
/// Every refusal, all at once.
pub fn generate_files(files: &[(String, PathBuf)]) -> Result<String, GenerateError> {
    Ok(render::module(&schema(files)?))
}

/// The text of `BuildAmp/Webhooks.elm` for the models folder `models`.
///
/// # Errors
/// Every refusal, all at once.
pub fn generate(models: &Path) -> Result<String, GenerateError> {
    generate_files(&model_files(models)?)
}

/// Generates into `out` (writing `out/BuildAmp/Webhooks.elm` only when its text changes, so
/// `elm make` and `build.rs` reruns stay quiet). Returns the file's path.
///
/// # Errors
/// Every refusal, or the file cannot be written.
pub fn write(models: &Path, out: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let text = generate(models)?;
    let path = out.join(MODULE_PATH);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    Ok(path)
}
