//! The BuildAmp model compiler.
//!
//! It turns `#[derive(BuildAmpWebhook)] #[target(...)]` structs into one checked intermediate
//! representation ([`ir`]) and emits code from it. The derive macro (`buildamp-macros`) is a thin
//! shim over [`derive_webhook`]; the code generator reads model files with [`models::read_dir`].
//! Both go through the same parser, so they can never disagree about a model.
//!
//! # Layout
//! A pipeline, one module a stage:
//! - `attr`: the syntax of `#[target(...)]` (`key = value` entries), nothing more;
//! - `model`, `target`: give the entries meaning and check them: the input's shape, one function a
//!   key, then the rules spanning several keys (with `template`, `duration` for the values);
//! - [`ir`]: the result, in normalised values (`Method::Post`, `Duration`, parsed templates);
//! - `expand`: the Rust tokens of the derive;
//! - [`source`]: the one front end: finding model files, parsing them, finding what the derives
//!   mark, and the one problem type;
//! - `event`: `#[derive(BuildAmpEvent)]`'s attribute and name rules, giving [`ir::EventType`];
//! - [`models`]: the derive's model files as the IR (for tests and tools);
//! - [`elm`]: the Elm client module, generated from the model files;
//! - [`events`]: a JSON Schema per event type, from the same serde plan as the Elm module.
//!
//! Errors are collected in a context (`ctxt`) and reported all at once, each at the narrowest
//! token, lowercase, with keys in backticks and the fix in the message.

mod attr;
mod check;
mod ctxt;
mod duration;
pub mod elm;
mod event;
pub mod events;
mod expand;
pub mod ir;
mod model;
pub mod models;
mod serde_names;
pub mod source;
mod suggest;
mod target;
mod template;

use proc_macro2::TokenStream;

pub use event::{EVENT_KEYS, RESERVED_PREFIX};
pub use models::{parse, parse_event};
pub use target::{DEFAULT_TIMEOUT, KEYS};

/// Expands `#[derive(BuildAmpWebhook)]` on `input`.
///
/// On invalid input it returns every error at once, plus a fallback impl so that code using the
/// webhook does not add errors of its own.
pub fn derive_webhook(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    match parse(&input) {
        Ok(webhook) => expand::expand(&input, &webhook),
        Err(errors) => {
            let mut tokens = errors.to_compile_error();
            tokens.extend(expand::fallback(&input));
            tokens
        }
    }
}

/// Expands `#[derive(BuildAmpEvent)]` on `input`.
///
/// On invalid input it returns every error at once, plus a fallback impl so that code publishing
/// the event does not add errors of its own.
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    match parse_event(&input) {
        Ok(event) => expand::expand_event(&input, &event),
        Err(errors) => {
            let mut tokens = errors.to_compile_error();
            tokens.extend(expand::fallback_event(&input));
            tokens
        }
    }
}
