//! A stored document (named-field MessagePack) → a SQL row, decoding only the columns a query
//! reads.
//!
//! ```text
//! stored   {"id": 7, "user_id": 42, "amount": 990, "status": "paid"}      (msgpack map)
//! wanted   [  no,        yes,          yes,           no   ]
//! row      [ NULL,       42,           990,          NULL  ]
//! ```
//! The map is walked once: a wanted field's value is decoded into a [`Value`], every other
//! value is skipped in place, and no `Value::Map` with owned field names is built. A column is
//! the value of the first map entry with exactly its name, NULL when there is none — what
//! `Value::field` answers on the fully decoded document.
//!
//! Three decoders, each the fallback of the one before, so results and errors never depend on
//! which one answered:
//!
//! | decoder | handles | otherwise |
//! |---|---|---|
//! | [`Scalars`] (by hand, no serde) | a map (fix/16/32) of string keys whose values, up to the last wanted column, are nil, bool, integers, floats, UTF-8 strings or binaries | gives up (`None`) |
//! | `RowVisitor` (serde, [`IgnoredAny`] for skipped values, reads the whole map) | any map with string keys | errors |
//! | full decode ([`Value::from_msgpack`]) | any document | the decode error |
//!
//! The first is what SQL tables store (flat rows of scalars) and what a point query or a
//! fetch through an index decodes per row; it builds each value exactly as `Value`'s serde
//! visitor does from the same bytes (integers of any width → `Int`, or `UInt` above `i64::MAX`,
//! `float 32` widened to `Float`, `str` → `Text`, `bin` → `Bytes`), and gives up on everything
//! else (arrays, maps, extensions, invalid UTF-8, truncation).
//!
//! The direct walk stops at the last wanted column: damage after it, or an unrepresentable
//! value in a column the query does not read, is not seen. (The serde walk cannot stop early:
//! rmp_serde refuses a map left unfinished, and before the direct walk existed, a serde walk
//! that stopped early sent the row to the full decode.)

use crate::error::Result;
use crate::value::Value;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// The row of `names` (column names in declaration order) read from `doc`, decoding only the
/// columns whose `wanted` flag is set (all of them when `wanted` is None); the others are NULL.
pub fn decode_row(doc: &[u8], names: &[&str], wanted: Option<&[bool]>) -> Result<Vec<Value>> {
    if let Some(row) = Scalars::decode_row(doc, names, wanted) {
        return Ok(row);
    }
    decode_row_serde(doc, names, wanted)
}

/// [`decode_row`] without the hand-written decoder (its fallback, and its reference in tests).
fn decode_row_serde(doc: &[u8], names: &[&str], wanted: Option<&[bool]>) -> Result<Vec<Value>> {
    let mut de = crate::value::msgpack_deserializer(doc);
    let visitor = RowVisitor { names, wanted };
    match de.deserialize_map(visitor) {
        Ok(row) => Ok(row),
        Err(_) => {
            let full =
                Value::from_msgpack(doc).map_err(|e| crate::table::stored("row document", &e))?;
            Ok(names.iter().map(|n| full.field(n).clone()).collect())
        }
    }
}

/// How many of `names` a walk must find before it may stop: the wanted ones (all when `wanted`
/// is None).
fn wanted_count(names: &[&str], wanted: Option<&[bool]>) -> usize {
    match wanted {
        Some(w) => w.iter().filter(|b| **b).count(),
        None => names.len(),
    }
}

/// A MessagePack reader over the bytes of one document that handles scalars only; every method
/// returns `None` on anything else (see the module docs), and never reads past the slice.
struct Scalars<'a> {
    buf: &'a [u8],
}

impl<'a> Scalars<'a> {
    /// The row of `names` from `doc` (as [`decode_row`]), or `None` to take the serde path.
    fn decode_row(doc: &[u8], names: &[&str], wanted: Option<&[bool]>) -> Option<Vec<Value>> {
        let mut r = Scalars { buf: doc };
        let entries = r.map_len()?;
        let body = r.buf;
        if let Some(row) = r.decode_in_order(entries, names, wanted) {
            return Some(row);
        }
        r.buf = body;
        r.decode_any_order(entries, names, wanted)
    }

    /// The general walk of [`Scalars::decode_row`] over the map's `entries` (its header read):
    /// each key is looked up among `names`.
    fn decode_any_order(
        &mut self,
        entries: usize,
        names: &[&str],
        wanted: Option<&[bool]>,
    ) -> Option<Vec<Value>> {
        let r = self;
        let mut row = vec![Value::Null; names.len()];
        let mut set: smallvec::SmallVec<[bool; 32]> = smallvec::smallvec![false; names.len()];
        let mut left = wanted_count(names, wanted);
        for _ in 0..entries {
            let key = r.str_bytes()?;
            let pos = names.iter().position(|n| n.as_bytes() == key);
            if pos.is_none() {
                // A key that names no column must still be a string, as serde requires.
                std::str::from_utf8(key).ok()?;
            }
            let slot = pos.filter(|&i| {
                wanted.is_none_or(|w| w.get(i) == Some(&true)) && set.get(i) == Some(&false)
            });
            match slot {
                Some(i) => {
                    let v = r.value()?;
                    *row.get_mut(i)? = v;
                    *set.get_mut(i)? = true;
                    left = left.saturating_sub(1);
                }
                None => r.skip()?,
            }
            if left == 0 {
                break;
            }
        }
        Some(row)
    }

    /// The row when the map's first entries are the columns in declaration order (what a SQL
    /// insert and a typed collection write), up to the last wanted column; `None` on anything
    /// else, and the caller starts over with the general walk. With distinct `names` (a valid
    /// schema's), entry `i` is then the first with the name `names[i]`: the general walk's
    /// answer, built without its per-key search of `names` and without filling the row with
    /// NULLs first.
    fn decode_in_order(
        &mut self,
        entries: usize,
        names: &[&str],
        wanted: Option<&[bool]>,
    ) -> Option<Vec<Value>> {
        let want = |i: usize| wanted.is_none_or(|w| w.get(i) == Some(&true));
        let last = match wanted {
            None => names.len(),
            Some(w) => w.iter().rposition(|b| *b).map_or(0, |i| i + 1),
        };
        // No wanted column: the general walk still reads the first entry (and may refuse it).
        if last == 0 || last > entries || last > names.len() {
            return None;
        }
        let mut row = Vec::with_capacity(names.len());
        for (i, name) in names.iter().take(last).enumerate() {
            if self.str_bytes()? != name.as_bytes() {
                return None;
            }
            if want(i) {
                row.push(self.value()?);
            } else {
                self.skip()?;
                row.push(Value::Null);
            }
        }
        row.resize(names.len(), Value::Null);
        Some(row)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.buf.split_at_checked(n)?;
        self.buf = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A length of `width` bytes, big-endian (the widths MessagePack uses: 1, 2, 4).
    fn len(&mut self, width: usize) -> Option<usize> {
        let n = match width {
            1 => u64::from(self.byte()?),
            2 => u64::from(u16::from_be_bytes(self.array()?)),
            _ => u64::from(u32::from_be_bytes(self.array()?)),
        };
        usize::try_from(n).ok()
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x80..=0x8f => Some(usize::from(b & 0x0f)),
            0xde => self.len(2),
            0xdf => self.len(4),
            _ => None,
        }
    }

    /// The bytes of a string (a key: equal to a column name's bytes, it is valid UTF-8).
    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.len(1)?,
            0xda => self.len(2)?,
            0xdb => self.len(4)?,
            _ => return None,
        };
        self.take(n)
    }

    /// One scalar value, as `Value`'s serde visitor builds it.
    fn value(&mut self) -> Option<Value> {
        let b = self.byte()?;
        Some(match b {
            0x00..=0x7f => Value::Int(i64::from(b)),
            0xe0..=0xff => Value::Int(i64::from(b as i8)),
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xcc => Value::Int(i64::from(self.byte()?)),
            0xcd => Value::Int(i64::from(u16::from_be_bytes(self.array()?))),
            0xce => Value::Int(i64::from(u32::from_be_bytes(self.array()?))),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::Int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.array()?)),
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.array()?)),
            0xa0..=0xbf | 0xd9..=0xdb => {
                // Re-read the marker through `str` (it is one byte back).
                let n = match b {
                    0xd9 => self.len(1)?,
                    0xda => self.len(2)?,
                    0xdb => self.len(4)?,
                    _ => usize::from(b & 0x1f),
                };
                Value::Text(std::str::from_utf8(self.take(n)?).ok()?.to_owned())
            }
            0xc4..=0xc6 => {
                let n = self.len(1 << (b - 0xc4))?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            _ => return None,
        })
    }

    /// Skips one scalar value (what [`Scalars::value`] would decode) without building it.
    fn skip(&mut self) -> Option<()> {
        let b = self.byte()?;
        let n = match b {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xce | 0xd2 | 0xca => 4,
            0xd3 | 0xcb => 8,
            0xcf => 8,
            0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 | 0xc4 => self.len(1)?,
            0xda | 0xc5 => self.len(2)?,
            0xdb | 0xc6 => self.len(4)?,
            _ => return None,
        };
        self.take(n).map(drop)
    }
}

struct RowVisitor<'n> {
    names: &'n [&'n str],
    wanted: Option<&'n [bool]>,
}

impl<'de> Visitor<'de> for RowVisitor<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Vec<Value>, A::Error> {
        let mut row = vec![Value::Null; self.names.len()];
        // Which columns are filled (on the stack for up to 32 columns: no allocation per row).
        let mut set: smallvec::SmallVec<[bool; 32]> = smallvec::smallvec![false; self.names.len()];
        while let Some(pos) = map.next_key_seed(KeySeed { names: self.names })? {
            let take = match pos {
                Some(i) => {
                    let wanted = self.wanted.is_none_or(|w| w.get(i) == Some(&true));
                    wanted && set.get(i) == Some(&false)
                }
                None => false,
            };
            match (take, pos) {
                (true, Some(i)) => {
                    let v: Value = map.next_value()?;
                    if let (Some(slot), Some(s)) = (row.get_mut(i), set.get_mut(i)) {
                        *slot = v;
                        *s = true;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            // No early stop here: rmp_serde refuses a map left unfinished, and that error
            // would send the row to the full decode.
        }
        Ok(row)
    }
}

/// Deserializes a map key into the position of the column it names (None: not a column).
struct KeySeed<'n> {
    names: &'n [&'n str],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> std::result::Result<Option<usize>, E> {
        Ok(self.names.iter().position(|n| *n == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(fields: &[(&str, Value)]) -> Vec<u8> {
        Value::Map(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
        .to_msgpack()
        .expect("encodes")
    }

    #[test]
    fn decodes_only_wanted_columns() -> Result<()> {
        let d = doc(&[
            ("id", Value::Int(7)),
            ("name", Value::Text("ada".into())),
            (
                "tags",
                Value::Array(vec![Value::Int(1), Value::Text("x".into())]),
            ),
            ("age", Value::Float(3.5)),
        ]);
        let names = ["id", "name", "tags", "age", "missing"];
        assert_eq!(
            decode_row(&d, &names, Some(&[false, true, false, true, true]))?,
            [
                Value::Null,
                Value::Text("ada".into()),
                Value::Null,
                Value::Float(3.5),
                Value::Null
            ]
        );
        let full = Value::from_msgpack(&d)?;
        let expect: Vec<Value> = names.iter().map(|n| full.field(n).clone()).collect();
        assert_eq!(decode_row(&d, &names, None)?, expect);
        Ok(())
    }

    /// `decode_row`'s answer to `doc`, for every `wanted` of `names`, against the reference: the
    /// full decode's fields. When the document decodes, every wanted column equals the
    /// reference's (unwanted ones may be anything: the serde path falls back to the full
    /// decode when it stops early, since rmp_serde refuses a map left unfinished). When it does
    /// not (damage, or a value `Value` cannot hold), an error is not required: nothing after the
    /// last wanted column is read.
    fn same_answers(doc: &[u8], names: &[&str]) {
        let n = names.len();
        let reference = Value::from_msgpack(doc).map(|full| {
            names
                .iter()
                .map(|c| full.field(c).clone())
                .collect::<Vec<_>>()
        });
        for bits in 0..(1u32 << n) + 1 {
            let mask: Vec<bool> = (0..n).map(|i| bits & (1 << i) != 0).collect();
            let wanted = (bits < 1 << n).then_some(mask.as_slice());
            let fast = decode_row(doc, names, wanted);
            match (&fast, &reference) {
                (Ok(row), Ok(full)) => {
                    for (i, (a, b)) in row.iter().zip(full).enumerate() {
                        if wanted.is_none_or(|w| w[i]) {
                            // Bit for bit (NaN included): compared as encoded.
                            assert_eq!(
                                a.to_msgpack().ok(),
                                b.to_msgpack().ok(),
                                "{doc:02x?} {wanted:?}"
                            );
                        }
                    }
                    assert_eq!(row.len(), n);
                }
                (Err(_), Err(_)) => {}
                (Ok(row), Err(_)) => assert_eq!(row.len(), n),
                (Err(e), Ok(_)) => panic!("{doc:02x?} {wanted:?}: {e}"),
            }
        }
    }

    /// Hand-made documents with every scalar encoding (widths rmp_serde never writes for
    /// `Value`, but other writers may), nested and odd values, duplicate and non-string keys,
    /// truncations: the direct decoder answers exactly as the serde one.
    #[test]
    fn direct_decoder_matches_serde_on_every_encoding() {
        let names = ["a", "b", "c"];
        let key = |k: &str| -> Vec<u8> {
            let mut v = vec![0xa0 | k.len() as u8];
            v.extend(k.as_bytes());
            v
        };
        let values: Vec<Vec<u8>> = vec![
            vec![0x05],
            vec![0xff],
            vec![0xc0],
            vec![0xc2],
            vec![0xc3],
            vec![0xcc, 0xfe],
            vec![0xcd, 0x12, 0x34],
            vec![0xce, 0x80, 0, 0, 1],
            vec![0xcf, 0, 0, 0, 0, 0, 0, 1, 0],
            vec![0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0], // above i64::MAX
            vec![0xd0, 0x80],
            vec![0xd1, 0x80, 0],
            vec![0xd2, 0xff, 0xff, 0xff, 0xfe],
            vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
            vec![0xca, 0x3f, 0xc0, 0, 0],
            vec![0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
            vec![0xa2, b'h', b'i'],
            vec![0xd9, 1, b'x'],
            vec![0xda, 0, 2, b'x', b'y'],
            vec![0xdb, 0, 0, 0, 1, b'z'],
            vec![0xa2, 0xff, 0xfe], // invalid UTF-8
            vec![0xc4, 2, 1, 2],
            vec![0xc5, 0, 1, 9],
            vec![0xc6, 0, 0, 0, 0],
            vec![0x92, 0x01, 0xa1, b'q'], // array
            vec![0x81, 0xa1, b'k', 0x01], // map
            vec![0xd4, 0x01, 0x02],       // fixext 1
            vec![0xc1],                   // never used
            vec![0xcd, 0x12],             // truncated
            vec![0xd9, 5, b'x'],          // truncated
        ];
        for v in &values {
            for k in ["a", "b", "zz"] {
                for (header, extra) in [
                    (vec![0x82], 1),
                    (vec![0xde, 0, 2], 1),
                    (vec![0xdf, 0, 0, 0, 2], 1),
                    (vec![0x83], 2),
                ] {
                    let mut doc = header;
                    doc.extend(key(k));
                    doc.extend(v);
                    for _ in 0..extra {
                        doc.extend(key("c"));
                        doc.extend([0x07]);
                    }
                    same_answers(&doc, &names);
                    // The same value again under `a` (duplicate keys), after it.
                    doc.extend(key("a"));
                    doc.extend(v);
                    same_answers(&doc, &names);
                }
            }
        }
        // Non-string keys, empty maps, non-maps, nothing at all.
        for doc in [
            vec![0x81, 0x01, 0x02],
            vec![0x80],
            vec![0xde, 0, 0],
            vec![0x07],
            vec![0x91, 0x01],
            vec![],
            vec![0x81, 0xa1, b'a'],
        ] {
            same_answers(&doc, &names);
        }
    }

    /// For every `wanted` of `names`: when the in-order walk answers `doc`, the general walk
    /// answers the same, bit for bit. Returns how many masks the in-order walk answered.
    fn in_order_matches_general(doc: &[u8], names: &[&str]) -> usize {
        let n = names.len();
        let mut answered = 0;
        for bits in 0..(1u32 << n) + 1 {
            let mask: Vec<bool> = (0..n).map(|i| bits & (1 << i) != 0).collect();
            let wanted = (bits < 1 << n).then_some(mask.as_slice());
            let mut r = Scalars { buf: doc };
            let Some(entries) = r.map_len() else {
                return answered;
            };
            let body = r.buf;
            let Some(fast) = r.decode_in_order(entries, names, wanted) else {
                continue;
            };
            answered += 1;
            r.buf = body;
            let general = r.decode_any_order(entries, names, wanted);
            let encode =
                |row: &[Value]| row.iter().map(|v| v.to_msgpack().ok()).collect::<Vec<_>>();
            assert_eq!(
                Some(encode(&fast)),
                general.as_deref().map(encode),
                "{doc:02x?} {wanted:?}"
            );
        }
        answered
    }

    #[test]
    fn in_order_walk_answers_declaration_order_documents() {
        let d = doc(&[
            ("id", Value::Int(7)),
            ("name", Value::Text("ada".into())),
            ("age", Value::Null),
        ]);
        let names = ["id", "name", "age"];
        // Every mask but the empty one (the general walk reads a first entry even then).
        assert_eq!(in_order_matches_general(&d, &names), (1 << 3) + 1 - 1);
        // Out of order, a missing column, an extra one: not answered in order, same rows.
        let swapped = doc(&[("name", Value::Text("ada".into())), ("id", Value::Int(7))]);
        assert_eq!(in_order_matches_general(&swapped, &names), 0);
        assert_eq!(
            decode_row(&swapped, &names, None).ok(),
            Some(vec![Value::Int(7), Value::Text("ada".into()), Value::Null])
        );
        let extra = doc(&[
            ("id", Value::Int(1)),
            ("x", Value::Int(2)),
            ("age", Value::Int(3)),
        ]);
        assert_eq!(
            decode_row(&extra, &names, None).ok(),
            Some(vec![Value::Int(1), Value::Null, Value::Int(3)])
        );
    }

    proptest::proptest! {
        /// Documents whose entries start with the columns in order (what SQL writes), then
        /// anything: the in-order walk, when it answers, answers as the general one.
        #[test]
        fn in_order_walk_matches_the_general_walk(
            values in proptest::collection::vec(value_strategy(), 0..5),
            extra in proptest::collection::vec((0usize..4, value_strategy()), 0..3),
        ) {
            let names = ["a", "b", "c", "d"];
            let mut fields: Vec<(&str, Value)> =
                names.iter().copied().zip(values.iter().cloned()).collect();
            fields.extend(extra.iter().map(|(k, v)| (names[*k], v.clone())));
            let d = doc(&fields);
            in_order_matches_general(&d, &names);
            same_answers(&d, &names);
        }

        /// Documents written from `Value`s (what the table layer stores): the same rows.
        #[test]
        fn direct_decoder_matches_serde_on_stored_documents(
            fields in proptest::collection::vec((0usize..4, value_strategy()), 0..6),
        ) {
            let names = ["a", "b", "c", "d"];
            let d = doc(&fields.iter().map(|(k, v)| (names[*k], v.clone())).collect::<Vec<_>>());
            same_answers(&d, &names);
        }

        /// Arbitrary bytes: equal rows or both errors.
        #[test]
        fn direct_decoder_matches_serde_on_arbitrary_bytes(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
        ) {
            let mut d = vec![0x82, 0xa1, b'a'];
            d.extend(bytes);
            same_answers(&d, &["a", "b"]);
        }
    }

    fn value_strategy() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let scalar = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            (-300i64..300).prop_map(Value::Int),
            (1u64 << 63..=u64::MAX).prop_map(Value::UInt),
            any::<f64>().prop_map(Value::Float),
            ".{0,40}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ];
        scalar.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec(("[a-c]", inner), 0..3).prop_map(Value::Map),
            ]
        })
    }

    #[test]
    fn first_entry_wins_and_non_maps_fall_back() -> Result<()> {
        let d = doc(&[("a", Value::Int(1)), ("a", Value::Int(2))]);
        assert_eq!(decode_row(&d, &["a"], None)?, [Value::Int(1)]);
        let not_map = Value::Int(5).to_msgpack()?;
        assert_eq!(decode_row(&not_map, &["a"], None)?, [Value::Null]);
        assert!(decode_row(&[0xc1], &["a"], None).is_err());
        Ok(())
    }
}
