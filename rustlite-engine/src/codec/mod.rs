//! Byte encodings shared by every on-disk format: varints, crc32 record framing, and the
//! order-preserving key encoding ("keycode") used by the typed and SQL layers.

pub mod keycode;
pub mod record;
pub mod varint;
