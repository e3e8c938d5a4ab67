//! Byte encodings shared by every on-disk format: varints, crc32 record framing, and the
//! order-preserving key encoding ("keycode") used by the typed and SQL layers.

pub mod keycode;
// Framing and varint codecs of the on-disk formats: public only for fuzz targets and corruption
// tests; not a stable API.
#[doc(hidden)]
pub mod record;
#[doc(hidden)]
pub mod varint;

/// Renders a key for messages: printable ASCII as is, other bytes as `\xNN`, cut at 64 bytes.
pub(crate) fn display_key(key: &[u8]) -> String {
    let mut out = String::new();
    for &b in key.iter().take(64) {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if key.len() > 64 {
        out.push_str("...");
    }
    out
}
