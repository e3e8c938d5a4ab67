//! Conversions into [`Value`] for SQL parameters, so callers write `params![1, "ada", None::<i64>]`
//! (the `rustlite` facade's macro) instead of spelling out `Value::Int(1)`.

use crate::value::Value;

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

/// `Int` up to `i64::MAX`, `UInt` above (each integer has one `Value`, see [`Value`]).
impl From<u64> for Value {
    fn from(v: u64) -> Value {
        i64::try_from(v).map_or(Value::UInt(v), Value::Int)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Float(f64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Value::from(3u8), Value::Int(3));
        assert_eq!(Value::from(7u64), Value::Int(7));
        assert_eq!(Value::from(i64::MAX as u64), Value::Int(i64::MAX));
        assert_eq!(Value::from(i64::MAX as u64 + 1), Value::UInt(1 << 63));
        assert_eq!(Value::from("a"), Value::Text("a".into()));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(Some(2.5)), Value::Float(2.5));
        assert_eq!(Value::from(true), Value::Bool(true));
    }
}
