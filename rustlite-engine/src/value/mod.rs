//! [`Value`]: the dynamic value of a document field, an SQL expression or a key component.
//!
//! The typed layer stores documents as named-field MessagePack; the engine (indexes, SQL, the
//! shell) reads them as `Value` trees through the serde impls below. Primary keys and index values
//! are stored with the order-preserving key encoding of [`Value::append_key`], computed from the
//! `Value` in one place, so a key written by the typed layer and one written by SQL are the same
//! bytes.
//!
//! ```text
//! key encoding   tag   payload
//! Null           0x01
//! Bool           0x02  00 | 01
//! Int (i64)      0x03  8 bytes big-endian, sign bit flipped
//! UInt (u64)     0x08  8 bytes big-endian (only above i64::MAX: the integers after every Int)
//! Float (f64)    0x04  8 bytes in total order (NaN canonical, last; -0.0 written as 0.0)
//! Text           0x05  bytes with 00 escaped as 00 ff, terminated by 00 00
//! Bytes          0x06  same escaping as Text
//! Array          0x07  each element's encoding, then 00
//! Map            (not orderable: an error)
//! ```
//! Tags 0x01–0x07 are increasing in the order SQL sorts mixed types (NULL first). `UInt` came
//! later and could not take a tag between `Int` and `Float` without changing stored keys, so it
//! sorts last: a column of integers (`Int` and `UInt`, as a `u64` field holds) is still in
//! numeric order, but in a column mixing integers above `i64::MAX` with other types, key order
//! puts them after the rest (SQL's `ORDER BY` still sorts them as numbers). Every encoding is
//! self-delimiting, so composite keys are concatenations and a prefix of the components is a
//! byte prefix of the key.
//!
//! **Integers.** An integer is `Int` whenever it fits in `i64`, and `UInt` only above
//! `i64::MAX` (a `u64` field's upper half), so each integer has exactly one `Value` and one key
//! encoding: [`Value::from`] a `u64`, the serde paths and the SQL parser all choose the variant
//! this way, and a decoder refuses a `UInt` key that would fit an `Int`.
//!
//! | module | owns |
//! |---|---|
//! | `serializer` | the direct serde path of [`Value::from_serialize`] for keys and query values |

use crate::codec::keycode;
use crate::error::{Error, Result};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

mod serializer;

/// A dynamically typed value. An integer is `Int` when it fits in `i64` and `UInt` above
/// `i64::MAX` (see the module docs): build integers with `Value::from`, which picks the variant.
///
/// ```
/// use rustlite_engine::Value;
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct User { name: String, age: i64 }
/// let user = User { name: "ann".into(), age: 41 };
/// let v = Value::from_serialize(&user)?;
/// assert_eq!(v.field("age"), &Value::Int(41));
/// assert_eq!(v.deserialize_into::<User>()?, user);
/// // Keys sort like the values they encode.
/// assert!(Value::Int(-5).to_key()? < Value::Int(3).to_key()?);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// SQL NULL / `Option::None` / a missing field.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX` (never a smaller one: that is an `Int`).
    UInt(u64),
    /// A 64-bit float.
    Float(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A sequence (e.g. `Vec<String>`, a tuple, a composite key).
    Array(Vec<Value>),
    /// A nested document: named fields in order.
    Map(Vec<(String, Value)>),
}

/// How many levels arrays and documents may nest within each other in a stored value (a
/// document, a key): 100, as in MongoDB. A deeper value is refused when it is written
/// ([`Error::InvalidArgument`]) and when stored bytes are read back, so decoding a damaged
/// or hostile document or key never recurses deep enough to overflow the stack.
pub const MAX_NESTING: usize = 100;

/// A MessagePack deserializer over `bytes` that refuses values nested deeper than
/// [`MAX_NESTING`] (rmp-serde counts every array and map; it fails when its counter reaches 0).
pub(crate) fn msgpack_deserializer(
    bytes: &[u8],
) -> rmp_serde::Deserializer<rmp_serde::decode::ReadRefReader<'_, [u8]>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_NESTING + 1);
    de
}

const TAG_NULL: u8 = 0x01;
const TAG_BOOL: u8 = 0x02;
const TAG_INT: u8 = 0x03;
const TAG_FLOAT: u8 = 0x04;
const TAG_TEXT: u8 = 0x05;
const TAG_BYTES: u8 = 0x06;
const TAG_ARRAY: u8 = 0x07;
const TAG_UINT: u8 = 0x08;
const ARRAY_END: u8 = 0x00;

impl Value {
    /// The value of field `name` of a document (`Null` when absent or not a document).
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// let doc = Value::Map(vec![("name".into(), Value::Text("ann".into()))]);
    /// assert_eq!(doc.field("name"), &Value::Text("ann".into()));
    /// assert!(doc.field("age").is_null());
    /// ```
    pub fn field(&self, name: &str) -> &Value {
        match self {
            Value::Map(fields) => fields
                .iter()
                .find(|(k, _)| k == name)
                .map_or(&Value::Null, |(_, v)| v),
            _ => &Value::Null,
        }
    }

    /// The value at a dotted path (`"address.city"`).
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// let address = Value::Map(vec![("city".into(), Value::Text("Oslo".into()))]);
    /// let doc = Value::Map(vec![("address".into(), address)]);
    /// assert_eq!(doc.path("address.city"), &Value::Text("Oslo".into()));
    /// assert!(doc.path("address.zip").is_null());
    /// ```
    pub fn path(&self, path: &str) -> &Value {
        path.split('.').fold(self, |v, part| v.field(part))
    }

    /// Whether this is `Null`.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert!(Value::Null.is_null());
    /// assert!(!Value::Int(0).is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer an `Int` or `UInt` holds, widened so both fit.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert_eq!(Value::Int(-3).as_integer(), Some(-3));
    /// assert_eq!(Value::from(u64::MAX).as_integer(), Some(u64::MAX as i128));
    /// assert_eq!(Value::Float(1.0).as_integer(), None);
    /// ```
    pub fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(i128::from(*i)),
            Value::UInt(u) => Some(i128::from(*u)),
            _ => None,
        }
    }

    /// This value in its one form: a `UInt` that fits in `i64` (only a hand-built
    /// `Value::UInt`, which `Value::from` never makes) becomes the `Int` it equals.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert_eq!(Value::UInt(5).canonical(), Value::Int(5));
    /// assert_eq!(Value::UInt(u64::MAX).canonical(), Value::UInt(u64::MAX));
    /// ```
    pub fn canonical(self) -> Value {
        match self {
            Value::UInt(u) => Value::from(u),
            other => other,
        }
    }

    /// A number as `f64` (integers rounded to the nearest float); `None` for non-numbers.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert_eq!(Value::Int(2).as_f64(), Some(2.0));
    /// assert_eq!(Value::Text("2".into()).as_f64(), None);
    /// ```
    #[expect(clippy::cast_precision_loss, reason = "SQL semantics of INT -> REAL")]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::UInt(u) => Some(*u as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Integer `i` as its one `Value` (`Int`, or `UInt` above `i64::MAX`); `None` when it is
    /// below `i64::MIN` or above `u64::MAX`.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert_eq!(Value::from_integer(5), Some(Value::Int(5)));
    /// assert_eq!(Value::from_integer(1 << 63), Some(Value::UInt(1 << 63)));
    /// assert_eq!(Value::from_integer(1 << 64), None);
    /// ```
    pub fn from_integer(i: i128) -> Option<Value> {
        match i64::try_from(i) {
            Ok(i) => Some(Value::Int(i)),
            Err(_) => u64::try_from(i).ok().map(Value::UInt),
        }
    }

    /// A short name of the value's type, for error messages.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert_eq!(Value::Int(1).type_name(), "INTEGER");
    /// assert_eq!(Value::Map(vec![]).type_name(), "DOCUMENT");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "BOOLEAN",
            Value::Int(_) | Value::UInt(_) => "INTEGER",
            Value::Float(_) => "REAL",
            Value::Text(_) => "TEXT",
            Value::Bytes(_) => "BLOB",
            Value::Array(_) => "ARRAY",
            Value::Map(_) => "DOCUMENT",
        }
    }

    /// Appends the order-preserving key encoding (see the module docs).
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// let mut key = Vec::new();
    /// Value::Text("ann".into()).append_key(&mut key)?;
    /// Value::Int(7).append_key(&mut key)?; // a composite key is a concatenation
    /// let (first, rest) = Value::decode_key(&key)?;
    /// assert_eq!(first, Value::Text("ann".into()));
    /// assert_eq!(Value::decode_key(rest)?.0, Value::Int(7));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn append_key(&self, out: &mut Vec<u8>) -> Result<()> {
        self.check_nesting()?;
        self.append_key_unchecked(out)
    }

    /// [`Error::InvalidArgument`] when arrays and documents nest in this value more than
    /// [`MAX_NESTING`] levels deep.
    ///
    /// ```
    /// use rustlite_engine::{value::MAX_NESTING, Value};
    /// let nested = |depth| (0..depth).fold(Value::Null, |v, _| Value::Array(vec![v]));
    /// assert!(nested(MAX_NESTING).check_nesting().is_ok());
    /// assert!(nested(MAX_NESTING + 1).check_nesting().is_err());
    /// ```
    pub fn check_nesting(&self) -> Result<()> {
        if self.nests_deeper_than(MAX_NESTING) {
            return Err(Error::InvalidArgument(format!(
                "a value nests arrays or documents more than {MAX_NESTING} levels deep"
            )));
        }
        Ok(())
    }

    /// Whether arrays and documents nest more than `levels` deep (recursing at most
    /// `levels + 1` calls deep).
    fn nests_deeper_than(&self, levels: usize) -> bool {
        // Called only when `levels` > 0 (the `levels == 0 ||` below decides first).
        let deeper = |c: &Value| c.nests_deeper_than(levels - 1);
        match self {
            Value::Array(items) => levels == 0 || items.iter().any(deeper),
            Value::Map(fields) => levels == 0 || fields.iter().any(|(_, c)| deeper(c)),
            _ => false,
        }
    }

    fn append_key_unchecked(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Value::Null => out.push(TAG_NULL),
            Value::Bool(b) => {
                out.push(TAG_BOOL);
                out.push(u8::from(*b));
            }
            Value::Int(i) => {
                out.push(TAG_INT);
                keycode::append(out, i)?;
            }
            // A hand-built `UInt` within `i64` is keyed as the `Int` it equals.
            Value::UInt(u) => match i64::try_from(*u) {
                Ok(i) => Value::Int(i).append_key_unchecked(out)?,
                Err(_) => {
                    out.push(TAG_UINT);
                    out.extend_from_slice(&u.to_be_bytes());
                }
            },
            Value::Float(f) => {
                out.push(TAG_FLOAT);
                // -0.0 is keyed as 0.0: SQL's `=` holds them equal, so one key must find both.
                keycode::append(out, &if *f == 0.0 { 0.0 } else { *f })?;
            }
            Value::Text(s) => {
                out.push(TAG_TEXT);
                keycode::append(out, s.as_str())?;
            }
            Value::Bytes(b) => {
                out.push(TAG_BYTES);
                keycode::append(out, &Bytes(b))?;
            }
            Value::Array(items) => {
                out.push(TAG_ARRAY);
                for item in items {
                    item.append_key_unchecked(out)?;
                }
                out.push(ARRAY_END);
            }
            Value::Map(_) => {
                return Err(Error::InvalidArgument(
                    "a document cannot be used as a key or index value".into(),
                ))
            }
        }
        Ok(())
    }

    /// The key encoding of this value alone.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert!(Value::Null.to_key()? < Value::Bool(false).to_key()?); // NULL sorts first
    /// assert!(Value::Text("a".into()).to_key()? < Value::Text("b".into()).to_key()?);
    /// assert!(Value::Map(vec![]).to_key().is_err()); // documents are not orderable
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn to_key(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.append_key(&mut out)?;
        Ok(out)
    }

    /// Decodes one key-encoded value from the front of `bytes`; returns it and the rest.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// let mut bytes = Value::Float(1.5).to_key()?;
    /// bytes.extend_from_slice(b"tail");
    /// let (v, rest) = Value::decode_key(&bytes)?;
    /// assert_eq!((v, rest), (Value::Float(1.5), &b"tail"[..]));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn decode_key(bytes: &[u8]) -> Result<(Value, &[u8])> {
        Value::decode_key_within(bytes, MAX_NESTING)
    }

    /// [`decode_key`](Self::decode_key) of a value whose arrays nest at most `levels` deep.
    fn decode_key_within(bytes: &[u8], levels: usize) -> Result<(Value, &[u8])> {
        let bad = |what: &str| Error::InvalidArgument(format!("invalid key encoding: {what}"));
        let (&tag, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        Ok(match tag {
            TAG_NULL => (Value::Null, rest),
            TAG_BOOL => match rest.split_first() {
                Some((0, r)) => (Value::Bool(false), r),
                Some((1, r)) => (Value::Bool(true), r),
                _ => return Err(bad("bool")),
            },
            TAG_INT => {
                let (v, r) = keycode::deserialize_prefix::<i64>(rest)?;
                (Value::Int(v), r)
            }
            TAG_UINT => {
                let (head, r) = rest.split_first_chunk::<8>().ok_or_else(|| bad("uint"))?;
                match Value::from(u64::from_be_bytes(*head)) {
                    v @ Value::UInt(_) => (v, r),
                    _ => return Err(bad("an unsigned integer within i64 (non-canonical)")),
                }
            }
            TAG_FLOAT => {
                let (v, r) = keycode::deserialize_prefix::<f64>(rest)?;
                (Value::Float(v), r)
            }
            TAG_TEXT => {
                let (v, r) = keycode::deserialize_prefix::<String>(rest)?;
                (Value::Text(v), r)
            }
            TAG_BYTES => {
                let (v, r) = keycode::deserialize_prefix::<ByteBuf>(rest)?;
                (Value::Bytes(v.0), r)
            }
            TAG_ARRAY => {
                let levels = levels
                    .checked_sub(1)
                    .ok_or_else(|| bad(&format!("arrays nested over {MAX_NESTING} deep")))?;
                let mut items = Vec::new();
                let mut r = rest;
                loop {
                    match r.split_first() {
                        Some((&ARRAY_END, after)) => {
                            r = after;
                            break;
                        }
                        Some(_) => {
                            let (item, after) = Value::decode_key_within(r, levels)?;
                            items.push(item);
                            r = after;
                        }
                        None => return Err(bad("unterminated array")),
                    }
                }
                (Value::Array(items), r)
            }
            other => return Err(bad(&format!("unknown tag {other:#04x}"))),
        })
    }

    /// Reads a document (named-field MessagePack) into a `Value`.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// let doc = Value::Map(vec![("n".into(), Value::Int(1))]);
    /// let bytes = doc.to_msgpack()?;
    /// assert_eq!(Value::from_msgpack(&bytes)?, doc);
    /// assert!(Value::from_msgpack(&[0xc1]).is_err()); // 0xc1 is never valid MessagePack
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn from_msgpack(bytes: &[u8]) -> Result<Value> {
        Value::deserialize(&mut msgpack_deserializer(bytes))
            .map_err(|e| Error::InvalidArgument(format!("cannot decode document: {e}")))
    }

    /// Writes this value as named-field MessagePack.
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert_eq!(Value::Int(5).to_msgpack()?, [0x05]); // a positive fixint
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn to_msgpack(&self) -> Result<Vec<u8>> {
        self.check_nesting()?;
        rmp_serde::to_vec_named(self)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode document: {e}")))
    }

    /// Converts any serializable value (e.g. a user struct) into a `Value`: what its named-field
    /// MessagePack reads back as. Scalars, options, newtypes and tuples (keys, query values) are
    /// converted directly; everything else goes through MessagePack (see `serializer`).
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// assert_eq!(Value::from_serialize(&(7u64, "a"))?, Value::Array(vec![Value::Int(7), Value::Text("a".into())]));
    /// assert_eq!(Value::from_serialize(&u64::MAX)?, Value::UInt(u64::MAX)); // above i64::MAX
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
        if let Ok(v) = serializer::to_value(value) {
            return Ok(v);
        }
        let bytes = rmp_serde::to_vec_named(value)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode value: {e}")))?;
        Value::from_msgpack(&bytes)
    }

    /// Converts this value into any deserializable type (e.g. a user struct, by field name).
    ///
    /// ```
    /// use rustlite_engine::Value;
    /// let v = Value::Array(vec![Value::Int(1), Value::Int(2)]);
    /// assert_eq!(v.deserialize_into::<Vec<u8>>()?, [1, 2]);
    /// assert!(Value::Text("x".into()).deserialize_into::<i64>().is_err());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let bytes = self.to_msgpack()?;
        rmp_serde::from_slice(&bytes)
            .map_err(|e| Error::InvalidArgument(format!("cannot convert value: {e}")))
    }
}

/// Serializes a byte slice as serde bytes (not as a sequence).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Deserializes serde bytes into an owned buffer.
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => s.serialize_u64(*u),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some((k, v)) = map.next_entry::<MapKey, Value>()? {
            fields.push((k.0, v));
        }
        Ok(Value::Map(fields))
    }
}

/// A map key: text as is, other scalars rendered as text (MessagePack allows any key type).
struct MapKey(String);

impl<'de> Deserialize<'de> for MapKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(MapKey(match v {
            Value::Text(s) => s,
            other => other.to_string(),
        }))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
            Value::Bytes(b) => {
                f.write_str("x'")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str("'")
            }
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Doc {
        id: u64,
        name: String,
        score: f64,
        tags: Vec<String>,
        nick: Option<String>,
        inner: Inner,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Inner {
        city: String,
    }

    fn nested(depth: usize) -> Value {
        (0..depth).fold(Value::Int(1), |v, _| Value::Array(vec![v]))
    }

    /// Stored bytes nesting arrays deeper than `MAX_NESTING` are refused, however deep: before,
    /// `decode_key` recursed once per array tag (a key of a few hundred 0x07 bytes overflowed
    /// the stack) and documents relied on rmp-serde's limit of 1024 levels (which overflowed
    /// first).
    #[test]
    fn deep_nesting_is_refused_on_write_and_on_read() {
        let ok = nested(MAX_NESTING);
        let key = ok.to_key().expect("key");
        assert_eq!(Value::decode_key(&key).expect("decode").0, ok);
        let doc = ok.to_msgpack().expect("document");
        assert_eq!(Value::from_msgpack(&doc).expect("decode"), ok);
        let map = Value::Map(vec![("v".into(), nested(MAX_NESTING - 1))]);
        assert_eq!(
            Value::from_msgpack(&map.to_msgpack().expect("doc")).ok(),
            Some(map)
        );

        let deep = nested(MAX_NESTING + 1);
        assert!(deep.to_key().is_err());
        assert!(deep.to_msgpack().is_err());
        let map = Value::Map(vec![("v".into(), nested(MAX_NESTING))]);
        assert!(map.to_msgpack().is_err());

        for depth in [MAX_NESTING + 1, 200_000] {
            let mut key = vec![TAG_ARRAY; depth];
            key.push(TAG_NULL);
            key.extend(std::iter::repeat_n(ARRAY_END, depth));
            assert!(Value::decode_key(&key).is_err(), "{depth}");
            // An array of one element, `depth` times, around nil.
            let mut doc = vec![0x91; depth];
            doc.push(0xc0);
            assert!(Value::from_msgpack(&doc).is_err(), "{depth}");
            assert!(
                crate::table::decode_document::<Value>(&doc).is_err(),
                "{depth}"
            );
        }
    }

    #[test]
    fn documents_round_trip_through_value() {
        let doc = Doc {
            id: 7,
            name: "ada".into(),
            score: 1.5,
            tags: vec!["a".into()],
            nick: None,
            inner: Inner {
                city: "Oslo".into(),
            },
        };
        let v = Value::from_serialize(&doc).expect("to value");
        assert_eq!(v.field("id"), &Value::Int(7));
        assert_eq!(v.field("nick"), &Value::Null);
        assert_eq!(v.path("inner.city"), &Value::Text("Oslo".into()));
        assert_eq!(v.field("missing"), &Value::Null);
        let back: Doc = v.deserialize_into().expect("from value");
        assert_eq!(back, doc);
    }

    #[test]
    fn integers_above_i64_are_uint_with_keys_after_every_int() -> Result<()> {
        assert_eq!(Value::from_serialize(&u64::MAX)?, Value::UInt(u64::MAX));
        assert_eq!(Value::from_serialize(&7u64)?, Value::Int(7));
        let doc = Doc {
            id: u64::MAX,
            name: String::new(),
            score: 0.0,
            tags: vec![],
            nick: None,
            inner: Inner {
                city: String::new(),
            },
        };
        let v = Value::from_serialize(&doc)?;
        assert_eq!(v.field("id"), &Value::UInt(u64::MAX));
        assert_eq!(Value::from_msgpack(&v.to_msgpack()?)?, v);
        assert_eq!(v.deserialize_into::<Doc>()?, doc);
        // Numeric key order across the two variants, and the canonical form enforced.
        let keys: Vec<Vec<u8>> = [
            Value::Int(i64::MIN),
            Value::Int(-1),
            Value::Int(i64::MAX),
            Value::UInt(1 << 63),
            Value::UInt(u64::MAX),
        ]
        .iter()
        .map(Value::to_key)
        .collect::<Result<_>>()?;
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        // A hand-built UInt within i64 keys as the Int it equals.
        assert_eq!(Value::UInt(5).to_key()?, Value::Int(5).to_key()?);
        assert_eq!(Value::UInt(5).canonical(), Value::Int(5));
        let mut non_canonical = vec![TAG_UINT];
        non_canonical.extend_from_slice(&5u64.to_be_bytes());
        assert!(Value::decode_key(&non_canonical).is_err());
        assert!(
            Value::decode_key(&[TAG_UINT, 0xff, 0xff]).is_err(),
            "truncated"
        );
        Ok(())
    }

    #[test]
    fn key_golden_bytes() {
        let hex = |v: &Value| {
            v.to_key()
                .expect("key")
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(hex(&Value::Null), "01");
        assert_eq!(hex(&Value::Bool(true)), "0201");
        assert_eq!(hex(&Value::Int(-1)), "037fffffffffffffff");
        assert_eq!(hex(&Value::Int(1)), "038000000000000001");
        assert_eq!(hex(&Value::UInt(u64::MAX)), "08ffffffffffffffff");
        assert_eq!(hex(&Value::Text(String::new())), "050000");
        assert_eq!(hex(&Value::Text("a\0".into())), "056100ff0000");
        assert_eq!(
            hex(&Value::Array(vec![Value::Int(0), Value::Text("x".into())])),
            "070380000000000000000578000000"
        );
        assert!(Value::Map(vec![]).to_key().is_err());
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("NaN", |f| !f.is_nan())
                .prop_map(Value::Float),
            ".{0,8}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        ]
    }

    fn same_type_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
        match (a, b) {
            (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
            (Value::Int(_) | Value::UInt(_), Value::Int(_) | Value::UInt(_)) => {
                Some(a.as_integer().cmp(&b.as_integer()))
            }
            (Value::Float(x), Value::Float(y)) => x.partial_cmp(y), // -0.0 == 0.0
            (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
            (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
            _ => None,
        }
    }

    proptest! {
        #[test]
        fn key_encoding_preserves_order_and_round_trips(a in scalar(), b in scalar()) {
            let ka = a.to_key().expect("key");
            let kb = b.to_key().expect("key");
            if let Some(ord) = same_type_cmp(&a, &b) {
                prop_assert_eq!(ord, ka.cmp(&kb));
            }
            let (back, rest) = Value::decode_key(&ka).expect("decode");
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back.to_key().expect("key"), ka.clone());
            // Composite keys: the encoding of a prefix is a byte prefix.
            let mut both = ka.clone();
            b.append_key(&mut both).expect("key");
            prop_assert!(both.starts_with(&ka));
        }

        #[test]
        fn decode_key_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Value::decode_key(&bytes);
        }
    }
}
