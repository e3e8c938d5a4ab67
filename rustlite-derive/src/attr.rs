//! Parsing of the derive's attributes: `#[collection(name = "..")]` on the struct, `#[key]` and
//! `#[index]`/`#[index(unique, hash, btree)]` on fields, and the few `#[serde(..)]` options that
//! change stored field names (which the checks refuse). Unknown options are errors spanned on
//! the option, and so is an attribute in the wrong place (`#[key]` on the struct,
//! `#[collection]` on a field); every malformed attribute is recorded, not only the first.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Meta};

use crate::check::Errors;

/// Options of the struct.
#[derive(Default)]
pub struct ContainerAttrs {
    /// `#[collection(name = "..")]`.
    pub name: Option<LitStr>,
    /// Span of a `#[serde(rename_all ..)]`, refused by the checks.
    pub serde_rename_all: Option<Span>,
    /// Struct-level serde options that store something other than the struct's own fields
    /// (`into`, `from`, `try_from`, `transparent`, `tag`, `content`, `untagged`, `remote`),
    /// refused by the checks: each name with its span.
    pub serde_reshape: Vec<(String, Span)>,
    /// Span of `#[serde(deny_unknown_fields)]`, refused by the checks: a field removed from
    /// the type stays in the stored documents, which would then no longer read.
    pub serde_deny_unknown: Option<Span>,
}

/// Options of a field.
#[derive(Default)]
pub struct FieldAttrs {
    /// Span of `#[key]`.
    pub key: Option<Span>,
    /// `#[index(..)]`.
    pub index: Option<IndexAttr>,
    /// Span of `#[serde(rename ..)]`.
    pub serde_rename: Option<Span>,
    /// Span of `#[serde(flatten)]`.
    pub serde_flatten: Option<Span>,
    /// Span of `#[serde(skip)]`, `skip_serializing` or `skip_deserializing`.
    pub serde_skip: Option<Span>,
    /// Whether the field is left out of serialized documents (`skip`, `skip_serializing`).
    pub not_serialized: bool,
    /// Span of `#[serde(with ..)]`, `serialize_with` or `skip_serializing_if`: the stored form
    /// is no longer what the field's type serializes to.
    pub serde_custom: Option<Span>,
    /// `#[serde(skip_serializing_if ..)]`: the field may be missing from a document (null).
    pub maybe_missing: bool,
    /// `#[serde(with ..)]` or `serialize_with`: a function of the user's writes the field, in
    /// any form (the schema declares it a document).
    pub custom_form: bool,
}

/// The kind of index asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// `#[index]` or `#[index(btree)]`.
    BTree,
    /// `#[index(hash)]`.
    Hash,
}

/// A parsed `#[index(..)]`.
pub struct IndexAttr {
    /// The attribute's tokens, for diagnostics spanning all of it.
    pub tokens: proc_macro2::TokenStream,
    /// B-Tree or hash.
    pub kind: IndexKind,
    /// `unique`.
    pub unique: bool,
}

/// Parses the struct's attributes.
pub fn container(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("collection") {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if out.name.is_some() {
                        return Err(meta.error("duplicate `name` in #[collection(..)]"));
                    }
                    out.name = Some(lit);
                    Ok(())
                } else {
                    Err(meta.error(format!(
                        "unknown #[collection] option `{}`; the only option is `name = \"..\"`",
                        path_name(&meta.path)
                    )))
                }
            });
            errors.push_result(result);
        } else if attr.path().is_ident("serde") {
            for (name, span, _) in serde_options(attr) {
                match name.as_str() {
                    "rename_all" | "rename_all_fields" => out.serde_rename_all = Some(span),
                    "into" | "from" | "try_from" | "transparent" | "tag" | "content"
                    | "untagged" | "remote" => out.serde_reshape.push((name, span)),
                    "deny_unknown_fields" => out.serde_deny_unknown = Some(span),
                    _ => {}
                }
            }
        } else if attr.path().is_ident("key") {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[key]` goes on a field, not on the struct: mark the primary key's field(s)",
            ));
        } else if attr.path().is_ident("index") {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[index]` goes on a field, not on the struct: mark each indexed field",
            ));
        }
    }
    out
}

/// Parses one field's attributes.
pub fn field(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("key") {
            if !matches!(attr.meta, Meta::Path(_)) {
                errors.push(syn::Error::new_spanned(
                    &attr.meta,
                    "`#[key]` takes no arguments",
                ));
            } else if out.key.is_some() {
                errors.push(syn::Error::new_spanned(attr, "duplicate `#[key]`"));
            }
            out.key = Some(attr.span());
        } else if attr.path().is_ident("index") {
            if out.index.is_some() {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "duplicate `#[index]`: a field has at most one index",
                ));
                continue;
            }
            if let Some(index) = index(attr, errors) {
                out.index = Some(index);
            }
        } else if attr.path().is_ident("serde") {
            for (name, span, value) in serde_options(attr) {
                match name.as_str() {
                    "rename" => out.serde_rename = Some(span),
                    "flatten" => out.serde_flatten = Some(span),
                    "skip" | "skip_serializing" => {
                        out.serde_skip = Some(span);
                        out.not_serialized = true;
                    }
                    "skip_deserializing" => out.serde_skip = Some(span),
                    "with" | "serialize_with" => {
                        out.serde_custom = Some(span);
                        // `serde_bytes` writes a `Vec<u8>` as MessagePack bin: the stored
                        // form a `Bytes` field has anyway, not a form of the user's own.
                        out.custom_form = value.as_deref() != Some("serde_bytes");
                    }
                    "skip_serializing_if" => {
                        out.serde_custom = Some(span);
                        out.maybe_missing = true;
                    }
                    _ => {}
                }
            }
        } else if attr.path().is_ident("collection") {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[collection(..)]` goes on the struct, not on a field",
            ));
        }
    }
    out
}

fn index(attr: &Attribute, errors: &mut Errors) -> Option<IndexAttr> {
    let mut index = IndexAttr {
        tokens: attr.to_token_stream(),
        kind: IndexKind::BTree,
        unique: false,
    };
    match &attr.meta {
        Meta::Path(_) => Some(index),
        Meta::NameValue(nv) => {
            errors.push(syn::Error::new_spanned(
                nv,
                "expected `#[index]` or `#[index(unique, hash)]`",
            ));
            None
        }
        Meta::List(_) => {
            let mut kind: Option<IndexKind> = None;
            let result = attr.parse_nested_meta(|meta| {
                if let Some(option) = ["unique", "hash", "btree"]
                    .into_iter()
                    .find(|o| meta.path.is_ident(o))
                {
                    if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
                        return Err(meta.error(format!(
                            "`{option}` takes no value: write `#[index({option})]`"
                        )));
                    }
                }
                let (what, new_kind) = if meta.path.is_ident("unique") {
                    if index.unique {
                        return Err(meta.error("duplicate `unique`"));
                    }
                    index.unique = true;
                    return Ok(());
                } else if meta.path.is_ident("hash") {
                    ("hash", IndexKind::Hash)
                } else if meta.path.is_ident("btree") {
                    ("btree", IndexKind::BTree)
                } else {
                    return Err(meta.error(format!(
                        "unknown #[index] option `{}`; expected `unique`, `hash` or `btree`",
                        path_name(&meta.path)
                    )));
                };
                if kind.is_some() {
                    return Err(meta.error(format!(
                        "`{what}`: an index is either `btree` (the default) or `hash`, once"
                    )));
                }
                kind = Some(new_kind);
                Ok(())
            });
            index.kind = kind.unwrap_or(IndexKind::BTree);
            match result {
                Ok(()) => Some(index),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        }
    }
}

/// The top-level option names of a `#[serde(..)]` attribute with their spans. Values are
/// skipped; malformed serde attributes are left for serde to report.
/// The options of a `#[serde(..)]` attribute, each with its string value (`with = "x"`).
fn serde_options(attr: &Attribute) -> Vec<(String, Span, Option<String>)> {
    let mut found = Vec::new();
    let _ = attr.parse_nested_meta(|meta| {
        let (name, span) = (path_name(&meta.path), meta.path.span());
        let mut value = None;
        if meta.input.peek(syn::Token![=]) {
            let expr: syn::Expr = meta.value()?.parse()?;
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = expr
            {
                value = Some(s.value());
            }
        } else if meta.input.peek(syn::token::Paren) {
            let _: proc_macro2::TokenTree = meta.input.parse()?;
        }
        found.push((name, span, value));
        Ok(())
    });
    found
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
