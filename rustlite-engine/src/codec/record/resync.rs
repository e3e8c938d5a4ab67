//! The search for the next valid record after damage ([`Resync`]), in time linear in the
//! buffer: a candidate offset is judged by its header alone where it can be, and a long
//! candidate's checksum is computed with crc32 arithmetic on prefix crcs instead of over its
//! claimed length (see [`super`]'s module docs for why the search exists).

use super::{Record, HEADER_LEN, MAX_RECORD_LEN};

#[cfg(test)]
thread_local! {
    /// Bytes the resync checksummed on this thread (its cost, for the tests' cost guards).
    pub(super) static CHECKSUMMED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Longest span (`len ++ type ++ payload`) the resync checksums directly; longer candidates are
/// checked with crc arithmetic over prefix crcs (see [`Resync`]).
const DIRECT_CHECK_MAX: usize = 64;

/// Spacing of the prefix crcs kept by [`Resync`].
const PREFIX_STRIDE: usize = 16;

/// Tells, for any offset of a buffer, whether a valid record starts there, with work that does
/// not grow with the record's claimed length.
///
/// Checking a candidate the way [`probe`](super::probe) does costs its `len` field in checksummed bytes, and
/// after damage every offset is a candidate: bytes that read as long lengths (a big value of
/// `0x01` bytes reads as 16.8 MiB at every offset) made the search quadratic, hours for a
/// 24 MiB WAL. Here a candidate is first filtered on its header alone (type 0, `len` over the
/// limit or past the end of the buffer: rejected unread); a short one is then checksummed; a
/// long one is checked with crc32's linearity (as zlib's `crc32_combine`):
///
/// ```text
/// crc(x ++ y) = shift(crc(x), |y|) ^ crc(y)      shift(c, n) = c * x^(8n) mod P
/// so  crc(buf[a..b]) = crc(buf[..b]) ^ shift(crc(buf[..a]), b - a)
/// ```
///
/// `crc(buf[..i])` comes from a prefix crc kept every [`PREFIX_STRIDE`] bytes (built on first
/// need, one pass over the buffer) extended by at most `PREFIX_STRIDE - 1` bytes, or from the
/// previous candidate's, usually one byte before. `shift` is at most three multiplications mod
/// P, or four table lookups when consecutive long candidates share a span (repeated bytes or
/// words, the common shape). The answer is `super::probe(buf, pos).is_ok()` for every input; the work
/// is bounded per offset, so a whole search is linear in the buffer.
pub(super) struct Resync<'a> {
    buf: &'a [u8],
    /// `prefix[i]` is the crc32 of `buf[..i * PREFIX_STRIDE]`; empty until first needed.
    prefix: Vec<u32>,
    /// The last prefix crcs computed for a long candidate's start and end.
    cursors: [Prefix; 2],
    /// The span of the last long candidate.
    last_span: usize,
    /// Shifts by a span that two consecutive long candidates had.
    shifter: Option<Shifter>,
}

/// The crc32 of `buf[..pos]`.
#[derive(Clone, Copy, Default)]
struct Prefix {
    pos: usize,
    crc: u32,
}

impl<'a> Resync<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Resync {
            buf,
            prefix: Vec::new(),
            cursors: [Prefix::default(); 2],
            last_span: 0,
            shifter: None,
        }
    }

    /// The valid record at `pos`, if one starts there (exactly when [`probe`] accepts it).
    pub(super) fn record_at(&mut self, pos: usize) -> Option<Record> {
        let (crc, len, rtype) = header_at(self.buf, pos)?;
        if rtype == 0 || len > MAX_RECORD_LEN {
            return None;
        }
        let start = pos + HEADER_LEN;
        let end = start.checked_add(len).filter(|&e| e <= self.buf.len())?;
        let covered = pos + 4..end;
        let actual = if covered.len() <= DIRECT_CHECK_MAX {
            crc_extend(0, self.buf.get(covered)?)
        } else {
            let (a, b) = (covered.start, covered.end);
            let before = self.prefix_crc(0, a)?;
            self.prefix_crc(1, b)? ^ self.shift(before, b - a)
        };
        (actual == crc).then_some(Record {
            rtype,
            offset: pos as u64,
            payload: start..end,
        })
    }

    /// crc32 of `buf[..i]`, through cursor `which`.
    fn prefix_crc(&mut self, which: usize, i: usize) -> Option<u32> {
        if self.prefix.is_empty() {
            let mut crc = 0;
            self.prefix.reserve(self.buf.len() / PREFIX_STRIDE + 1);
            self.prefix.push(crc);
            for chunk in self.buf.chunks_exact(PREFIX_STRIDE) {
                crc = crc_extend(crc, chunk);
                self.prefix.push(crc);
            }
        }
        let cursor = self.cursors.get_mut(which)?;
        if i < cursor.pos || i - cursor.pos >= PREFIX_STRIDE {
            let k = i / PREFIX_STRIDE;
            *cursor = Prefix {
                pos: k * PREFIX_STRIDE,
                crc: *self.prefix.get(k)?,
            };
        }
        cursor.crc = crc_extend(cursor.crc, self.buf.get(cursor.pos..i)?);
        cursor.pos = i;
        Some(cursor.crc)
    }

    /// `crc` shifted by `span` zero bytes.
    fn shift(&mut self, crc: u32, span: usize) -> u32 {
        match &self.shifter {
            Some(s) if s.span == span => return s.apply(crc),
            _ if span == self.last_span => {
                let s = Shifter::new(span);
                let shifted = s.apply(crc);
                self.shifter = Some(s);
                return shifted;
            }
            _ => {}
        }
        self.last_span = span;
        crc_shift(crc, span)
    }
}

/// The `(crc, len, type)` fields of the header at `pos`, if it lies within `buf`.
fn header_at(buf: &[u8], pos: usize) -> Option<(u32, usize, u8)> {
    let header: &[u8; HEADER_LEN] = buf
        .get(pos..pos.checked_add(HEADER_LEN)?)?
        .try_into()
        .ok()?;
    let [c0, c1, c2, c3, l0, l1, l2, l3, rtype] = *header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    Some((u32::from_le_bytes([c0, c1, c2, c3]), len, rtype))
}

/// crc32's polynomial, bit-reversed (the bit order crc32 works in: bit 31 holds `x^0`).
const CRC_POLY: u32 = 0xEDB8_8320;

/// crc32 of one byte value, from a zero register (the byte-at-a-time table).
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC_POLY
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// crc32 of `x ++ bytes`, given `crc` = crc32 of `x` (the resync's checksumming, counted by the
/// tests' cost guards).
fn crc_extend(crc: u32, bytes: &[u8]) -> u32 {
    #[cfg(test)]
    CHECKSUMMED.with(|c| c.set(c.get() + bytes.len()));
    if bytes.len() > 64 {
        let mut hasher = crc32fast::Hasher::new_with_initial(crc);
        hasher.update(bytes);
        return hasher.finalize();
    }
    let mut c = !crc;
    for &byte in bytes {
        c = CRC_TABLE[usize::from(c as u8 ^ byte)] ^ (c >> 8);
    }
    !c
}

/// `a * b mod P` for polynomials in crc32's bit order.
fn gf_mul(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    for bit in 0..32 {
        if a & (0x8000_0000 >> bit) != 0 {
            product ^= b;
        }
        b = if b & 1 != 0 {
            (b >> 1) ^ CRC_POLY
        } else {
            b >> 1
        };
    }
    product
}

/// `1` in crc32's bit order.
const GF_ONE: u32 = 0x8000_0000;

/// Digits of a shift in base 2^12 are looked up in [`shift_powers`].
const SHIFT_DIGIT_BITS: u32 = 12;

/// `x^(8 * d * 4096^level) mod P` at `[level][d]`, for levels 0..3 (shifts below 64 GiB).
fn shift_powers() -> &'static [[u32; 1 << SHIFT_DIGIT_BITS]; 3] {
    static POWERS: std::sync::OnceLock<Box<[[u32; 1 << SHIFT_DIGIT_BITS]; 3]>> =
        std::sync::OnceLock::new();
    POWERS.get_or_init(|| {
        let mut powers = Box::new([[0u32; 1 << SHIFT_DIGIT_BITS]; 3]);
        let mut unit = GF_ONE >> 8; // x^8: one byte
        for level in powers.iter_mut() {
            let mut p = GF_ONE;
            for slot in level.iter_mut() {
                *slot = p;
                p = gf_mul(p, unit);
            }
            unit = p; // unit^4096: one digit of the next level
        }
        powers
    })
}

/// `crc` shifted by `n` zero bytes: `shift(crc(x), |y|) ^ crc(y) = crc(x ++ y)`. At most
/// three multiplications below 64 GiB (a record's span is below 2^29 bytes).
fn crc_shift(mut crc: u32, n: usize) -> u32 {
    let mut rest = n as u64;
    for table in shift_powers() {
        let digit = (rest & ((1 << SHIFT_DIGIT_BITS) - 1)) as usize;
        rest >>= SHIFT_DIGIT_BITS;
        if let Some(&power) = table.get(digit).filter(|_| digit != 0) {
            crc = gf_mul(power, crc);
        }
    }
    if rest != 0 {
        // Past the tables (never for a record): square and multiply from x^(8 * 2^36).
        let mut power = GF_ONE >> 8;
        for _ in 0..3 * SHIFT_DIGIT_BITS {
            power = gf_mul(power, power);
        }
        while rest != 0 {
            if rest & 1 != 0 {
                crc = gf_mul(power, crc);
            }
            power = gf_mul(power, power);
            rest >>= 1;
        }
    }
    crc
}

/// Multiplication by `x^(8 * span)` as four byte-indexed tables (4 KiB, built with 32
/// multiplications): a shift in four lookups.
struct Shifter {
    span: usize,
    tables: Box<[[u32; 256]; 4]>,
}

impl Shifter {
    fn new(span: usize) -> Self {
        let power = crc_shift(GF_ONE, span);
        let mut tables = Box::new([[0u32; 256]; 4]);
        for (k, table) in tables.iter_mut().enumerate() {
            for v in 1..256usize {
                let low = v & v.wrapping_neg();
                let bit = (low << (8 * k)) as u32;
                table[v] = table[v ^ low]
                    ^ if v == low {
                        gf_mul(power, bit)
                    } else {
                        table[low]
                    };
            }
        }
        Shifter { span, tables }
    }

    fn apply(&self, crc: u32) -> u32 {
        let [t0, t1, t2, t3] = &*self.tables;
        let [b0, b1, b2, b3] = crc.to_le_bytes();
        t0[usize::from(b0)] ^ t1[usize::from(b1)] ^ t2[usize::from(b2)] ^ t3[usize::from(b3)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_shift_combines_crcs() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for split in [0, 1, 63, 64, 4095, 4096, 4097, 5000] {
            let (x, y) = data.split_at(split);
            let combined = crc_shift(crc32fast::hash(x), y.len()) ^ crc32fast::hash(y);
            assert_eq!(combined, crc32fast::hash(&data), "split at {split}");
        }
        // Shifts compose, across the table levels and past them.
        let c = 0x1234_5678;
        for (m, n) in [
            (1, 4095),
            (4096, 1 << 24),
            ((1 << 24) - 1, 1),
            (1 << 36, 3),
            (5, 1 << 40),
        ] {
            assert_eq!(
                crc_shift(crc_shift(c, m), n),
                crc_shift(c, m + n),
                "{m} + {n}"
            );
        }
        assert_eq!(crc_shift(c, 0), c);
    }
}
