//! LEB128 variable-length unsigned integers, used inside blocks, WAL payloads and manifest edits.

/// Appends `v` as a LEB128 varint.
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as a LEB128 varint.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    put_u64(out, u64::from(v));
}

/// Decodes a varint from the front of `buf`, returning the value and the bytes consumed.
/// `None` on a truncated or over-long (more than 10 bytes / overflowing) encoding.
pub fn get_u64(buf: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7F);
        if i == 9 && part > 1 {
            return None;
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Like [`get_u64`] but rejects values above `u32::MAX`.
pub fn get_u32(buf: &[u8]) -> Option<(u32, usize)> {
    let (v, n) = get_u64(buf)?;
    Some((u32::try_from(v).ok()?, n))
}

/// A cursor that decodes fields from a byte slice, returning `None` on truncation.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the front of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// Whether everything was consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// Reads a varint.
    pub fn u64(&mut self) -> Option<u64> {
        let (v, n) = get_u64(self.buf.get(self.pos..)?)?;
        self.pos += n;
        Some(v)
    }
    /// Reads a varint that must fit in `usize`.
    pub fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }
    /// Reads one byte.
    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    /// Reads a fixed big-endian u64.
    pub fn fixed_u64(&mut self) -> Option<u64> {
        let bytes = self.bytes(8)?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }
    /// Reads `n` raw bytes (bounds-checked before anything is allocated).
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    /// Reads a varint length followed by that many bytes.
    pub fn length_prefixed(&mut self) -> Option<&'a [u8]> {
        let n = self.usize()?;
        self.bytes(n)
    }
}

/// Appends a varint length followed by the bytes.
pub fn put_length_prefixed(out: &mut Vec<u8>, data: &[u8]) {
    put_u64(out, data.len() as u64);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_edges() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            put_u64(&mut buf, v);
            assert_eq!(get_u64(&buf), Some((v, buf.len())));
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(get_u64(&[0x80]), None);
        assert_eq!(get_u64(&[0xFF; 11]), None);
        assert_eq!(
            get_u64(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            None
        );
        assert_eq!(get_u32(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), None);
    }

    #[test]
    fn reader_bounds() {
        let mut buf = Vec::new();
        put_length_prefixed(&mut buf, b"abc");
        let mut r = Reader::new(&buf);
        assert_eq!(r.length_prefixed(), Some(&b"abc"[..]));
        assert!(r.is_empty());
        let mut huge = Vec::new();
        put_u64(&mut huge, u64::MAX);
        assert_eq!(Reader::new(&huge).length_prefixed(), None);
    }
}
