//! Validation of the model, with every error spanned on the offending token and all errors
//! reported together (combined with [`syn::Error::combine`]).
//!
//! The type rules are syntactic (on the last path segment, type aliases are not seen through):
//!
//! ```text
//!                          key   index
//! integers, bool, char      ✓      ✓      (not i128 / u128: stored as raw bytes, unordered)
//! String, Vec<u8>           ✓      ✓
//! tuples, arrays of ✓       ✓      ✓
//! other user types          ✓*     ✓      * the compiler also requires `Ord` for key types
//! f32, f64                  ✗      ✓      (IEEE total order; all NaNs one value, last)
//! Option<T>                 ✗      ✓      (None is not indexed)
//! &T, str, [T], fn, dyn     ✗      ✗
//! Vec<T> (T ≠ u8)           ✗      ✗
//! maps, sets (by name)      ✗      ✗      (HashMap, BTreeMap, HashSet, BTreeSet, IndexMap, IndexSet)
//! serde_json::Value         ✗      ✗      (by path: a user type named `Value` is not refused)
//! ```
//!
//! A key or indexed field may not use `#[serde(skip..)]`, `with`, `serialize_with` or
//! `skip_serializing_if`: lookups encode a value of the field's type, which must be exactly
//! what the stored document holds.

use std::collections::HashMap;

use syn::Type;

use crate::ast::{self, Input};

/// Accumulates errors so that one expansion reports all of them.
#[derive(Default)]
pub struct Errors {
    inner: Option<syn::Error>,
}

impl Errors {
    /// Records an error.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.inner {
            Some(e) => e.combine(error),
            None => self.inner = Some(error),
        }
    }

    /// Records the error of `result`, if any.
    pub fn push_result(&mut self, result: syn::Result<()>) {
        if let Err(e) = result {
            self.push(e);
        }
    }

    /// `Err` with every recorded error, or `Ok`.
    pub fn finish(self) -> syn::Result<()> {
        match self.inner {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Checks the rules listed in the crate documentation.
pub fn check(input: &Input, errors: &mut Errors) {
    if let Some(param) = input.generics.params.first() {
        errors.push(syn::Error::new_spanned(
            param,
            "#[derive(Collection)] does not support generic structs: a collection stores one concrete type",
        ));
    } else if let Some(clause) = &input.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            clause,
            "#[derive(Collection)] does not support where clauses",
        ));
    }

    let name = input.name();
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        const RULE: &str =
            "collection names must match [A-Za-z_][A-Za-z0-9_]* (they are SQL table names)";
        errors.push(match &input.attrs.name {
            Some(lit) => syn::Error::new_spanned(lit, RULE),
            None => syn::Error::new_spanned(
                input.ident,
                format!(
                    "{RULE}; the default name, `{name}`, does not: give one with `#[collection(name = \"..\")]`"
                ),
            ),
        });
    }

    for (option, span) in &input.attrs.serde_reshape {
        errors.push(syn::Error::new(
            *span,
            format!("#[derive(Collection)] does not support `#[serde({option})]` on the struct: a document is stored as the struct's own fields"),
        ));
    }

    if let Some(span) = input.attrs.serde_deny_unknown {
        errors.push(syn::Error::new(
            span,
            "#[derive(Collection)] does not support `#[serde(deny_unknown_fields)]`: a field removed from the type stays in the stored documents, which would then no longer read",
        ));
    }

    if let Some(span) = input.attrs.serde_rename_all {
        errors.push(syn::Error::new(
            span,
            "#[derive(Collection)] does not support `#[serde(rename_all)]`: the Rust field names are the stored field names and SQL columns",
        ));
    }

    if input.key_fields().next().is_none() {
        errors.push(syn::Error::new_spanned(
            input.ident,
            "#[derive(Collection)] needs a primary key: mark a field with `#[key]` (several fields for a composite key)",
        ));
    }

    let mut handles: HashMap<String, &syn::Ident> = HashMap::new();
    for field in &input.fields {
        let attrs = &field.attrs;
        if let Some(span) = attrs.serde_rename {
            errors.push(syn::Error::new(
                span,
                "#[derive(Collection)] does not support `#[serde(rename)]`: the Rust field name is the stored field name and SQL column",
            ));
        }
        if let Some(span) = attrs.serde_flatten {
            errors.push(syn::Error::new(
                span,
                "#[derive(Collection)] does not support `#[serde(flatten)]`: every field must be one stored field",
            ));
        }
        if let (Some(span), true) = (
            attrs.serde_skip,
            attrs.key.is_some() || attrs.index.is_some(),
        ) {
            errors.push(syn::Error::new(
                span,
                "key and indexed fields cannot be skipped by serde: they must be stored",
            ));
        }
        if let (Some(span), true) = (
            attrs.serde_custom,
            attrs.key.is_some() || attrs.index.is_some(),
        ) {
            errors.push(syn::Error::new(
                span,
                "key and indexed fields cannot use `#[serde(with)]`, `serialize_with` or `skip_serializing_if`: lookups encode the field's own type, which would no longer match what is stored",
            ));
        }
        if attrs.key.is_some() {
            if let Some(index) = &attrs.index {
                errors.push(syn::Error::new_spanned(
                    &index.tokens,
                    "a `#[key]` field cannot also have an `#[index]`: the primary key is already indexed",
                ));
            }
            if let Some(why) = type_error(field.ty, Role::Key) {
                errors.push(syn::Error::new_spanned(field.ty, why));
            }
        } else if attrs.index.is_some() {
            if let Some(why) = type_error(field.ty, Role::Index) {
                errors.push(syn::Error::new_spanned(field.ty, why));
            }
        }
        if attrs.not_serialized {
            continue; // not stored: no handle
        }
        let handle = ast::upper_snake_case(&field.name);
        if let Some(first) = handles.insert(handle.clone(), field.ident) {
            errors.push(syn::Error::new_spanned(
                field.ident,
                format!(
                    "fields `{first}` and `{}` would both get the handle `{handle}`; rename one",
                    field.ident
                ),
            ));
        }
    }
}

/// What a type is checked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Key,
    Index,
}

impl Role {
    fn what(self) -> &'static str {
        match self {
            Role::Key => "a primary key",
            Role::Index => "an indexed field",
        }
    }
}

const INTEGERS: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];
/// Matched by name: a user type of one of these names is taken for the map or set. A user
/// type named `Value` is not (it may well be an ordered newtype); `serde_json::Value` is
/// matched by its path.
const MAPS_AND_SETS: &[&str] = &[
    "HashMap", "BTreeMap", "HashSet", "BTreeSet", "IndexMap", "IndexSet",
];

/// Whether `ty` is spelled `serde_json::Value` (or `serde_json::value::Value`).
fn is_json_value(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let segments: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            segments.last().is_some_and(|last| last == "Value")
                && segments.first().is_some_and(|first| first == "serde_json")
        }
        _ => false,
    }
}

/// Why `ty` cannot be used in `role`, or `None` when it can.
fn type_error(ty: &Type, role: Role) -> Option<String> {
    let what = role.what();
    match ty {
        Type::Group(g) => type_error(&g.elem, role),
        Type::Paren(p) => type_error(&p.elem, role),
        Type::Tuple(t) if t.elems.is_empty() => {
            Some(format!("`()` cannot be {what}: it has a single value"))
        }
        Type::Tuple(t) => t.elems.iter().find_map(|e| type_error(e, role)),
        Type::Array(a) => type_error(&a.elem, role),
        Type::Reference(_) => Some(format!(
            "references cannot be {what}: use an owned type (e.g. `String` for `&str`)"
        )),
        Type::Path(p) if p.qself.is_some() => None,
        Type::Path(_) => {
            let (ident, args) = ast::last_segment(ty)?;
            let name = ident.to_string();
            if name == "i128" || name == "u128" {
                Some(format!(
                    "`{name}` cannot be {what}: it is stored as 16 raw bytes, which do not sort in numeric order; use a 64-bit integer or a String"
                ))
            } else if INTEGERS.contains(&name.as_str())
                || matches!(name.as_str(), "bool" | "char" | "String")
            {
                None
            } else if name == "f32" || name == "f64" {
                match role {
                    Role::Key => Some(format!(
                        "`{name}` cannot be a primary key: NaN and -0.0 make float equality unreliable; use an integer (e.g. fixed-point) or a String"
                    )),
                    Role::Index => None,
                }
            } else if name == "Option" {
                match role {
                    Role::Key => {
                        Some("`Option` cannot be a primary key: keys are never null".to_owned())
                    }
                    Role::Index => args.first().and_then(|inner| type_error(inner, role)),
                }
            } else if name == "str" {
                Some(format!("`str` cannot be {what}: use `String`"))
            } else if name == "Vec" {
                match args.first().and_then(|t| ast::last_segment(t)) {
                    Some((inner, _)) if inner == "u8" => None,
                    _ => Some(format!(
                        "`Vec<T>` cannot be {what} unless `T` is `u8` (byte strings)"
                    )),
                }
            } else if is_json_value(ty) {
                Some(format!(
                    "`serde_json::Value` cannot be {what}: it may hold an object (a map), which has no key order"
                ))
            } else if MAPS_AND_SETS.contains(&name.as_str()) {
                Some(format!(
                    "`{name}` cannot be {what}: maps and sets have no key order"
                ))
            } else {
                None
            }
        }
        _ => Some(format!("this type cannot be {what}")),
    }
}
