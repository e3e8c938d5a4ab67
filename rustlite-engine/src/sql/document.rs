//! A stored document (named-field MessagePack) → a SQL row, decoding only the columns a query
//! reads.
//!
//! ```text
//! stored   {"id": 7, "user_id": 42, "amount": 990, "status": "paid"}      (msgpack map)
//! wanted   [  no,        yes,          yes,           no   ]
//! row      [ NULL,       42,           990,          NULL  ]
//! ```
//! The map is walked once with serde: a wanted field's value is decoded into a [`Value`],
//! every other value is skipped in place ([`IgnoredAny`]), and no `Value::Map` with owned
//! field names is built. A column is the value of the first map entry with exactly its name,
//! NULL when there is none — what `Value::field` answers on the fully decoded document. A
//! document that is not a map, or does not decode this way, falls back to the full decode, so
//! its errors and results are unchanged.

use crate::error::{Error, Result};
use crate::value::Value;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// The row of `names` (column names in declaration order) read from `doc`, decoding only the
/// columns whose `wanted` flag is set (all of them when `wanted` is None); the others are NULL.
pub fn decode_row(doc: &[u8], names: &[&str], wanted: Option<&[bool]>) -> Result<Vec<Value>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(doc);
    let visitor = RowVisitor { names, wanted };
    match de.deserialize_map(visitor) {
        Ok(row) => Ok(row),
        Err(_) => {
            let full = Value::from_msgpack(doc).map_err(|e| Error::Serialization(e.to_string()))?;
            Ok(names.iter().map(|n| full.field(n).clone()).collect())
        }
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
        let mut left = match self.wanted {
            Some(w) => w.iter().filter(|b| **b).count(),
            None => self.names.len(),
        };
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
                    left = left.saturating_sub(1);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if left == 0 {
                // Every wanted column is found; the rest of the map is not read (the
                // deserializer needs no trailing check, the slice is ours).
                break;
            }
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
