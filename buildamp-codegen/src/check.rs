//! The rules of `#[target(...)]` that span several keys, as a pass of their own over what the
//! keys said ([`Keys`]), between parsing each key and building the IR (serde's
//! `internals/check.rs`, thiserror's `valid.rs`). Each problem is reported at the narrowest token.

use proc_macro2::Span;

use crate::ctxt::Ctxt;
use crate::ir::{Auth, BodyEncoding, Choice, Header, Method, RetryPolicy};
use crate::target::Keys;

/// Reports every cross-key problem of one target.
pub(crate) fn target(cx: &Ctxt, keys: &Keys<'_>) {
    body_and_method(cx, keys);
    form_lists(cx, keys);
    file_upload(cx, keys);
    retry_timing(cx, keys);
    check_header_names(
        cx,
        keys.headers,
        keys.auth,
        keys.idempotency_header,
        keys.encoding(),
    );
}

/// `file_upload` sends multipart, whatever `content_type` says; GET and DELETE send a query
/// string: they have no body to encode or upload.
fn body_and_method(cx: &Ctxt, keys: &Keys<'_>) {
    if keys.file_upload
        && let Some((encoding, span)) = keys.content_type
        && encoding != BodyEncoding::Multipart
    {
        cx.error_at(span, "`file_upload = true` sends `multipart/form-data`: remove `content_type` or set it to \"multipart/form-data\"");
    }
    if let Some(m) = keys.method.filter(|m| Method::sends_query(*m)) {
        for key in ["content_type", "file_upload"] {
            if let Some(e) = keys.get(key) {
                cx.error_at(
                    e.key.span(),
                    format!("`{}` sends the payload as a query string, so it has no body: remove `{key}`", m.as_str()),
                );
            }
        }
    }
}

/// `form_lists` says how a form body or a query string writes lists: a JSON or multipart body has
/// none.
fn form_lists(cx: &Ctxt, keys: &Keys<'_>) {
    let query = keys.method.is_some_and(Method::sends_query);
    if let Some(e) = keys.get("form_lists")
        && !query
        && keys.encoding() != BodyEncoding::Form
    {
        cx.error_at(
            e.key.span(),
            format!(
                "`form_lists` applies to a form body or a query string, but this body is sent as `{}`: set `content_type = \"application/x-www-form-urlencoded\"` or remove `form_lists`",
                keys.encoding().media_type()
            ),
        );
    }
}

/// `file_upload = true` needs the bytes of a file among the fields.
fn file_upload(cx: &Ctxt, keys: &Keys<'_>) {
    if keys.file_upload
        && let Some(fields) = keys.fields
        && !fields.iter().any(|f| f.is_file)
    {
        let span = keys
            .get("file_upload")
            .map_or_else(Span::call_site, |e| e.value.span());
        cx.error_at(
            span,
            "`file_upload = true` needs a `Vec<u8>` field holding the file's bytes",
        );
    }
}

/// One key sets the retry timing, and `retry_policy = "none"` makes one attempt.
fn retry_timing(cx: &Ctxt, keys: &Keys<'_>) {
    if let (Some(e), Some(_)) = (keys.get("backoff"), keys.get("retry_policy")) {
        cx.error_at(e.key.span(), "`backoff` and `retry_policy` both set the retry timing: keep one (`backoff = [\"4s\", \"8s\"]` alone is an explicit schedule)");
    }
    if let (Some(RetryPolicy::None), Some(n)) = (keys.policy, keys.max_attempts)
        && n > 1
    {
        let span = keys
            .get("max_attempts")
            .map_or_else(Span::call_site, |e| e.value.span());
        cx.error_at(span, format!("`retry_policy = \"none\"` makes one attempt, but `max_attempts = {n}`: remove one of them"));
    }
}

/// Header names must not collide with the ones `auth`, `idempotency_header` and the body set.
fn check_header_names(
    cx: &Ctxt,
    headers: &[(Header, Span)],
    auth: Option<&Choice<Auth>>,
    idempotency_header: Option<&str>,
    encoding: BodyEncoding,
) {
    let auth_headers: Vec<&str> = auth
        .map(|a| {
            a.values()
                .into_iter()
                .filter_map(|a| match a {
                    Auth::Header { name, .. } => Some(name.as_str()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    for (header, span) in headers {
        let name = header.name.as_str();
        if auth_headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            cx.error_at(
                *span,
                format!("`{name}` is already set by `auth`: remove it from `headers`"),
            );
        }
        if idempotency_header.is_some_and(|h| h.eq_ignore_ascii_case(name)) {
            cx.error_at(
                *span,
                format!(
                    "`{name}` is already set by `idempotency_header`: remove it from `headers`"
                ),
            );
        }
        if name.eq_ignore_ascii_case("content-type") {
            let value = header.value.source.as_str();
            if encoding == BodyEncoding::Multipart {
                cx.error_at(*span, "a multipart body's `Content-Type` carries its boundary and is set by the client: remove this header");
            } else if value != encoding.media_type() {
                cx.error_at(*span, format!(
                    "`Content-Type` says `{value}` but the body is sent as `{}`: set `content_type` instead of this header",
                    encoding.media_type()
                ));
            }
        }
    }
}
