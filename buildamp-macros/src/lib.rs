//! `#[derive(BuildAmpWebhook)]` and `#[derive(BuildAmpEvent)]`: thin shims over
//! [`buildamp_codegen::derive_webhook`] and [`buildamp_codegen::derive_event`], where the parsing,
//! checking and expansion live (and are unit-tested). Use it through the `buildamp` crate.

use proc_macro::TokenStream;

/// Derives `buildamp::Webhook` from a struct's `#[target(...)]`.
///
/// The target is checked at compile time, every mistake reported at once at its token. See the
/// `buildamp` crate for the keys `#[target(...)]` accepts.
#[proc_macro_derive(BuildAmpWebhook, attributes(target))]
pub fn derive_webhook(input: TokenStream) -> TokenStream {
    buildamp_codegen::derive_webhook(input.into()).into()
}

/// Derives `buildamp::Event` from a struct's `#[event(name = "lead.created", version = "1")]`.
///
/// The name is checked at compile time (dotted lowercase segments, not under `buildamp.`), every
/// mistake reported at once at its token; uniqueness across the program is checked when the
/// runtime starts.
#[proc_macro_derive(BuildAmpEvent, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    buildamp_codegen::derive_event(input.into()).into()
}
