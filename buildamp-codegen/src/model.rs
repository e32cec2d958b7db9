//! The shape of a `#[derive(BuildAmpWebhook)]` input: a concrete struct with named fields and
//! exactly one `#[target(...)]`.

use syn::{Data, DeriveInput, Fields, GenericArgument, PathArguments, Type};

use crate::ctxt::Ctxt;
use crate::ir::{Field, Webhook};
use crate::serde_names::field_names;
use crate::target::parse_target;

/// Builds the IR of one derive input, reporting every problem into `cx`.
pub(crate) fn webhook(cx: &Ctxt, input: &DeriveInput) -> Option<Webhook> {
    let name = input.ident.to_string();
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => {
                let wire_names = field_names(input);
                Some(
                    named
                        .named
                        .iter()
                        .enumerate()
                        .map(|(i, f)| {
                            let name = f
                                .ident
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default();
                            let wire_name = wire_names
                                .as_ref()
                                .and_then(|w| w.get(i).cloned())
                                .unwrap_or_else(|| name.clone());
                            Field {
                                name,
                                wire_name,
                                is_file: is_bytes(&f.ty),
                            }
                        })
                        .collect::<Vec<_>>(),
                )
            }
            Fields::Unnamed(unnamed) => {
                cx.error_spanned_by(unnamed, format!("`BuildAmpWebhook` needs named fields: a payload is a JSON object, so write `struct {name} {{ field: Type, .. }}`"));
                None
            }
            Fields::Unit => {
                cx.error_at(
                    input.ident.span(),
                    format!(
                        "`BuildAmpWebhook` needs named fields: `{name}` has no payload to send"
                    ),
                );
                None
            }
        },
        Data::Enum(data) => {
            cx.error_at(data.enum_token.span, "`BuildAmpWebhook` can only be derived for a struct: an enum has no single target; derive it on a struct per target and use this enum as a field");
            None
        }
        Data::Union(data) => {
            cx.error_at(
                data.union_token.span,
                "`BuildAmpWebhook` can only be derived for a struct with named fields, not a union",
            );
            None
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(&input.generics, format!("`BuildAmpWebhook` cannot be generic: a webhook is one concrete payload type; make `{name}` concrete (a field can still use a generic type's instance)"));
    }
    let mut targets = input.attrs.iter().filter(|a| a.path().is_ident("target"));
    let target = match targets.next() {
        None => {
            cx.error_at(input.ident.span(), format!("missing `#[target(url = \"https://...\", ...)]` on `{name}`: say where its payload is sent"));
            None
        }
        Some(attr) => parse_target(cx, attr, fields.as_deref()),
    };
    for extra in targets {
        cx.error_spanned_by(
            extra,
            "duplicate `#[target]`: a webhook has one target, so merge these into one attribute",
        );
    }
    Some(Webhook {
        name,
        target: target?,
        fields: fields?,
    })
}

/// Whether `ty` is `Vec<u8>` or `Option<Vec<u8>>`: file bytes, sent as a file part.
fn is_bytes(ty: &Type) -> bool {
    let is_vec_u8 = |ty| matches!(single_generic(ty), Some(("Vec", Type::Path(item))) if item.path.is_ident("u8"));
    match single_generic(ty) {
        Some(("Option", inner)) => is_vec_u8(inner),
        _ => is_vec_u8(ty),
    }
}

/// `Name<T>` as (`Name`, `T`), by the last path segment.
fn single_generic(ty: &Type) -> Option<(&'static str, &Type)> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    let [GenericArgument::Type(inner)] = args.args.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let name = ["Vec", "Option"].into_iter().find(|n| segment.ident == n)?;
    Some((name, inner))
}
