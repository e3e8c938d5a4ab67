//! Keycode: an order-preserving binary encoding of serde values, used for every engine key
//! that carries a user value (primary keys, index values, catalog keys).
//!
//! The one property that matters: for two values `a` and `b` of the same type,
//! `a < b ⇔ serialize(a) < serialize(b)` when the byte strings are compared lexicographically
//! (as the LSM compares keys). A second one makes range scans on composite keys possible: every
//! value is *self-delimiting*, so the encoding of a tuple prefix `(a,)` is a byte prefix of the
//! encoding of `(a, b)`, and keys can be built by concatenation:
//!
//! ```text
//! row key:    [0x01][collection id][keycode(pk)]
//! index key:  [0x02][index id][keycode(value)][keycode(pk)]
//! ```
//!
//! # Encoding of each serde type
//!
//! ```text
//! type                 bytes                                           example
//! ──────────────────── ─────────────────────────────────────────────── ─────────────────────────────
//! bool                 0x00 | 0x01                                     true      → 01
//! u8..u128             big-endian, fixed width                         1u16      → 00 01
//! i8..i128             big-endian, sign bit flipped                    -1i16     → 7f ff
//! f32, f64             big-endian bits; negatives: all bits flipped,   1.0f32    → bf 80 00 00
//!                      positives: sign bit flipped; NaN canonical      -1.0f32   → 40 7f ff ff
//! char                 as u32                                          'a'       → 00 00 00 61
//! str, bytes           0x00 escaped as 00 ff, terminated by 00 00      "a\0b"    → 61 00 ff 62 00 00
//! Option               None → 00, Some(v) → 01 ++ v                    Some(1u8) → 01 01
//! unit, unit struct    nothing
//! newtype struct       the inner value
//! tuple, tuple struct, every field, concatenated                      (1u8, 2u8) → 01 02
//!   struct, array
//! sequence (Vec<T>)    each element prefixed by 01, then 00            vec![1u8] → 01 01 00
//! enum                 variant index as u32, then the payload          B(7u8)    → 00 00 00 01 07
//! map                  unsupported (error)
//! ```
//!
//! Why each choice keeps the order:
//! - **Signed integers**: flipping the sign bit maps `i64::MIN..=i64::MAX` onto `0..=u64::MAX`
//!   monotonically.
//! - **Floats** follow IEEE 754 `totalOrder` ([`f64::total_cmp`]) except for NaN: every NaN is
//!   written as the canonical positive quiet NaN, so *all NaNs are one key and sort after
//!   `+∞`*. `-0.0` and `+0.0` stay distinct keys, with `-0.0 < +0.0`.
//! - **Strings and bytes**: the terminator `00 00` is smaller than any continuation (`00 ff` or a
//!   non-zero byte), so `"a" < "ab"`; the escape keeps embedded zeros from ending the string early.
//! - **Sequences**: the `00` terminator sorts before the `01` element marker, so a sequence sorts
//!   before every longer sequence it prefixes.
//! - **Option**: `None` (00) sorts before every `Some` (01).
//! - **Enums**: variants sort in declaration order, then by payload.
//!
//! The encoding is not self-describing: decoding needs the type, and `deserialize_any` (untagged
//! enums, `serde_json::Value`, `#[serde(flatten)]`) is refused. Decoding never panics: truncated
//! or malformed input is a [`KeycodeError`], converted to [`crate::Error::InvalidArgument`].

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};
use serde::Deserialize;

use crate::Result;

/// What went wrong while encoding or decoding a keycode value. The public functions return it
/// converted to [`crate::Error::InvalidArgument`], carrying its message.
///
/// ```
/// use rustlite_engine::codec::keycode::{self, KeycodeError};
/// let err = keycode::deserialize::<u32>(&[0, 0]).unwrap_err();
/// assert!(err.to_string().contains(&KeycodeError::UnexpectedEnd.to_string()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeycodeError {
    /// The value contains a type keycode cannot order (maps, or a self-describing request).
    #[error("keycode cannot encode or decode {0}")]
    Unsupported(&'static str),
    /// The input ended in the middle of a value.
    #[error("invalid key encoding: unexpected end of input")]
    UnexpectedEnd,
    /// The value was decoded but bytes were left over.
    #[error("invalid key encoding: {0} trailing bytes")]
    TrailingBytes(usize),
    /// A byte that cannot appear at this position (bad bool, option tag, escape or seq marker).
    #[error("invalid key encoding: byte {byte:#04x} is not a valid {what}")]
    InvalidByte {
        /// What was being decoded.
        what: &'static str,
        /// The offending byte.
        byte: u8,
    },
    /// A string was not valid UTF-8.
    #[error("invalid key encoding: string is not UTF-8")]
    InvalidUtf8,
    /// A `char` was not a Unicode scalar value.
    #[error("invalid key encoding: {0:#x} is not a char")]
    InvalidChar(u32),
    /// A message from a `Serialize`/`Deserialize` implementation.
    #[error("keycode: {0}")]
    Custom(String),
}

impl ser::Error for KeycodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        KeycodeError::Custom(msg.to_string())
    }
}

impl de::Error for KeycodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        KeycodeError::Custom(msg.to_string())
    }
}

impl From<KeycodeError> for crate::Error {
    fn from(e: KeycodeError) -> Self {
        crate::Error::InvalidArgument(e.to_string())
    }
}

type KResult<T> = std::result::Result<T, KeycodeError>;

/// Encodes `value` into a new byte vector.
///
/// ```
/// use rustlite_engine::codec::keycode;
/// let a = keycode::serialize(&(1u32, "ab")).unwrap();
/// let b = keycode::serialize(&(1u32, "b")).unwrap();
/// assert!(a < b);
/// assert_eq!(a, [0, 0, 0, 1, b'a', b'b', 0, 0]);
/// ```
pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    append(&mut out, value)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out` (keys are built by concatenation). On error `out`
/// is left as it was.
///
/// ```
/// use rustlite_engine::codec::keycode;
/// let mut key = vec![0x01, 7]; // [tag][collection id]
/// keycode::append(&mut key, &42u64).unwrap();
/// assert_eq!(key, [1, 7, 0, 0, 0, 0, 0, 0, 0, 42]);
/// ```
pub fn append<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<()> {
    let len = out.len();
    let result = value.serialize(&mut Serializer { out: &mut *out });
    if let Err(e) = result {
        out.truncate(len);
        return Err(e.into());
    }
    Ok(())
}

/// Decodes a `T` that must span all of `bytes`.
///
/// ```
/// use rustlite_engine::codec::keycode;
/// let bytes = keycode::serialize(&(-5i64, "x")).unwrap();
/// let (n, s): (i64, String) = keycode::deserialize(&bytes).unwrap();
/// assert_eq!((n, s.as_str()), (-5, "x"));
/// assert!(keycode::deserialize::<u8>(&[1, 2]).is_err()); // trailing byte
/// ```
pub fn deserialize<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    let (value, rest) = deserialize_prefix(bytes)?;
    if !rest.is_empty() {
        return Err(KeycodeError::TrailingBytes(rest.len()).into());
    }
    Ok(value)
}

/// Decodes a `T` from the front of `bytes` and returns it with the bytes that follow it (e.g.
/// the primary key after the indexed value of an index entry).
///
/// ```
/// use rustlite_engine::codec::keycode;
/// let mut key = keycode::serialize("ada").unwrap();
/// keycode::append(&mut key, &9u32).unwrap();
/// let (name, rest): (String, _) = keycode::deserialize_prefix(&key).unwrap();
/// assert_eq!(name, "ada");
/// assert_eq!(keycode::deserialize::<u32>(rest).unwrap(), 9);
/// ```
pub fn deserialize_prefix<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<(T, &'de [u8])> {
    let mut de = Deserializer { input: bytes };
    let value = T::deserialize(&mut de)?;
    Ok((value, de.input))
}

// ───────────────────────────── encoding ─────────────────────────────

/// The canonical NaN every f32 NaN is written as (positive, quiet): sorts after `+∞`.
const F32_NAN_BITS: u32 = 0x7fc0_0000;
/// The canonical NaN every f64 NaN is written as (positive, quiet): sorts after `+∞`.
const F64_NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

fn f32_key(v: f32) -> u32 {
    let bits = if v.is_nan() {
        F32_NAN_BITS
    } else {
        v.to_bits()
    };
    if bits >> 31 == 1 {
        !bits
    } else {
        bits ^ (1 << 31)
    }
}

fn f32_from_key(k: u32) -> f32 {
    let bits = if k >> 31 == 1 { k ^ (1 << 31) } else { !k };
    f32::from_bits(bits)
}

fn f64_key(v: f64) -> u64 {
    let bits = if v.is_nan() {
        F64_NAN_BITS
    } else {
        v.to_bits()
    };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    }
}

fn f64_from_key(k: u64) -> f64 {
    let bits = if k >> 63 == 1 { k ^ (1 << 63) } else { !k };
    f64::from_bits(bits)
}

/// Writes keycode into a borrowed vector.
struct Serializer<'a> {
    out: &'a mut Vec<u8>,
}

impl Serializer<'_> {
    fn escaped(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.out.push(b);
            if b == 0 {
                self.out.push(0xff);
            }
        }
        self.out.extend_from_slice(&[0, 0]);
    }
}

impl<'a, 'b> ser::Serializer for &'a mut Serializer<'b> {
    type Ok = ();
    type Error = KeycodeError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = ser::Impossible<(), KeycodeError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> KResult<()> {
        self.out.push(u8::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> KResult<()> {
        self.out.push((v as u8) ^ 0x80);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> KResult<()> {
        self.out
            .extend_from_slice(&((v as u16) ^ (1 << 15)).to_be_bytes());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> KResult<()> {
        self.out
            .extend_from_slice(&((v as u32) ^ (1 << 31)).to_be_bytes());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> KResult<()> {
        self.out
            .extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> KResult<()> {
        self.out
            .extend_from_slice(&((v as u128) ^ (1 << 127)).to_be_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> KResult<()> {
        self.out.push(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> KResult<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> KResult<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> KResult<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> KResult<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> KResult<()> {
        self.out.extend_from_slice(&f32_key(v).to_be_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> KResult<()> {
        self.out.extend_from_slice(&f64_key(v).to_be_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> KResult<()> {
        self.serialize_u32(u32::from(v))
    }
    fn serialize_str(self, v: &str) -> KResult<()> {
        self.escaped(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> KResult<()> {
        self.escaped(v);
        Ok(())
    }
    fn serialize_none(self) -> KResult<()> {
        self.out.push(0x00);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> KResult<()> {
        self.out.push(0x01);
        value.serialize(self)
    }
    fn serialize_unit(self) -> KResult<()> {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> KResult<()> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> KResult<()> {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> KResult<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> KResult<()> {
        self.out.extend_from_slice(&index.to_be_bytes());
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> KResult<Self> {
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> KResult<Self> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> KResult<Self> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> KResult<Self> {
        self.out.extend_from_slice(&index.to_be_bytes());
        Ok(self)
    }
    fn serialize_map(self, _len: Option<usize>) -> KResult<Self::SerializeMap> {
        Err(KeycodeError::Unsupported("maps"))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> KResult<Self> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> KResult<Self> {
        self.out.extend_from_slice(&index.to_be_bytes());
        Ok(self)
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeSeq for &mut Serializer<'_> {
    type Ok = ();
    type Error = KeycodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> KResult<()> {
        self.out.push(0x01);
        value.serialize(&mut **self)
    }
    fn end(self) -> KResult<()> {
        self.out.push(0x00);
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Serializer<'_> {
    type Ok = ();
    type Error = KeycodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> KResult<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> KResult<()> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Serializer<'_> {
    type Ok = ();
    type Error = KeycodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> KResult<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> KResult<()> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut Serializer<'_> {
    type Ok = ();
    type Error = KeycodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> KResult<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> KResult<()> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Serializer<'_> {
    type Ok = ();
    type Error = KeycodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _: &'static str,
        value: &T,
    ) -> KResult<()> {
        value.serialize(&mut **self)
    }
    fn skip_field(&mut self, _key: &'static str) -> KResult<()> {
        // A skipped field would shift every later field on decode: refuse rather than misread.
        Err(KeycodeError::Unsupported("skipped struct fields"))
    }
    fn end(self) -> KResult<()> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Serializer<'_> {
    type Ok = ();
    type Error = KeycodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _: &'static str,
        value: &T,
    ) -> KResult<()> {
        value.serialize(&mut **self)
    }
    fn skip_field(&mut self, _key: &'static str) -> KResult<()> {
        Err(KeycodeError::Unsupported("skipped struct fields"))
    }
    fn end(self) -> KResult<()> {
        Ok(())
    }
}

// ───────────────────────────── decoding ─────────────────────────────

/// Reads keycode from the front of a byte slice.
struct Deserializer<'de> {
    input: &'de [u8],
}

impl<'de> Deserializer<'de> {
    fn take<const N: usize>(&mut self) -> KResult<[u8; N]> {
        let (head, rest) = self
            .input
            .split_first_chunk::<N>()
            .ok_or(KeycodeError::UnexpectedEnd)?;
        self.input = rest;
        Ok(*head)
    }

    fn byte(&mut self) -> KResult<u8> {
        let [b] = self.take::<1>()?;
        Ok(b)
    }

    /// Decodes an escaped, terminated byte string. Borrows from the input when it holds no
    /// escape, copies otherwise.
    fn escaped(&mut self) -> KResult<std::borrow::Cow<'de, [u8]>> {
        let input = self.input;
        let mut owned: Option<Vec<u8>> = None;
        let mut i = 0;
        loop {
            let b = *input.get(i).ok_or(KeycodeError::UnexpectedEnd)?;
            if b != 0 {
                if let Some(buf) = owned.as_mut() {
                    buf.push(b);
                }
                i += 1;
                continue;
            }
            let next = *input.get(i + 1).ok_or(KeycodeError::UnexpectedEnd)?;
            match next {
                0x00 => {
                    let body = input.get(..i).ok_or(KeycodeError::UnexpectedEnd)?;
                    self.input = input.get(i + 2..).ok_or(KeycodeError::UnexpectedEnd)?;
                    return Ok(match owned {
                        Some(buf) => std::borrow::Cow::Owned(buf),
                        None => std::borrow::Cow::Borrowed(body),
                    });
                }
                0xff => {
                    let buf = match owned.as_mut() {
                        Some(buf) => buf,
                        None => owned.insert(input.get(..i).unwrap_or_default().to_vec()),
                    };
                    buf.push(0);
                    i += 2;
                }
                byte => {
                    return Err(KeycodeError::InvalidByte {
                        what: "string escape",
                        byte,
                    })
                }
            }
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = KeycodeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> KResult<V::Value> {
        Err(KeycodeError::Unsupported(
            "self-describing values (deserialize_any)",
        ))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        match self.byte()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            byte => Err(KeycodeError::InvalidByte { what: "bool", byte }),
        }
    }
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_i8((self.byte()? ^ 0x80) as i8)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_i16((u16::from_be_bytes(self.take()?) ^ (1 << 15)) as i16)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_i32((u32::from_be_bytes(self.take()?) ^ (1 << 31)) as i32)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_i64((u64::from_be_bytes(self.take()?) ^ (1 << 63)) as i64)
    }
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_i128((u128::from_be_bytes(self.take()?) ^ (1 << 127)) as i128)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_u8(self.byte()?)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_u16(u16::from_be_bytes(self.take()?))
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_u32(u32::from_be_bytes(self.take()?))
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_u64(u64::from_be_bytes(self.take()?))
    }
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_u128(u128::from_be_bytes(self.take()?))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_f32(f32_from_key(u32::from_be_bytes(self.take()?)))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_f64(f64_from_key(u64::from_be_bytes(self.take()?)))
    }
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        let n = u32::from_be_bytes(self.take()?);
        visitor.visit_char(char::from_u32(n).ok_or(KeycodeError::InvalidChar(n))?)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        match self.escaped()? {
            std::borrow::Cow::Borrowed(b) => visitor
                .visit_borrowed_str(std::str::from_utf8(b).map_err(|_| KeycodeError::InvalidUtf8)?),
            std::borrow::Cow::Owned(b) => {
                visitor.visit_string(String::from_utf8(b).map_err(|_| KeycodeError::InvalidUtf8)?)
            }
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        self.deserialize_str(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        match self.escaped()? {
            std::borrow::Cow::Borrowed(b) => visitor.visit_borrowed_bytes(b),
            std::borrow::Cow::Owned(b) => visitor.visit_byte_buf(b),
        }
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        self.deserialize_bytes(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        match self.byte()? {
            0 => visitor.visit_none(),
            1 => visitor.visit_some(self),
            byte => Err(KeycodeError::InvalidByte {
                what: "option tag",
                byte,
            }),
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> KResult<V::Value> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> KResult<V::Value> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> KResult<V::Value> {
        visitor.visit_seq(Terminated { de: self })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> KResult<V::Value> {
        visitor.visit_seq(Counted {
            de: self,
            left: len,
        })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> KResult<V::Value> {
        visitor.visit_seq(Counted {
            de: self,
            left: len,
        })
    }
    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> KResult<V::Value> {
        Err(KeycodeError::Unsupported("maps"))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> KResult<V::Value> {
        visitor.visit_seq(Counted {
            de: self,
            left: fields.len(),
        })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> KResult<V::Value> {
        visitor.visit_enum(self)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> KResult<V::Value> {
        Err(KeycodeError::Unsupported("identifiers"))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> KResult<V::Value> {
        Err(KeycodeError::Unsupported("ignored values"))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Elements of a sequence: each behind a `01` marker, up to a `00` terminator.
struct Terminated<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::SeqAccess<'de> for Terminated<'_, 'de> {
    type Error = KeycodeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> KResult<Option<T::Value>> {
        match self.de.byte()? {
            0 => Ok(None),
            1 => seed.deserialize(&mut *self.de).map(Some),
            byte => Err(KeycodeError::InvalidByte {
                what: "sequence marker",
                byte,
            }),
        }
    }
}

/// A fixed number of concatenated values (tuples, structs).
struct Counted<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Counted<'_, 'de> {
    type Error = KeycodeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> KResult<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::EnumAccess<'de> for &mut Deserializer<'de> {
    type Error = KeycodeError;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> KResult<(V::Value, Self)> {
        let index = u32::from_be_bytes(self.take()?);
        let de: de::value::U32Deserializer<KeycodeError> = index.into_deserializer();
        Ok((seed.deserialize(de)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Deserializer<'de> {
    type Error = KeycodeError;
    fn unit_variant(self) -> KResult<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> KResult<T::Value> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> KResult<V::Value> {
        visitor.visit_seq(Counted {
            de: self,
            left: len,
        })
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> KResult<V::Value> {
        visitor.visit_seq(Counted {
            de: self,
            left: fields.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cmp::Ordering;
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    use super::*;

    fn enc<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
        serialize(v).unwrap()
    }

    fn hex<T: Serialize + ?Sized>(v: &T) -> String {
        enc(v).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A byte string that serializes through `serialize_bytes` (what `serde_bytes` does), as
    /// opposed to `Vec<u8>`, which serde writes as a sequence.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Bytes(Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<Bytes, E> {
                    Ok(Bytes(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    enum Shape {
        Empty,
        Circle(u8),
        Pair(i16, String),
        Rect { w: u8, h: Option<u8> },
    }

    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    struct Pk {
        tenant: u32,
        name: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    struct Wrapper(u16);

    // ─────────────── golden bytes ───────────────

    #[test]
    fn golden_bool_and_unsigned() {
        assert_eq!(hex(&false), "00");
        assert_eq!(hex(&true), "01");
        assert_eq!(hex(&0u8), "00");
        assert_eq!(hex(&255u8), "ff");
        assert_eq!(hex(&1u16), "0001");
        assert_eq!(hex(&0x0102_0304u32), "01020304");
        assert_eq!(hex(&1u64), "0000000000000001");
        assert_eq!(hex(&u64::MAX), "ffffffffffffffff");
        assert_eq!(hex(&1u128), "00000000000000000000000000000001");
    }

    #[test]
    fn golden_signed() {
        assert_eq!(hex(&i8::MIN), "00");
        assert_eq!(hex(&-1i8), "7f");
        assert_eq!(hex(&0i8), "80");
        assert_eq!(hex(&i8::MAX), "ff");
        assert_eq!(hex(&-1i16), "7fff");
        assert_eq!(hex(&-2i32), "7ffffffe");
        assert_eq!(hex(&i64::MIN), "0000000000000000");
        assert_eq!(hex(&-1i64), "7fffffffffffffff");
        assert_eq!(hex(&1i64), "8000000000000001");
        assert_eq!(hex(&-1i128), "7fffffffffffffffffffffffffffffff");
        assert_eq!(hex(&0i128), "80000000000000000000000000000000");
    }

    #[test]
    fn golden_floats() {
        assert_eq!(hex(&f32::NEG_INFINITY), "007fffff");
        assert_eq!(hex(&-1.0f32), "407fffff");
        assert_eq!(hex(&-0.0f32), "7fffffff");
        assert_eq!(hex(&0.0f32), "80000000");
        assert_eq!(hex(&1.0f32), "bf800000");
        assert_eq!(hex(&f32::INFINITY), "ff800000");
        assert_eq!(hex(&f32::NAN), "ffc00000");
        assert_eq!(
            hex(&-f32::NAN),
            "ffc00000",
            "every NaN is the canonical one"
        );
        assert_eq!(hex(&f64::NEG_INFINITY), "000fffffffffffff");
        assert_eq!(hex(&-1.0f64), "400fffffffffffff");
        assert_eq!(hex(&-0.0f64), "7fffffffffffffff");
        assert_eq!(hex(&0.0f64), "8000000000000000");
        assert_eq!(hex(&1.0f64), "bff0000000000000");
        assert_eq!(hex(&f64::INFINITY), "fff0000000000000");
        assert_eq!(hex(&f64::NAN), "fff8000000000000");
        assert_eq!(
            hex(&f64::from_bits(0xfff8_0000_0000_0001)),
            "fff8000000000000"
        );
    }

    #[test]
    fn golden_char_str_bytes() {
        assert_eq!(hex(&'a'), "00000061");
        assert_eq!(hex(&'\u{10ffff}'), "0010ffff");
        assert_eq!(hex(""), "0000");
        assert_eq!(hex("a"), "610000");
        assert_eq!(hex("a\0b"), "6100ff620000");
        assert_eq!(hex("\0"), "00ff0000");
        assert_eq!(hex("é"), "c3a90000");
        assert_eq!(hex(&Bytes(vec![])), "0000");
        assert_eq!(hex(&Bytes(vec![0, 1, 0xff])), "00ff01ff0000");
    }

    #[test]
    fn golden_option_seq_tuple_struct_enum() {
        assert_eq!(hex(&None::<u8>), "00");
        assert_eq!(hex(&Some(1u8)), "0101");
        assert_eq!(hex(&Some("")), "010000");
        assert_eq!(hex(&Some(None::<u8>)), "0100");
        assert_eq!(hex(&()), "");
        assert_eq!(
            hex(&(1u32, "ab", -1i64)),
            "0000000161620000".to_owned() + "7fffffffffffffff"
        );
        assert_eq!(hex(&Vec::<u32>::new()), "00");
        assert_eq!(hex(&vec![1u8, 2]), "0101010200");
        assert_eq!(hex(&vec!["", "a"]), "01000001610000".to_owned() + "00");
        assert_eq!(hex(&[1u8, 2]), "0102", "arrays are tuples");
        assert_eq!(
            hex(&Pk {
                tenant: 2,
                name: "x".into()
            }),
            "00000002780000"
        );
        assert_eq!(hex(&Wrapper(1)), "0001");
        assert_eq!(hex(&Shape::Empty), "00000000");
        assert_eq!(hex(&Shape::Circle(7)), "0000000107");
        assert_eq!(hex(&Shape::Pair(-1, "z".into())), "000000027fff7a0000");
        assert_eq!(hex(&Shape::Rect { w: 1, h: None }), "000000030100");
    }

    // ─────────────── errors ───────────────

    #[test]
    fn maps_are_refused_and_append_is_atomic() {
        let mut buf = vec![1, 2];
        let map = BTreeMap::from([(1u8, 2u8)]);
        let err = append(&mut buf, &(5u8, map)).unwrap_err();
        assert!(
            matches!(err, crate::Error::InvalidArgument(ref m) if m.contains("maps")),
            "{err}"
        );
        assert_eq!(buf, [1, 2]);
        assert!(deserialize::<BTreeMap<u8, u8>>(&[0]).is_err());
    }

    #[test]
    fn malformed_input_is_an_error() {
        fn err<'de, T: Deserialize<'de> + std::fmt::Debug>(bytes: &'de [u8]) -> String {
            match deserialize::<T>(bytes) {
                Err(crate::Error::InvalidArgument(m)) => m,
                other => panic!("expected InvalidArgument, got {other:?}"),
            }
        }
        assert!(err::<u8>(&[]).contains("unexpected end"));
        assert!(err::<u32>(&[0, 0, 0]).contains("unexpected end"));
        assert!(err::<u8>(&[1, 2]).contains("1 trailing bytes"));
        assert!(err::<bool>(&[2]).contains("bool"));
        assert!(err::<Option<u8>>(&[2, 0]).contains("option tag"));
        assert!(err::<String>(&[0x61, 0, 1]).contains("string escape"));
        assert!(err::<String>(&[0x61, 0]).contains("unexpected end"));
        assert!(err::<String>(&[0x61]).contains("unexpected end"));
        assert!(err::<String>(&[0xff, 0, 0]).contains("UTF-8"));
        assert!(err::<char>(&[0, 0, 0xd8, 0]).contains("not a char"));
        assert!(err::<Vec<u8>>(&[1, 5, 2]).contains("sequence marker"));
        assert!(err::<Shape>(&[0, 0, 0, 9]).contains("variant index"));
    }

    #[test]
    fn decodes_borrowed_and_prefixes() {
        let bytes = enc(&("plain", "with\0zero"));
        let (a, rest): (&str, _) = deserialize_prefix(&bytes).unwrap();
        assert_eq!(a, "plain");
        assert_eq!(deserialize::<String>(rest).unwrap(), "with\0zero");
        // A borrowed &str cannot hold an unescaped copy: an error, not a panic.
        assert!(deserialize::<&str>(rest).is_err());
    }

    // ─────────────── properties ───────────────

    macro_rules! order_and_round_trip {
        ($($name:ident: $ty:ty = $strategy:expr;)*) => {
            proptest! {
                $(
                    #[test]
                    fn $name(a in $strategy, b in $strategy) {
                        let (ea, eb) = (enc(&a), enc(&b));
                        prop_assert_eq!(a.cmp(&b), ea.cmp(&eb), "{:?} vs {:?}", a, b);
                        prop_assert_eq!(&deserialize::<$ty>(&ea).unwrap(), &a);
                    }
                )*
            }
        };
    }

    /// Strings drawn from a tiny alphabet so that zeros, shared prefixes and equal values are common.
    fn small_string() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[ab\u{0}\u{ff}é]{0,5}"]
    }

    fn shape() -> impl Strategy<Value = Shape> {
        prop_oneof![
            Just(Shape::Empty),
            any::<u8>().prop_map(Shape::Circle),
            (any::<i16>(), small_string()).prop_map(|(a, b)| Shape::Pair(a, b)),
            (any::<u8>(), any::<Option<u8>>()).prop_map(|(w, h)| Shape::Rect { w, h }),
        ]
    }

    order_and_round_trip! {
        prop_bool: bool = any::<bool>();
        prop_u8: u8 = any::<u8>();
        prop_u16: u16 = any::<u16>();
        prop_u32: u32 = any::<u32>();
        prop_u64: u64 = any::<u64>();
        prop_u128: u128 = any::<u128>();
        prop_i8: i8 = any::<i8>();
        prop_i16: i16 = any::<i16>();
        prop_i32: i32 = any::<i32>();
        prop_i64: i64 = any::<i64>();
        prop_i128: i128 = any::<i128>();
        prop_char: char = any::<char>();
        prop_string: String = small_string();
        prop_bytes: Bytes = prop::collection::vec(prop_oneof![Just(0u8), Just(0xffu8), any::<u8>()], 0..6).prop_map(Bytes);
        prop_vec_u8_as_seq: Vec<u8> = prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..6);
        prop_vec_string: Vec<String> = prop::collection::vec(small_string(), 0..4);
        prop_option_u16: Option<u16> = any::<Option<u16>>();
        prop_option_string: Option<String> = prop::option::of(small_string());
        prop_tuple: (u32, String, i64) = (0u32..3, small_string(), any::<i64>());
        prop_struct: Pk = (0u32..3, small_string()).prop_map(|(tenant, name)| Pk { tenant, name });
        prop_enum: Shape = shape();
    }

    /// Floats compare as keys like `total_cmp`, except that every NaN is one value above `+∞`.
    fn key_cmp_f64(a: f64, b: f64) -> Ordering {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.total_cmp(&b),
        }
    }

    fn key_cmp_f32(a: f32, b: f32) -> Ordering {
        key_cmp_f64(f64::from(a), f64::from(b))
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            any::<u64>().prop_map(f64::from_bits),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1.0,
                -1.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -f64::NAN
            ]),
        ]
    }

    fn any_f32() -> impl Strategy<Value = f32> {
        prop_oneof![
            any::<f32>(),
            any::<u32>().prop_map(f32::from_bits),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1.0,
                -1.0,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::NAN,
                -f32::NAN
            ]),
        ]
    }

    proptest! {
        #[test]
        fn prop_f64(a in any_f64(), b in any_f64()) {
            prop_assert_eq!(key_cmp_f64(a, b), enc(&a).cmp(&enc(&b)), "{} vs {}", a, b);
            let back: f64 = deserialize(&enc(&a)).unwrap();
            prop_assert!(back.to_bits() == a.to_bits() || (a.is_nan() && back.is_nan()));
        }

        #[test]
        fn prop_f32(a in any_f32(), b in any_f32()) {
            prop_assert_eq!(key_cmp_f32(a, b), enc(&a).cmp(&enc(&b)), "{} vs {}", a, b);
            let back: f32 = deserialize(&enc(&a)).unwrap();
            prop_assert!(back.to_bits() == a.to_bits() || (a.is_nan() && back.is_nan()));
        }

        /// A tuple prefix encodes to a byte prefix of the full tuple: range scans by leading
        /// key columns are prefix scans.
        #[test]
        fn prop_tuple_prefix(a in any::<u32>(), b in small_string(), c in any::<i64>()) {
            let full = enc(&(a, &b, c));
            prop_assert!(full.starts_with(&enc(&(a,))));
            prop_assert!(full.starts_with(&enc(&(a, &b))));
            let mut appended = enc(&a);
            append(&mut appended, &b).unwrap();
            append(&mut appended, &c).unwrap();
            prop_assert_eq!(appended, full);
        }

        /// Random bytes never panic the decoder; whatever decodes re-encodes to the same bytes
        /// (the encoding is canonical, so distinct keys never decode to equal values).
        #[test]
        fn prop_decoder_total(bytes in prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xffu8), any::<u8>()], 0..40)) {
            type Everything = (bool, Option<u32>, String, Vec<i16>, char, Shape, Bytes);
            if let Ok(v) = deserialize::<Everything>(&bytes) {
                prop_assert_eq!(enc(&v), bytes.clone());
            }
            if let Ok(v) = deserialize::<Vec<Option<String>>>(&bytes) {
                prop_assert_eq!(enc(&v), bytes.clone());
            }
            if let Ok(v) = deserialize::<(Shape, u128, i8)>(&bytes) {
                prop_assert_eq!(enc(&v), bytes.clone());
            }
            let _ = deserialize::<(f32, f64, Option<f64>)>(&bytes);
            let _ = deserialize::<&str>(&bytes);
        }
    }
}
