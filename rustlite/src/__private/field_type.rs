//! A field's column type and nullability, chosen by its actual type rather than by how the
//! struct spells it: `type Price = f64` is a `Float` column like `f64`, `struct Cents(i64)` an
//! `Int` column like the `i64` serde writes for it, `type Nick = Option<String>` a nullable
//! `Text` one.
//!
//! The derive only sees tokens, so it emits, for each field of type `T`,
//!
//! ```text
//! { use ::rustlite::__private::{ViaSerde as _, Opaque as _};
//!   (&&::rustlite::__private::Of::<T>::new()).__rustlite_column() }
//! ```
//!
//! and method resolution picks the first impl that applies (autoref specialization; the field
//! types are concrete, since generic collections are refused):
//!
//! ```text
//! receiver &&Of<T>
//!   ├─ T: DeserializeOwned → ViaSerde (impl on &Of<T>)   asks T's Deserialize impl what it reads
//!   └─ otherwise           → Opaque   (impl on &&Of<T>)  DOCUMENT, nullable
//! ```
//!
//! `ViaSerde` runs `T::deserialize` against [`Probe`], a deserializer that holds no data: the
//! first `deserialize_*` call `T` makes says what `T` is, and the probe stops there with an
//! error that carries the answer. Serde's own impls and derived ones read what they write, so
//! this is the form a document stores:
//!
//! ```text
//! deserialize_*                        column      nullable
//! bool                                 BOOLEAN     no
//! i8..i64, u8..u64 (usize, isize)      INTEGER     no
//! f32, f64                             REAL        no
//! char, str, string                    TEXT        no
//! bytes, byte_buf                      BLOB        no
//! seq whose element reads a u8         BLOB        no        (Vec<u8>, Box<[u8]>, ..)
//! option                               (inner)     yes       (Option<T> → T's column)
//! newtype_struct                       (inner)     (inner)   (struct Cents(i64) → INTEGER)
//! unit, unit_struct                    DOCUMENT    yes       ((), PhantomData<T>: written as nil)
//! struct, map, tuple, seq, enum,       DOCUMENT    no        (cannot be read back from nil)
//!   i128, u128
//! any, ignored_any, identifier, or     DOCUMENT    yes       (self-describing: may be nil)
//!   anything unexpected
//! ```
//!
//! A type the probe cannot classify is a nullable `DOCUMENT`, the column that accepts whatever
//! it writes. Nesting deeper than [`MAX_DEPTH`] (a recursive type) stops there the same way.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};

use crate::collection::{FieldDef, FieldType};

/// A column's type and whether it may be null.
pub type Column = (FieldType, bool);

/// The definition of field `name` of column `column`, nullable also when serde may leave the
/// field out (`maybe_missing`: `skip_serializing_if`).
pub fn field_def(name: &str, column: Column, maybe_missing: bool) -> FieldDef {
    FieldDef::new(name, column.0, column.1 || maybe_missing)
}

/// What a type the probe cannot classify is.
const UNKNOWN: Column = (FieldType::Document, true);

/// Nesting (options, newtypes, sequences) the probe follows before giving up.
const MAX_DEPTH: u8 = 32;

/// A type token: `Of::<T>::new()` stands for the field type `T`.
pub struct Of<T: ?Sized>(PhantomData<*const T>);

impl<T: ?Sized> Of<T> {
    /// The token of `T`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Of(PhantomData)
    }
}

/// The column of a type serde can read: see the module documentation.
pub trait ViaSerde {
    /// The field type's column and nullability.
    fn __rustlite_column(&self) -> Column;
}

impl<T: DeserializeOwned> ViaSerde for &Of<T> {
    fn __rustlite_column(&self) -> Column {
        match T::deserialize(Probe { depth: 0 }) {
            Err(Stop::Found(shape)) => (shape.ty, shape.nullable),
            Err(Stop::Other) | Ok(_) => UNKNOWN,
        }
    }
}

/// The column of any other type: a nullable `DOCUMENT`.
pub trait Opaque {
    /// The field type's column and nullability.
    fn __rustlite_column(&self) -> Column;
}

impl<T: ?Sized> Opaque for &&Of<T> {
    fn __rustlite_column(&self) -> Column {
        UNKNOWN
    }
}

/// What the probe found.
#[derive(Debug, Clone, Copy)]
struct Shape {
    ty: FieldType,
    nullable: bool,
    /// Read with `deserialize_u8` itself (an element of a byte string).
    byte: bool,
}

impl Shape {
    const fn of(ty: FieldType, nullable: bool) -> Self {
        Shape {
            ty,
            nullable,
            byte: false,
        }
    }

    const UNKNOWN: Shape = Shape::of(UNKNOWN.0, UNKNOWN.1);
}

/// How a probe ends: always an error, which carries the answer.
#[derive(Debug)]
enum Stop {
    /// The type made a `deserialize_*` call.
    Found(Shape),
    /// The type failed on its own (a custom error).
    Other,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("type probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Stop::Other
    }
}

/// The shape of `result`, a probe of something nested, or [`Shape::UNKNOWN`].
fn found<V>(result: Result<V, Stop>) -> Shape {
    match result {
        Err(Stop::Found(shape)) => shape,
        Err(Stop::Other) | Ok(_) => Shape::UNKNOWN,
    }
}

/// A deserializer with no data that reports the first call a type makes (see the module
/// documentation).
struct Probe {
    depth: u8,
}

impl Probe {
    fn nested(&self) -> Option<Probe> {
        (self.depth < MAX_DEPTH).then(|| Probe {
            depth: self.depth + 1,
        })
    }
}

macro_rules! found {
    ($($method:ident => $ty:ident, $nullable:expr;)*) => {
        $(fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop::Found(Shape::of(FieldType::$ty, $nullable)))
        })*
    };
}

impl<'de> de::Deserializer<'de> for Probe {
    type Error = Stop;

    fn is_human_readable(&self) -> bool {
        false // as rmp_serde, which writes the documents
    }

    found! {
        deserialize_any => Document, true;
        deserialize_ignored_any => Document, true;
        deserialize_identifier => Document, true;
        deserialize_bool => Bool, false;
        deserialize_i8 => Int, false;
        deserialize_i16 => Int, false;
        deserialize_i32 => Int, false;
        deserialize_i64 => Int, false;
        deserialize_u16 => Int, false;
        deserialize_u32 => Int, false;
        deserialize_u64 => Int, false;
        deserialize_i128 => Document, false;
        deserialize_u128 => Document, false;
        deserialize_f32 => Float, false;
        deserialize_f64 => Float, false;
        deserialize_char => Text, false;
        deserialize_str => Text, false;
        deserialize_string => Text, false;
        deserialize_bytes => Bytes, false;
        deserialize_byte_buf => Bytes, false;
        deserialize_unit => Document, true;
        deserialize_map => Document, false;
    }

    fn deserialize_u8<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop::Found(Shape {
            byte: true,
            ..Shape::of(FieldType::Int, false)
        }))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        let inner = match self.nested() {
            Some(probe) => found(visitor.visit_some(probe)),
            None => Shape::UNKNOWN,
        };
        Err(Stop::Found(Shape::of(inner.ty, true)))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Stop> {
        let inner = match self.nested() {
            Some(probe) => found(visitor.visit_newtype_struct(probe)),
            None => Shape::UNKNOWN,
        };
        // A newtype of a byte is no byte: it does not read back from a MessagePack bin.
        Err(Stop::Found(Shape::of(inner.ty, inner.nullable)))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        let mut elements = FirstElement {
            probe: self.nested(),
            shape: None,
        };
        let _ = visitor.visit_seq(&mut elements);
        let bytes = elements
            .shape
            .is_some_and(|s| s.byte && s.ty == FieldType::Int && !s.nullable);
        let ty = if bytes {
            FieldType::Bytes
        } else {
            FieldType::Document
        };
        Err(Stop::Found(Shape::of(ty, false)))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop::Found(Shape::of(FieldType::Document, true)))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Stop> {
        Err(Stop::Found(Shape::of(FieldType::Document, false)))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop::Found(Shape::of(FieldType::Document, false)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop::Found(Shape::of(FieldType::Document, false)))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop::Found(Shape::of(FieldType::Document, false)))
    }
}

/// The elements of a probed sequence: records what the first one reads, then stops.
struct FirstElement {
    probe: Option<Probe>,
    shape: Option<Shape>,
}

impl<'de> SeqAccess<'de> for FirstElement {
    type Error = Stop;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Stop> {
        let shape = match self.probe.take() {
            Some(probe) => found(seed.deserialize(probe)),
            None => Shape::UNKNOWN,
        };
        self.shape = Some(shape);
        Err(Stop::Found(shape))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::marker::PhantomData;

    use super::*;
    use FieldType::*;

    fn column<T: DeserializeOwned>() -> Column {
        (&&Of::<T>::new()).__rustlite_column()
    }

    /// Every type the derive mapped by its spelling before maps the same way.
    #[test]
    fn spelled_types_map_as_before() {
        assert_eq!(column::<u8>(), (Int, false));
        assert_eq!(column::<u16>(), (Int, false));
        assert_eq!(column::<u32>(), (Int, false));
        assert_eq!(column::<u64>(), (Int, false));
        assert_eq!(column::<usize>(), (Int, false));
        assert_eq!(column::<i8>(), (Int, false));
        assert_eq!(column::<i16>(), (Int, false));
        assert_eq!(column::<i32>(), (Int, false));
        assert_eq!(column::<i64>(), (Int, false));
        assert_eq!(column::<isize>(), (Int, false));
        assert_eq!(column::<f32>(), (Float, false));
        assert_eq!(column::<f64>(), (Float, false));
        assert_eq!(column::<bool>(), (Bool, false));
        assert_eq!(column::<String>(), (Text, false));
        assert_eq!(column::<char>(), (Text, false));
        assert_eq!(column::<Vec<u8>>(), (Bytes, false));
        assert_eq!(column::<Option<String>>(), (Text, true));
        assert_eq!(column::<Option<Vec<u8>>>(), (Bytes, true));
        assert_eq!(column::<Option<Option<u8>>>(), (Int, true));
        assert_eq!(column::<Option<f32>>(), (Float, true));
        // What the spelling made a (non-null) document stays one.
        assert_eq!(column::<u128>(), (Document, false));
        assert_eq!(column::<i128>(), (Document, false));
        assert_eq!(column::<Vec<String>>(), (Document, false));
        assert_eq!(column::<Vec<u16>>(), (Document, false));
        assert_eq!(column::<Vec<Option<u8>>>(), (Document, false));
        assert_eq!(column::<[u8; 2]>(), (Document, false));
        assert_eq!(column::<(String, [u8; 2])>(), (Document, false));
        assert_eq!(column::<HashMap<String, u8>>(), (Document, false));
        assert_eq!(column::<BTreeMap<u8, u8>>(), (Document, false));
        assert_eq!(column::<Option<Vec<String>>>(), (Document, true));
    }

    #[derive(serde::Deserialize)]
    struct Cents(#[allow(dead_code)] i64);
    #[derive(serde::Deserialize)]
    struct Blob(#[allow(dead_code)] Vec<u8>);
    #[derive(serde::Deserialize)]
    struct Byte(#[allow(dead_code)] u8);
    #[derive(serde::Deserialize)]
    struct MaybeNick(#[allow(dead_code)] Option<String>);
    #[derive(serde::Deserialize)]
    struct Point {
        #[allow(dead_code)]
        x: i32,
    }
    #[derive(serde::Deserialize)]
    enum Level {
        #[allow(dead_code)]
        Low,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Loose {
        #[allow(dead_code)]
        Int(i64),
    }
    #[derive(serde::Deserialize)]
    struct Marker;
    #[derive(serde::Deserialize)]
    struct Node(#[allow(dead_code)] Option<Box<Node>>);
    type Price = f64;
    type Id = u64;
    type Nick = Option<String>;

    /// Aliases, newtypes and other types serde reads as something simpler.
    #[test]
    fn types_map_by_what_serde_reads() {
        assert_eq!(column::<Price>(), (Float, false));
        assert_eq!(column::<Id>(), (Int, false));
        assert_eq!(column::<Nick>(), (Text, true));
        assert_eq!(column::<Option<Price>>(), (Float, true));
        assert_eq!(column::<Cents>(), (Int, false));
        assert_eq!(column::<Option<Cents>>(), (Int, true));
        assert_eq!(column::<Blob>(), (Bytes, false));
        assert_eq!(column::<MaybeNick>(), (Text, true));
        assert_eq!(column::<Box<u32>>(), (Int, false));
        assert_eq!(column::<Box<[u8]>>(), (Bytes, false));
        assert_eq!(column::<std::num::NonZeroU64>(), (Int, false));
        // A newtype of a byte does not read back from a MessagePack bin: a sequence of them
        // is an array.
        assert_eq!(column::<Vec<Byte>>(), (Document, false));
        // Written as nil, or possibly nil.
        assert_eq!(column::<()>(), (Document, true));
        assert_eq!(column::<PhantomData<u8>>(), (Document, true));
        assert_eq!(column::<Marker>(), (Document, true));
        assert_eq!(column::<Loose>(), (Document, true));
        // Never nil.
        assert_eq!(column::<Point>(), (Document, false));
        assert_eq!(column::<Level>(), (Document, false));
        // Recursion stops.
        assert_eq!(column::<Node>(), (Document, true));
    }

    struct NotSerde;

    #[test]
    fn a_type_serde_cannot_read_is_a_nullable_document() {
        use super::Opaque as _;
        assert_eq!(
            (&&Of::<NotSerde>::new()).__rustlite_column(),
            (Document, true)
        );
        assert_eq!((&&Of::<str>::new()).__rustlite_column(), (Document, true));
    }
}
