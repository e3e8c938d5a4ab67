//! Raw key-value access: keys live under the raw tag of the engine's key space, so they never
//! collide with collections, indexes or the catalog.

use rustlite_engine::keyspace::{self, RAW};
use rustlite_engine::{Result, ScanIter, TxnScan};
use std::ops::{Bound, RangeBounds};

/// Engine key of raw key `key`.
pub(crate) fn raw_key(key: &[u8]) -> Vec<u8> {
    keyspace::tagged(RAW, key)
}

/// Raw keys up to this long are tagged in a stack buffer by [`with_raw_key`].
const STACK_KEY: usize = 63;

/// Runs `f` on the engine key of raw key `key`, built on the stack when it is short (a point
/// read then allocates nothing for its key).
pub(crate) fn with_raw_key<R>(key: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; STACK_KEY + 1];
    if let Some(tagged) = buf.get_mut(..=key.len()) {
        if let Some((tag, rest)) = tagged.split_first_mut() {
            *tag = RAW;
            rest.copy_from_slice(key);
            return f(tagged);
        }
    }
    f(&raw_key(key))
}

/// Engine bounds of a raw-key range.
pub(crate) fn raw_bounds<K: AsRef<[u8]>>(
    range: &impl RangeBounds<K>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    keyspace::tagged_bounds(
        RAW,
        range.start_bound().map(|k| k.as_ref()),
        range.end_bound().map(|k| k.as_ref()),
    )
}

/// Engine bounds of every raw key starting with `prefix`.
pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = Bound::Included(raw_key(prefix));
    let upper = match keyspace::prefix_end(&raw_key(prefix)) {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    (lower, upper)
}

pub(crate) fn as_slices(b: &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (
        b.0.as_ref().map(Vec::as_slice),
        b.1.as_ref().map(Vec::as_slice),
    )
}

enum Inner<'a> {
    Db(ScanIter),
    Txn(TxnScan<'a>),
}

/// An iterator over raw `(key, value)` pairs, in key order (or reverse key order).
///
/// Each item is a `Result`: a corrupt block met halfway through a scan is reported, not skipped.
///
/// ```
/// let db = rustlite::Database::in_memory()?;
/// db.put("a", "1")?;
/// db.put("b", "2")?;
/// let mut it: rustlite::KvIter = db.scan("a"..)?;
/// assert_eq!(it.next().transpose()?, Some((b"a".to_vec(), b"1".to_vec())));
/// assert_eq!(it.count(), 1); // just "b" left
/// # Ok::<(), rustlite::Error>(())
/// ```
pub struct KvIter<'a> {
    inner: Inner<'a>,
    /// [`KvIter::next_ref`] in a transaction: the pair last returned, owned.
    held: (Vec<u8>, Vec<u8>),
}

impl KvIter<'static> {
    pub(crate) fn from_db(it: ScanIter) -> Self {
        KvIter {
            inner: Inner::Db(it),
            held: (Vec::new(), Vec::new()),
        }
    }
}

impl<'a> KvIter<'a> {
    pub(crate) fn from_txn(it: TxnScan<'a>) -> Self {
        KvIter {
            inner: Inner::Txn(it),
            held: (Vec::new(), Vec::new()),
        }
    }

    /// The next pair, borrowed: valid until the next call, and (outside a transaction, in
    /// ascending scans) read in place without allocating per entry. Use it where the pairs are
    /// looked at rather than kept; [`Iterator::next`] returns owned copies.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("a", "1")?;
    /// db.put("b", "22")?;
    /// let mut it = db.scan::<&[u8]>(..)?;
    /// let mut bytes = 0;
    /// while let Some(entry) = it.next_ref() {
    ///     let (key, value) = entry?;
    ///     bytes += key.len() + value.len();
    /// }
    /// assert_eq!(bytes, 5);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn next_ref(&mut self) -> Option<Result<(&[u8], &[u8])>> {
        match &mut self.inner {
            Inner::Db(it) => Some(
                it.next_ref()?
                    .map(|(k, v)| (k.get(1..).unwrap_or_default(), v)),
            ),
            Inner::Txn(it) => match it.next()? {
                Ok(kv) => {
                    self.held = kv;
                    let (k, v) = &self.held;
                    Some(Ok((k.get(1..).unwrap_or_default(), v.as_slice())))
                }
                Err(e) => Some(Err(e)),
            },
        }
    }
}

impl Iterator for KvIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.inner {
            Inner::Db(it) => it.next(),
            Inner::Txn(it) => it.next(),
        }?;
        Some(item.map(|(mut k, v)| {
            k.remove(0);
            (k, v)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_raw_key_tags_short_and_long_keys_alike() {
        for len in [0, 1, STACK_KEY - 1, STACK_KEY, STACK_KEY + 1, 500] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(
                with_raw_key(&key, <[u8]>::to_vec),
                raw_key(&key),
                "length {len}"
            );
        }
    }

    #[test]
    fn next_ref_yields_what_next_does_in_and_out_of_a_transaction() -> Result<()> {
        let db = crate::Database::in_memory()?;
        for i in 0..50u32 {
            db.put(format!("k{i:02}"), format!("v{i}"))?;
        }
        db.delete("k07")?;
        let drain = |mut it: KvIter<'_>| -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
            let mut out = Vec::new();
            while let Some(entry) = it.next_ref() {
                let (k, v) = entry?;
                out.push((k.to_vec(), v.to_vec()));
            }
            Ok(out)
        };
        let want: Vec<_> = db.scan("k05".."k40")?.collect::<Result<_>>()?;
        assert_eq!(want.len(), 34);
        assert_eq!(drain(db.scan("k05".."k40")?)?, want);
        let rev: Vec<_> = db.scan_rev("k05".."k40")?.collect::<Result<_>>()?;
        assert_eq!(drain(db.scan_rev("k05".."k40")?)?, rev);
        let mut tx = db.begin()?;
        tx.put("k10", "new")?;
        let in_tx: Vec<_> = tx.scan("k05".."k40")?.collect::<Result<_>>()?;
        assert!(in_tx.contains(&(b"k10".to_vec(), b"new".to_vec())));
        assert_eq!(drain(tx.scan("k05".."k40")?)?, in_tx);
        Ok(())
    }
}
