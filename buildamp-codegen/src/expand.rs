//! The Rust expansion of `#[derive(BuildAmpWebhook)]`: the `Webhook` impl, its static target and
//! its registration. Everything is named by absolute path through `::buildamp::__private`, inside
//! `const _: () = { ... };`, so the expansion compiles in a crate that imports nothing else.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::ir::{
    Auth, BodyEncoding, Choice, Exposure, ExternalId, FormLists, Method, Part, RetryPolicy, Target,
    Template, UrlSource, Webhook,
};

/// Expands a checked webhook.
pub(crate) fn expand(input: &DeriveInput, webhook: &Webhook) -> TokenStream {
    let ident = &input.ident;
    let name = &webhook.name;
    let target = target(&webhook.target, &webhook.file_fields());
    let no_response = quote!(::buildamp::NoResponse);
    let response = webhook
        .target
        .response
        .as_ref()
        .map_or(no_response.clone(), |p| quote!(#p));
    let error = webhook
        .target
        .error
        .as_ref()
        .map_or(no_response, |p| quote!(#p));
    // The impl header carries the struct's span, so a missing `Serialize`/`Deserialize` is reported
    // at the struct rather than at the derive.
    let impl_header = quote_spanned!(ident.span()=> impl ::buildamp::Webhook for #ident);
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            #impl_header {
                const NAME: &'static str = #name;
                type Response = #response;
                type Error = #error;

                fn target() -> &'static ::buildamp::__private::target::Target {
                    static TARGET: ::buildamp::__private::target::Target = #target;
                    &TARGET
                }
            }

            ::buildamp::__private::inventory::submit! {
                ::buildamp::__private::Registration::of::<#ident>()
            }
        };
    }
}

/// What is emitted beside the errors of an invalid model: an impl whose target is never reached,
/// so code that uses the webhook does not add a cascade of "not implemented" errors.
pub(crate) fn fallback(input: &DeriveInput) -> TokenStream {
    if !input.generics.params.is_empty() || !matches!(input.data, syn::Data::Struct(_)) {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let name = ident.to_string();
    quote! {
        const _: () = {
            impl ::buildamp::Webhook for #ident {
                const NAME: &'static str = #name;
                type Response = ::buildamp::NoResponse;
                type Error = ::buildamp::NoResponse;

                fn target() -> &'static ::buildamp::__private::target::Target {
                    ::core::unreachable!("`#[derive(BuildAmpWebhook)]` reported errors")
                }
            }
        };
    }
}

fn target(t: &Target, file_fields: &[&str]) -> TokenStream {
    let url = choice(&t.url, |u| match u {
        UrlSource::Template(tpl) => {
            let tpl = template(tpl);
            quote!(::buildamp::__private::target::UrlSource::Template(#tpl))
        }
        UrlSource::Env(var) => quote!(::buildamp::__private::target::UrlSource::Env(#var)),
    });
    let method = match t.method {
        Method::Get => quote!(Get),
        Method::Post => quote!(Post),
        Method::Put => quote!(Put),
        Method::Patch => quote!(Patch),
        Method::Delete => quote!(Delete),
    };
    let auth = choice(&t.auth, auth);
    let headers = t.headers.iter().map(|h| {
        let name = &h.name;
        let value = template(&h.value);
        quote!(::buildamp::__private::target::Header { name: #name, value: #value })
    });
    let encoding = match t.encoding {
        BodyEncoding::Json => quote!(Json),
        BodyEncoding::Form => quote!(Form),
        BodyEncoding::Multipart => quote!(Multipart),
    };
    let form_lists = match t.form_lists {
        FormLists::Brackets => quote!(Brackets),
        FormLists::Repeat => quote!(Repeat),
    };
    let timeout = duration(t.timeout);
    let retry = retry(&t.retry);
    // The default budget is the runtime's, defined once there.
    let max_attempts = match t.max_attempts {
        Some(n) => quote!(#n),
        None => quote!(::buildamp::__private::DEFAULT_MAX_ATTEMPTS),
    };
    let retry_on = &t.retry_on;
    let max_concurrency = option(t.max_concurrency.map(|n| quote!(#n)));
    let rate_limit = option(t.rate_limit.map(|r| {
        let count = r.count;
        let per = duration(r.per);
        quote!(::buildamp::__private::target::RateLimit { count: #count, per: #per })
    }));
    let idempotency_header = option(t.idempotency_header.as_ref().map(|h| quote!(#h)));
    let external_id = option(t.external_id.as_ref().map(|e| match e {
        ExternalId::Json(p) => quote!(::buildamp::__private::target::ExternalId::Json(#p)),
        ExternalId::Header(h) => quote!(::buildamp::__private::target::ExternalId::Header(#h)),
    }));
    let server_only = t.exposure == Exposure::ServerOnly;
    let read = |path: &syn::Path| {
        let name = quote!(#path).to_string().replace(' ', "");
        quote!(::buildamp::__private::target::ResponseType {
            name: #name,
            read: ::buildamp::__private::target::read_as::<#path>,
        })
    };
    let error = option(t.error.as_ref().map(read));
    let response = option(t.response.as_ref().map(read));
    quote! {
        ::buildamp::__private::target::Target {
            url: #url,
            method: ::buildamp::__private::target::Method::#method,
            auth: #auth,
            headers: &[#(#headers),*],
            encoding: ::buildamp::__private::target::BodyEncoding::#encoding,
            form_lists: ::buildamp::__private::target::FormLists::#form_lists,
            file_fields: &[#(#file_fields),*],
            timeout: #timeout,
            retry: #retry,
            max_attempts: #max_attempts,
            retry_on: &[#(#retry_on),*],
            max_concurrency: #max_concurrency,
            rate_limit: #rate_limit,
            idempotency_header: #idempotency_header,
            external_id: #external_id,
            server_only: #server_only,
            response: #response,
            error: #error,
        }
    }
}

fn choice<T>(c: &Choice<T>, each: impl Fn(&T) -> TokenStream) -> TokenStream {
    match c {
        Choice::Fixed(v) => {
            let v = each(v);
            quote!(::buildamp::__private::target::Choice::Fixed(#v))
        }
        Choice::IfEnv {
            var,
            when_set,
            otherwise,
        } => {
            let (when_set, otherwise) = (each(when_set), each(otherwise));
            quote!(::buildamp::__private::target::Choice::IfEnv {
                var: #var,
                when_set: #when_set,
                otherwise: #otherwise,
            })
        }
    }
}

fn auth(a: &Auth) -> TokenStream {
    match a {
        Auth::None => quote!(::buildamp::__private::target::Auth::None),
        Auth::Bearer(t) => {
            let t = template(t);
            quote!(::buildamp::__private::target::Auth::Bearer(#t))
        }
        Auth::Basic(t) => {
            let t = template(t);
            quote!(::buildamp::__private::target::Auth::Basic(#t))
        }
        Auth::Header { name, value } => {
            let value = template(value);
            quote!(::buildamp::__private::target::Auth::Header { name: #name, value: #value })
        }
    }
}

fn template(t: &Template) -> TokenStream {
    let source = &t.source;
    let parts = t.parts.iter().map(|p| match p {
        Part::Literal(s) => quote!(::buildamp::__private::target::Part::Literal(#s)),
        Part::Var(v) => quote!(::buildamp::__private::target::Part::Var(#v)),
    });
    quote!(::buildamp::__private::target::Template { source: #source, parts: &[#(#parts),*] })
}

fn retry(r: &RetryPolicy) -> TokenStream {
    match r {
        RetryPolicy::Exponential {
            initial,
            multiplier,
            max,
        } => {
            let (initial, max) = (duration(*initial), duration(*max));
            quote!(::buildamp::__private::target::RetryPolicy::Exponential {
                initial: #initial,
                multiplier: #multiplier,
                max: #max,
            })
        }
        RetryPolicy::Fixed(d) => {
            let d = duration(*d);
            quote!(::buildamp::__private::target::RetryPolicy::Fixed(#d))
        }
        RetryPolicy::Schedule(delays) => {
            let delays = delays.iter().map(|d| duration(*d));
            quote!(::buildamp::__private::target::RetryPolicy::Schedule(::std::borrow::Cow::Borrowed(&[#(#delays),*])))
        }
        RetryPolicy::None => quote!(::buildamp::__private::target::RetryPolicy::None),
    }
}

fn duration(d: std::time::Duration) -> TokenStream {
    let millis = Literal::u64_suffixed(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    quote!(::core::time::Duration::from_millis(#millis))
}

fn option(v: Option<TokenStream>) -> TokenStream {
    match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// Expands a checked event type: the `Event` impl and its registration.
pub(crate) fn expand_event(input: &DeriveInput, event: &crate::ir::EventType) -> TokenStream {
    let ident = &input.ident;
    let (name, version, description) = (&event.name, &event.version, &event.description);
    let impl_header = quote_spanned!(ident.span()=> impl ::buildamp::Event for #ident);
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            #impl_header {
                const NAME: &'static str = #name;
                const VERSION: &'static str = #version;
                const DESCRIPTION: &'static str = #description;
            }

            ::buildamp::__private::inventory::submit! {
                ::buildamp::__private::EventRegistration::of::<#ident>()
            }
        };
    }
}

/// Beside the errors of an invalid event type: an impl with a placeholder name, so code that
/// publishes the event adds no errors of its own.
pub(crate) fn fallback_event(input: &DeriveInput) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    quote! {
        const _: () = {
            impl ::buildamp::Event for #ident {
                const NAME: &'static str = "invalid.event";
                const VERSION: &'static str = "0";
                const DESCRIPTION: &'static str = "";
            }
        };
    }
}
