//! Small accessors for JSON objects, shared by validation and printing.

use serde_json::Value;

/// The string at `ptr`, or `""`.
pub(crate) fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The array at `ptr`, or an empty slice.
pub(crate) fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
