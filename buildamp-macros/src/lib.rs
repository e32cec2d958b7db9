//! `#[derive(BuildAmpWebhook)]`: a thin shim over [`buildamp_codegen::derive_webhook`], where the
//! parsing, checking and expansion live (and are unit-tested). Use it through the `buildamp` crate.

use proc_macro::TokenStream;

/// Derives `buildamp::Webhook` from a struct's `#[target(...)]`.
///
/// The target is checked at compile time, every mistake reported at once at its token. See the
/// `buildamp` crate for the keys `#[target(...)]` accepts.
#[proc_macro_derive(BuildAmpWebhook, attributes(target))]
pub fn derive_webhook(input: TokenStream) -> TokenStream {
    buildamp_codegen::derive_webhook(input.into()).into()
}
