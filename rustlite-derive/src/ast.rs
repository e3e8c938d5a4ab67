//! The model of a `#[derive(Collection)]` input: the struct, its fields and their parsed
//! attributes. Building it refuses what is not a struct with named fields; attribute errors are
//! collected so that all of them are reported together.

use proc_macro2::Span;
use syn::{
    Data, DeriveInput, Fields, GenericArgument, Generics, Ident, PathArguments, Type, Visibility,
};

use crate::attr::{self, ContainerAttrs, FieldAttrs};
use crate::check::Errors;

/// A struct deriving `Collection`.
pub struct Input<'a> {
    /// The struct's name.
    pub ident: &'a Ident,
    /// The struct's visibility (given to the field handles).
    pub vis: &'a Visibility,
    /// Its generics (refused by the checks).
    pub generics: &'a Generics,
    /// `#[collection(..)]` and the relevant `#[serde(..)]` options.
    pub attrs: ContainerAttrs,
    /// Named fields, in declaration order.
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub struct Field<'a> {
    /// The field's identifier.
    pub ident: &'a Ident,
    /// The field name as stored (the identifier without `r#`).
    pub name: String,
    /// The declared type.
    pub ty: &'a Type,
    /// `#[key]`, `#[index(..)]` and the relevant `#[serde(..)]` options.
    pub attrs: FieldAttrs,
}

impl<'a> Input<'a> {
    /// Builds the model; fails at once when the input is not a struct with named fields, and
    /// records attribute errors in `errors`.
    pub fn from_syn(node: &'a DeriveInput, errors: &mut Errors) -> syn::Result<Self> {
        let named =
            match &node.data {
                Data::Struct(data) => match &data.fields {
                    Fields::Named(named) => named,
                    Fields::Unnamed(_) => return Err(syn::Error::new_spanned(
                        &node.ident,
                        "#[derive(Collection)] needs named fields: tuple structs are not supported",
                    )),
                    Fields::Unit => return Err(syn::Error::new_spanned(
                        &node.ident,
                        "#[derive(Collection)] needs named fields: unit structs are not supported",
                    )),
                },
                Data::Enum(data) => {
                    return Err(syn::Error::new(
                        data.enum_token.span,
                        "#[derive(Collection)] only supports structs with named fields, not enums",
                    ))
                }
                Data::Union(data) => {
                    return Err(syn::Error::new(
                        data.union_token.span,
                        "#[derive(Collection)] only supports structs with named fields, not unions",
                    ))
                }
            };
        let attrs = attr::container(&node.attrs, errors);
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                Some(Field {
                    ident,
                    name: unraw(ident),
                    ty: &field.ty,
                    attrs: attr::field(&field.attrs, errors),
                })
            })
            .collect();
        Ok(Input {
            ident: &node.ident,
            vis: &node.vis,
            generics: &node.generics,
            attrs,
            fields,
        })
    }

    /// The fields marked `#[key]`, in declaration order.
    pub fn key_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.attrs.key.is_some())
    }

    /// The fields with an `#[index]`, in declaration order (= `schema().indexes` order).
    pub fn indexed_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.attrs.index.is_some())
    }

    /// The collection name: `#[collection(name = ..)]`, or the struct name in snake_case.
    pub fn name(&self) -> String {
        match &self.attrs.name {
            Some(lit) => lit.value(),
            None => snake_case(&unraw(self.ident)),
        }
    }
}

/// An identifier as a string, without the `r#` of raw identifiers.
pub fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}

/// `UserProfile` → `user_profile`, `HTTPLog` → `http_log`, `user_id` → `user_id`.
pub fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `email` → `EMAIL`, `createdAt` → `CREATED_AT`.
pub fn upper_snake_case(s: &str) -> String {
    snake_case(s).to_uppercase()
}

/// The last segment of a path type (`std::string::String` → `String`) and its type arguments.
pub fn last_segment(ty: &Type) -> Option<(&Ident, Vec<&Type>)> {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let seg = p.path.segments.last()?;
            let args = match &seg.arguments {
                PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|arg| match arg {
                        GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some((&seg.ident, args))
        }
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// A span for diagnostics on the whole type.
pub fn span_of(ty: &Type) -> Span {
    syn::spanned::Spanned::span(ty)
}
