//! Internal keys: a user key plus the version trailer that orders versions newest first.
//!
//! ```text
//! +----------------------+--------------------------------+------+
//! | user key (n bytes)   | u64::MAX - seqno (8 bytes, BE) | kind |
//! +----------------------+--------------------------------+------+
//! ```
//! Internal keys compare by user key (bytewise, ascending), then by trailer bytes, so for one user
//! key the newest version (highest seqno) comes first. Plain bytewise comparison of whole internal
//! keys would be wrong ("a" ++ trailer vs "a\x01" ++ trailer), so every ordered structure in the LSM
//! (memtable, blocks, index, merge) uses [`compare`].

use std::cmp::Ordering;

/// A commit sequence number. Every committed batch gets the next one; a snapshot is a seqno.
pub type SeqNo = u64;

/// Length of the trailer appended to the user key.
pub const TRAILER_LEN: usize = 9;

/// The largest seqno a snapshot can hold ("see everything").
pub const MAX_SEQNO: SeqNo = u64::MAX;

/// What a version records.
///
/// ```
/// use rustlite_engine::{engine::Kind, WriteBatch};
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1").delete(b"b");
/// let kinds: Vec<Kind> = batch.ops().iter().map(|op| op.kind).collect();
/// assert_eq!(kinds, [Kind::Put, Kind::Delete]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The key was deleted at this version (a tombstone).
    Delete = 0,
    /// The key was set to a value at this version.
    Put = 1,
}

impl Kind {
    /// Decodes a kind byte.
    ///
    /// ```
    /// use rustlite_engine::engine::Kind;
    /// assert_eq!(Kind::from_u8(1), Some(Kind::Put));
    /// assert_eq!(Kind::from_u8(Kind::Delete as u8), Some(Kind::Delete));
    /// assert_eq!(Kind::from_u8(7), None);
    /// ```
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            _ => None,
        }
    }
}

/// Appends the internal key for (`user_key`, `seq`, `kind`) to `out`.
pub fn encode_into(out: &mut Vec<u8>, user_key: &[u8], seq: SeqNo, kind: Kind) {
    out.reserve(user_key.len() + TRAILER_LEN);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&(u64::MAX - seq).to_be_bytes());
    out.push(kind as u8);
}

/// Builds the internal key for (`user_key`, `seq`, `kind`).
pub fn encode(user_key: &[u8], seq: SeqNo, kind: Kind) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    encode_into(&mut out, user_key, seq, kind);
    out
}

/// The smallest internal key of `user_key` visible at snapshot `seq`: seeking forward to it lands
/// on the newest version with seqno `<= seq`.
pub fn seek_key(user_key: &[u8], seq: SeqNo) -> Vec<u8> {
    encode(user_key, seq, Kind::Delete)
}

/// The largest possible internal key of `user_key` (its oldest version, seqno 0).
pub fn last_key(user_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&[0xFF; TRAILER_LEN]);
    out
}

/// A decoded view of an internal key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The user key.
    pub user_key: &'a [u8],
    /// The commit seqno of this version.
    pub seq: SeqNo,
    /// Put or delete.
    pub kind: Kind,
}

/// Splits an internal key; `None` if it is too short or has an unknown kind byte.
pub fn parse(ikey: &[u8]) -> Option<ParsedKey<'_>> {
    let split = ikey.len().checked_sub(TRAILER_LEN)?;
    let (user_key, trailer) = ikey.split_at(split);
    let (inv, kind) = trailer.split_at(8);
    let inv = u64::from_be_bytes(inv.try_into().ok()?);
    let kind = Kind::from_u8(*kind.first()?)?;
    Some(ParsedKey {
        user_key,
        seq: u64::MAX - inv,
        kind,
    })
}

/// The user-key part of an internal key (the whole slice if it is shorter than a trailer).
pub fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(TRAILER_LEN)]
}

/// Orders internal keys: user key ascending, then newest version first.
///
/// The kind byte does not take part: one seqno holds at most one version of a key, so when a
/// batch writes a key twice (put then delete), the memtable keeps the last write, as the batch
/// order says.
pub fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ta) = a.split_at(a.len().saturating_sub(TRAILER_LEN));
    let (ub, tb) = b.split_at(b.len().saturating_sub(TRAILER_LEN));
    ua.cmp(ub)
        .then_with(|| ta.get(..8).unwrap_or(ta).cmp(tb.get(..8).unwrap_or(tb)))
}

/// An owned internal key ordered by [`compare`] (the memtable's map key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalKey(pub Vec<u8>);

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_version_sorts_first() {
        let old = encode(b"k", 5, Kind::Put);
        let new = encode(b"k", 9, Kind::Delete);
        assert_eq!(compare(&new, &old), Ordering::Less);
        assert_eq!(compare(&seek_key(b"k", 7), &old), Ordering::Less);
        assert_eq!(compare(&seek_key(b"k", 7), &new), Ordering::Greater);
    }

    #[test]
    fn user_key_dominates_trailer() {
        // Bytewise, "a" ++ trailer(seq 0) > "a\x01" ++ ..., but "a" < "a\x01" as user keys.
        let a = encode(b"a", 0, Kind::Put);
        let b = encode(b"a\x01", u64::MAX, Kind::Put);
        assert_eq!(
            compare(&encode(b"a", 3, Kind::Put), &encode(b"a", 3, Kind::Delete)),
            Ordering::Equal
        );
        assert_eq!(compare(&a, &b), Ordering::Less);
        assert_eq!(compare(&last_key(b"a"), &b), Ordering::Less);
    }

    #[test]
    fn parse_round_trips() {
        let k = encode(b"user", 42, Kind::Delete);
        let p = parse(&k).expect("valid key");
        assert_eq!(p.user_key, b"user");
        assert_eq!(p.seq, 42);
        assert_eq!(p.kind, Kind::Delete);
        assert!(parse(b"short").is_none());
        let mut bad = k.clone();
        *bad.last_mut().expect("non-empty") = 7;
        assert!(parse(&bad).is_none());
    }
}
