//! Code generation. Everything the expansion names goes through `::rustlite::__private`, so it
//! works whatever the user has in scope, and lives in a `const _: () = { .. };` block:
//!
//! ```text
//! const _: () = {
//!     impl Collection for User { NAME, Key, key(), schema() }
//!         // schema(): per stored field `field_def("id", (&&Of::<u64>::new()).__rustlite_column(), ..)`,
//!         // the column resolved from the actual type (see `rustlite::__private::field_type`)
//!     impl User { pub const ID: Field<User, u64> = Field::new("id", None); .. }   // one per field
//!     const _: () = assert_key::<u64>();                                          // keys are Ord
//! };
//! ```

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{self, Input};
use crate::attr::IndexKind;
use crate::check::{self, Errors};

/// Parses, checks and expands the derive input.
pub fn derive(node: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let input = Input::from_syn(node, &mut errors)?;
    check::check(&input, &mut errors);
    errors.finish()?;
    Ok(expand(&input))
}

fn expand(input: &Input) -> TokenStream {
    let p = quote!(::rustlite::__private);
    let ident = input.ident;
    let vis = input.vis;
    let name = input.name();

    let keys: Vec<_> = input.key_fields().collect();
    let key_idents: Vec<_> = keys.iter().map(|f| f.ident).collect();
    let key_types: Vec<_> = keys.iter().map(|f| f.ty).collect();
    let key_names: Vec<_> = keys.iter().map(|f| &f.name).collect();
    let (key_type, key_expr) = match (key_idents.as_slice(), key_types.as_slice()) {
        ([one], [ty]) => (quote!(#ty), quote!(#p::Clone::clone(&self.#one))),
        _ => (
            quote!((#(#key_types,)*)),
            quote!((#(#p::Clone::clone(&self.#key_idents),)*)),
        ),
    };
    let key_asserts = key_types
        .iter()
        .map(|ty| quote_spanned!(ast::span_of(ty)=> const _: () = #p::assert_key::<#ty>();));

    // Each column's type and nullability come from the field's actual type, resolved where
    // the type is known (`rustlite::__private::field_type`): aliases and newtypes map like the
    // type they stand for, which the tokens cannot tell.
    let field_defs = input
        .fields
        .iter()
        .filter(|f| !f.attrs.not_serialized)
        .map(|f| {
            let ty = f.ty;
            let column = if f.attrs.custom_form {
                // A field serde writes through a function of the user's (`with`,
                // `serialize_with`) may take any form: a document, possibly nil.
                quote!((#p::FieldType::Document, true))
            } else {
                quote!((&&#p::Of::<#ty>::new()).__rustlite_column())
            };
            // A field serde may leave out reads as null.
            let maybe_missing = f.attrs.maybe_missing;
            let field_name = &f.name;
            quote!(#p::field_def(#field_name, #column, #maybe_missing))
        });

    let indexed: Vec<_> = input.indexed_fields().collect();
    let index_defs = indexed.iter().filter_map(|f| {
        let index = f.attrs.index.as_ref()?;
        let kind = match index.kind {
            IndexKind::BTree => quote!(BTree),
            IndexKind::Hash => quote!(Hash),
        };
        let unique = index.unique;
        let field_name = &f.name;
        Some(quote!(#p::IndexDef::new(#name, #field_name, #p::IndexKind::#kind, #unique)))
    });
    // Fields serde leaves out of documents get no handle: there is nothing stored to find.
    let handles = input.fields.iter().filter(|f| !f.attrs.not_serialized).map(|f| {
        let const_name = format_ident!("{}", ast::upper_snake_case(&f.name), span = f.ident.span());
        let ty = f.ty;
        let field_name = &f.name;
        let index = match indexed.iter().position(|i| i.ident == f.ident) {
            Some(i) => quote!(#p::Some(#i)),
            None => quote!(#p::None),
        };
        let doc = format!("Typed handle on the `{}` field.", f.name);
        quote! {
            #[doc = #doc]
            #vis const #const_name: #p::Field<#ident, #ty> = #p::Field::new(#field_name, #index);
        }
    });

    quote! {
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            #[automatically_derived]
            impl #p::Collection for #ident {
                const NAME: &'static str = #name;
                type Key = #key_type;

                fn key(&self) -> Self::Key {
                    #key_expr
                }

                fn schema() -> #p::Schema {
                    #[allow(unused_imports)]
                    use #p::{Opaque as _, ViaSerde as _};
                    #p::Schema {
                        name: #p::String::from(#name),
                        fields: #p::Vec::from([#(#field_defs),*]),
                        key_fields: #p::Vec::from([#(#p::String::from(#key_names)),*]),
                        indexes: #p::Vec::from([#(#index_defs),*]),
                    }
                }
            }

            #[automatically_derived]
            impl #ident {
                #(#handles)*
            }

            #(#key_asserts)*
        };
    }
}
