//! The syntax of `#[target(...)]`: `key = value` entries, before any meaning is given to them.
//!
//! Entries are split at top-level commas and parsed one by one, so a syntax error in one entry
//! does not hide the errors in the others.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitBool, LitInt, LitStr, Token, braced, bracketed, parenthesized, token};

use crate::ctxt::Ctxt;

/// `key = value`.
pub(crate) struct Entry {
    pub(crate) key: Ident,
    pub(crate) value: Value,
    /// The value's tokens, for errors that span all of it.
    pub(crate) value_tokens: TokenStream,
}

/// A value in a `#[target]` entry.
pub(crate) enum Value {
    Str(LitStr),
    Bool(LitBool),
    Int(LitInt),
    /// `[a, b, c]`, with the span of the brackets.
    List(Vec<Value>, Span),
    /// `{ "Name" = "value", ... }`, with the span of the braces.
    Map(Vec<(LitStr, LitStr)>, Span),
    /// `env!(...)` or `if_env!(...)`.
    Macro {
        name: Ident,
        args: Vec<Value>,
    },
    /// A type, such as `StripePaymentIntentResponse` or `crate::stripe::Error`.
    Path(syn::Path),
}

impl Value {
    /// What the value is, for "expected X, found Y" messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::List(..) => "a list",
            Value::Map(..) => "a map",
            Value::Macro { .. } => "a macro",
            Value::Path(_) => "a type name",
        }
    }

    /// The narrowest span that covers the value (a macro: its name).
    pub(crate) fn span(&self) -> Span {
        match self {
            Value::Str(l) => l.span(),
            Value::Bool(l) => l.span,
            Value::Int(l) => l.span(),
            Value::Macro { name, .. } => name.span(),
            Value::List(_, span) | Value::Map(_, span) => *span,
            Value::Path(path) => syn::spanned::Spanned::span(path),
        }
    }
}

impl Parse for Value {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(LitStr) {
            input.parse().map(Value::Str)
        } else if lookahead.peek(LitBool) {
            input.parse().map(Value::Bool)
        } else if lookahead.peek(LitInt) {
            input.parse().map(Value::Int)
        } else if lookahead.peek(token::Bracket) {
            let content;
            let bracket = bracketed!(content in input);
            let items = Punctuated::<Value, Token![,]>::parse_terminated(&content)?;
            Ok(Value::List(
                items.into_iter().collect(),
                bracket.span.join(),
            ))
        } else if lookahead.peek(token::Brace) {
            let content;
            let brace = braced!(content in input);
            let pairs = Punctuated::<MapEntry, Token![,]>::parse_terminated(&content)?;
            Ok(Value::Map(
                pairs.into_iter().map(|e| (e.key, e.value)).collect(),
                brace.span.join(),
            ))
        } else if lookahead.peek(Ident) && input.peek2(Token![!]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![!]>()?;
            let content;
            parenthesized!(content in input);
            let args = Punctuated::<Value, Token![,]>::parse_terminated(&content)?;
            Ok(Value::Macro {
                name,
                args: args.into_iter().collect(),
            })
        } else if lookahead.peek(Ident)
            || lookahead.peek(Token![::])
            || lookahead.peek(Token![crate])
            || lookahead.peek(Token![self])
            || lookahead.peek(Token![super])
        {
            input.parse().map(Value::Path)
        } else {
            Err(lookahead.error())
        }
    }
}

struct MapEntry {
    key: LitStr,
    value: LitStr,
}

impl Parse for MapEntry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = input.parse()?;
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(MapEntry { key, value })
    }
}

/// The entries of one attribute.
pub(crate) struct Entries {
    /// The well-formed entries, in source order.
    pub(crate) entries: Vec<Entry>,
    /// Keys whose entry was malformed (already reported), so no "missing key" error follows.
    pub(crate) malformed_keys: Vec<String>,
}

/// Splits the attribute's tokens into entries, reporting each malformed entry and going on.
pub(crate) fn parse_entries(cx: &Ctxt, tokens: TokenStream) -> Entries {
    let mut entries = Vec::new();
    let mut malformed_keys = Vec::new();
    for chunk in split_top_level_commas(tokens) {
        let key = match chunk.first() {
            Some(TokenTree::Ident(key)) => Some(key.to_string()),
            _ => None,
        };
        match parse_entry(chunk) {
            Ok(entry) => entries.push(entry),
            Err(error) => {
                cx.syn_error(error);
                malformed_keys.extend(key);
            }
        }
    }
    Entries {
        entries,
        malformed_keys,
    }
}

fn parse_entry(chunk: Vec<TokenTree>) -> syn::Result<Entry> {
    let mut trees = chunk.into_iter();
    let key = match trees.next() {
        Some(TokenTree::Ident(ident)) => ident,
        Some(other) => {
            return Err(syn::Error::new(
                other.span(),
                "expected a key, like `url = \"https://...\"`",
            ));
        }
        None => unreachable!("empty chunks are dropped"),
    };
    match trees.next() {
        Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
        Some(other) => {
            return Err(syn::Error::new(
                other.span(),
                format!("expected `=` after `{key}`"),
            ));
        }
        None => {
            return Err(syn::Error::new(
                key.span(),
                format!("`{key}` needs a value: `{key} = ...`"),
            ));
        }
    }
    let value_tokens: TokenStream = trees.collect();
    if value_tokens.is_empty() {
        return Err(syn::Error::new(
            key.span(),
            format!("`{key}` needs a value after `=`"),
        ));
    }
    let value = syn::parse2::<Value>(value_tokens.clone())?;
    Ok(Entry {
        key,
        value,
        value_tokens,
    })
}

fn split_top_level_commas(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut chunks = vec![Vec::new()];
    for tree in tokens {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => chunks.push(Vec::new()),
            _ => chunks.last_mut().expect("never empty").push(tree),
        }
    }
    chunks.retain(|c| !c.is_empty());
    chunks
}
