//! Wire names of fields, by serde's own attribute rules (`serde_derive_internals`, pinned exactly),
//! so `rename` and `rename_all` mean here what they mean to serde.

use syn::DeriveInput;

/// The serialized name of each named field, in declaration order; `None` when serde could not make
/// sense of the input (serde's own derive reports why).
pub(crate) fn field_names(input: &DeriveInput) -> Option<Vec<String>> {
    let cx = serde_derive_internals::Ctxt::new();
    let container = serde_derive_internals::ast::Container::from_ast(
        &cx,
        input,
        serde_derive_internals::Derive::Serialize,
    );
    let names = container.and_then(|c| match c.data {
        serde_derive_internals::ast::Data::Struct(_, fields) => Some(
            fields
                .iter()
                .map(|f| f.attrs.name().serialize_name().to_string())
                .collect(),
        ),
        serde_derive_internals::ast::Data::Enum(_) => None,
    });
    // serde's derive reports its own attribute errors; reporting them again would double them.
    cx.check().ok().and(names)
}
