//! [`to_value`]: a serde `Serializer` that builds a [`Value`] directly, the fast path of
//! [`Value::from_serialize`].
//!
//! `Value::from_serialize` is defined as "what named-field MessagePack (`rmp_serde`) makes of
//! the value, read back as a `Value`". Round-tripping through MessagePack costs two passes and an
//! allocation per call, which dominated the typed layer's key lookups, so the shapes keys and
//! query values take are built here directly, with the same result:
//!
//! ```text
//! serde data model                    Value (as rmp_serde + the Value deserializer would give)
//! bool                                Bool
//! i8..i64, u8..u64                    Int (UInt above i64::MAX)
//! f32, f64                            Float (f32 widened)
//! char, str                           Text
//! bytes                               Bytes
//! none, unit                          Null
//! some(x), newtype struct N(x)        x
//! seq, tuple, tuple struct            Array
//! anything else                       Unsupported: the caller takes the MessagePack path
//! ```
//! "Anything else" (structs, maps, enum variants, unit structs, 128-bit integers,
//! MessagePack extension structs, a `Serialize` impl that fails) is answered by the
//! MessagePack round trip itself, so its results (and error messages) are unchanged by
//! construction. Like rmp_serde, the serializer is not human-readable, so types such as UUIDs
//! serialize the same compact way through both paths. A property test checks the two paths
//! agree for every supported shape.

use serde::ser::{self, Impossible, Serialize};

use super::Value;

/// Why the direct path gave up; the caller falls back to MessagePack either way.
#[derive(Debug)]
pub(super) struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not supported by the direct Value serializer")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Unsupported
    }
}

type Result<T> = std::result::Result<T, Unsupported>;

/// `value` as a [`Value`], or `Err(Unsupported)` for shapes outside the table in the module docs.
pub(super) fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    value.serialize(ValueSerializer)
}

struct ValueSerializer;

/// Collects the elements of a sequence, tuple or tuple struct.
pub(super) struct SeqBuilder(Vec<Value>);

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.0.push(to_value(value)?);
        Ok(())
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        Ok(Value::Array(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        Ok(Value::Array(self.0))
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        Ok(Value::Array(self.0))
    }
}

/// rmp_serde's name for its extension-type newtype (`rmp_serde::MSGPACK_EXT_STRUCT_NAME`).
const MSGPACK_EXT_STRUCT_NAME: &str = "_ExtStruct";

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Unsupported;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = Impossible<Value, Unsupported>;
    type SerializeMap = Impossible<Value, Unsupported>;
    type SerializeStruct = Impossible<Value, Unsupported>;
    type SerializeStructVariant = Impossible<Value, Unsupported>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<Value> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value> {
        Ok(Value::Int(i64::from(v)))
    }
    fn serialize_i16(self, v: i16) -> Result<Value> {
        Ok(Value::Int(i64::from(v)))
    }
    fn serialize_i32(self, v: i32) -> Result<Value> {
        Ok(Value::Int(i64::from(v)))
    }
    fn serialize_i64(self, v: i64) -> Result<Value> {
        Ok(Value::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value> {
        Ok(Value::Int(i64::from(v)))
    }
    fn serialize_u16(self, v: u16) -> Result<Value> {
        Ok(Value::Int(i64::from(v)))
    }
    fn serialize_u32(self, v: u32) -> Result<Value> {
        Ok(Value::Int(i64::from(v)))
    }
    fn serialize_u64(self, v: u64) -> Result<Value> {
        Ok(Value::from(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        Ok(Value::Float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        Ok(Value::Text(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        Ok(Value::Text(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value> {
        Err(Unsupported)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<Value> {
        Err(Unsupported)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value> {
        if name == MSGPACK_EXT_STRUCT_NAME {
            return Err(Unsupported);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Value> {
        Err(Unsupported)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0).min(1024))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder> {
        Ok(SeqBuilder(Vec::with_capacity(len.min(1024))))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqBuilder> {
        Ok(SeqBuilder(Vec::with_capacity(len.min(1024))))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
    fn serialize_i128(self, _v: i128) -> Result<Value> {
        Err(Unsupported)
    }
    fn serialize_u128(self, _v: u128) -> Result<Value> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

    /// The reference: what `from_serialize` was before the direct path existed.
    fn via_msgpack<T: Serialize + ?Sized>(value: &T) -> Option<Value> {
        let bytes = rmp_serde::to_vec_named(value).ok()?;
        Value::from_msgpack(&bytes).ok()
    }

    /// Bitwise equality (a NaN equals itself with the same payload).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            _ => a == b,
        }
    }

    /// The direct path succeeds exactly when the MessagePack path does, with the same `Value`
    /// (so the same key bytes).
    fn agree<T: Serialize + ?Sized>(value: &T) -> std::result::Result<(), TestCaseError> {
        let direct = to_value(value).ok();
        let reference = via_msgpack(value);
        match (&direct, &reference) {
            (Some(d), Some(r)) => {
                prop_assert!(same(d, r), "direct {:?} != msgpack {:?}", d, r);
                prop_assert_eq!(d.to_key().ok(), r.to_key().ok());
            }
            (None, None) => {}
            _ => prop_assert!(false, "direct {:?} vs msgpack {:?}", direct, reference),
        }
        Ok(())
    }

    #[derive(Serialize)]
    struct Id(u64);

    #[derive(Serialize)]
    struct Pair(i32, String);

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    enum Kind {
        A,
        B(u8),
    }

    #[derive(Serialize)]
    struct Doc {
        id: u64,
    }

    proptest! {
        #[test]
        fn direct_path_matches_msgpack_for_scalars(
            b in any::<bool>(), i8v in any::<i8>(), i16v in any::<i16>(), i32v in any::<i32>(),
            i64v in any::<i64>(), u8v in any::<u8>(), u16v in any::<u16>(), u32v in any::<u32>(),
            u64v in any::<u64>(), f32v in any::<f32>(), f64v in any::<f64>(), c in any::<char>(),
            s in ".{0,12}", bytes in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            agree(&b)?; agree(&i8v)?; agree(&i16v)?; agree(&i32v)?; agree(&i64v)?;
            agree(&u8v)?; agree(&u16v)?; agree(&u32v)?; agree(&u64v)?;
            agree(&f32v)?; agree(&f64v)?; agree(&c)?; agree(&s)?; agree(s.as_str())?;
            agree(&bytes)?; agree(&super::super::Bytes(&bytes))?;
            agree(&Some(i64v))?; agree(&None::<i64>)?; agree(&Id(u64v))?;
            agree(&(u64v, s.clone()))?; agree(&(i32v, b, Some(f64v), c))?;
            agree(&Pair(i32v, s.clone()))?; agree(&vec![Some(u32v), None])?;
            agree(&((u8v, i16v), [u16v, u16v]))?;
            // Above i64::MAX both paths give a UInt.
            agree(&u64::MAX)?; agree(&(u64v | 1 << 63))?; agree(&Id(u64v | 1 << 63))?;
            prop_assert_eq!(to_value(&u64::MAX).ok(), Some(Value::UInt(u64::MAX)));
        }
    }

    #[test]
    fn everything_else_declines() {
        assert!(to_value(&Unit).is_err());
        assert!(to_value(&Kind::A).is_err());
        assert!(to_value(&Kind::B(1)).is_err());
        assert!(to_value(&Doc { id: 1 }).is_err());
        assert!(to_value(&std::collections::BTreeMap::from([(1, 2)])).is_err());
        assert!(to_value(&1i128).is_err());
        assert!(to_value(&(1u8, Unit)).is_err());
        assert_eq!(to_value(&()).ok(), Some(Value::Null));
        assert_eq!(to_value(&'x').ok(), Some(Value::Text("x".into())));
    }
}
