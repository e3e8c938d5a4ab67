//! One key space, tagged: the first byte of every engine key says what kind of key it is.
//!
//! ```text
//! 0x00 raw KV          [0x00][user key]                              -> user value
//! 0x01 collection row  [0x01][collection id][keycode(pk)]            -> document
//! 0x02 index entry     [0x02][index id][keycode(value)][keycode(pk)] -> empty
//! 0x03 catalog         [0x03][...]                                   -> schema
//! ```
//! Raw-KV scans are confined to the `0x00` tag, so they never see rows, indexes or the catalog.

use std::ops::Bound;

/// An owned range of engine keys.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Tag of raw key-value entries (`db.put/get/scan`).
pub const RAW: u8 = 0x00;
/// Tag of collection rows.
pub const ROW: u8 = 0x01;
/// Tag of secondary-index entries.
pub const INDEX: u8 = 0x02;
/// Tag of catalog entries.
pub const CATALOG: u8 = 0x03;

/// Prepends `tag` to `key`.
///
/// ```
/// use rustlite_engine::keyspace::{tagged, RAW};
/// assert_eq!(tagged(RAW, b"user"), b"\x00user");
/// ```
pub fn tagged(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(tag);
    out.extend_from_slice(key);
    out
}

/// The smallest key strictly greater than every key that starts with `prefix`, or `None` when
/// no such key exists (the prefix is empty or all `0xFF`).
///
/// ```
/// use rustlite_engine::keyspace::prefix_end;
/// assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
/// assert_eq!(prefix_end(&[0x01, 0xFF]), Some(vec![0x02]));
/// assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
/// ```
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Maps bounds on keys inside `tag` to bounds on engine keys, confined to the tag.
///
/// ```
/// use rustlite_engine::keyspace::{tagged_bounds, RAW};
/// use std::ops::Bound::{Excluded, Included, Unbounded};
/// let (lower, upper) = tagged_bounds(RAW, Included(&b"a"[..]), Unbounded);
/// assert_eq!(lower, Included(b"\x00a".to_vec()));
/// assert_eq!(upper, Excluded(vec![0x01])); // never past the RAW tag
/// ```
pub fn tagged_bounds(
    tag: u8,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = match lower {
        Bound::Included(k) => Bound::Included(tagged(tag, k)),
        Bound::Excluded(k) => Bound::Excluded(tagged(tag, k)),
        Bound::Unbounded => Bound::Included(vec![tag]),
    };
    let upper = match upper {
        Bound::Included(k) => Bound::Included(tagged(tag, k)),
        Bound::Excluded(k) => Bound::Excluded(tagged(tag, k)),
        Bound::Unbounded => match prefix_end(&[tag]) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        },
    };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_successor_of_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn every_tag_is_a_one_byte_prefix_of_its_keys() {
        for tag in [RAW, ROW, INDEX, CATALOG] {
            let (lo, hi) = tagged_bounds(tag, Bound::Unbounded, Bound::Unbounded);
            let key = tagged(tag, b"\xff\xff\xff");
            assert!(matches!(&lo, Bound::Included(l) if l.as_slice() <= key.as_slice()));
            assert!(matches!(&hi, Bound::Excluded(h) if key.as_slice() < h.as_slice()));
            assert!(
                matches!(&hi, Bound::Excluded(h) if h.as_slice() <= tagged(tag + 1, b"").as_slice())
            );
        }
    }
}
