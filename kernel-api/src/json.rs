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

/// The string at `ptr`, or `""`, owned.
pub(crate) fn str_at(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The boolean at `ptr` as `true`/`false` (absent: `false`).
pub(crate) fn bool_at(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

/// The integer at `ptr` in decimal (absent: `0`).
pub(crate) fn int_at(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

/// The string at the path of a dotted field name (`spec.nodeName`), or `""`.
pub(crate) fn field_at(obj: &Value, field: &str) -> String {
    let ptr: String = field.split('.').map(|p| format!("/{p}")).collect();
    str_at(obj, &ptr)
}
