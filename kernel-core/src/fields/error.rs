//! Field errors and field paths, as `k8s.io/apimachinery/pkg/util/validation/field`.

use std::fmt;

use serde_json::Value;

/// A path to a field, as upstream `field.Path`: `spec.containers[0].resources.limits[cpu]`.
///
/// ```
/// use kernel_core::fields::Path;
///
/// let p = Path::new("spec").child("containers").index(0).child("image");
/// assert_eq!(p.to_string(), "spec.containers[0].image");
/// assert_eq!(Path::new("metadata").child("labels").key("app").to_string(), "metadata.labels[app]");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Path(String);

impl Path {
    /// A root path (`field.NewPath(name)`).
    pub fn new(name: &str) -> Path {
        Path(name.to_string())
    }

    /// `p.Child(name)`: `p.name` (just `name` on an empty path).
    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path::new(name)
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// `p.Index(i)`: `p[i]`.
    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    /// `p.Key(k)`: `p[k]`.
    pub fn key(&self, k: &str) -> Path {
        Path(format!("{}[{k}]", self.0))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Path> for String {
    fn from(p: Path) -> String {
        p.0
    }
}

impl From<&Path> for String {
    fn from(p: &Path) -> String {
        p.0.clone()
    }
}

/// The kind of a field error (upstream `field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A required field is missing.
    Required,
    /// A field has an invalid value.
    Invalid,
    /// A value that must be unique is repeated.
    Duplicate,
    /// A field may not be set or changed.
    Forbidden,
    /// A value is not one of the supported values.
    NotSupported,
    /// A value is too long.
    TooLong,
    /// A list has too many items.
    TooMany,
    /// Something went wrong that is not the user's fault.
    Internal,
}

impl FieldErrorKind {
    /// The `reason` of a `StatusCause` for this kind (`FieldValueInvalid`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::Internal => "InternalError",
        }
    }

    /// The human label upstream prints (`Invalid value`, `Required value`, …).
    pub fn label(&self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Internal => "Internal error",
        }
    }
}

/// One validation failure (upstream `field.Error`): kind, field path, bad value, detail.
///
/// The text forms follow upstream: [`body`](Self::body) is `ErrorBody()` (a
/// `StatusCause.message`: `Invalid value: "Foo": a lowercase RFC 1123 …`), `Display` is
/// `Error()` (`metadata.name: Invalid value: …`). Kinds that carry a value (Invalid, Duplicate,
/// NotSupported, TooMany) render it as JSON text (`"Foo"`, `3`, `["a","b"]`).
///
/// ```
/// use kernel_core::fields::{FieldError, Path};
/// use serde_json::json;
///
/// let e = FieldError::invalid(Path::new("metadata").child("name"), &json!("Foo"), "must be lowercase");
/// assert_eq!(e.to_string(), "metadata.name: Invalid value: \"Foo\": must be lowercase");
/// assert_eq!(FieldError::required("spec.containers", "").body(), "Required value");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The kind of error.
    pub kind: FieldErrorKind,
    /// The field path, e.g. `metadata.name` or `spec.containers[0].image`.
    pub field: String,
    /// The offending value, for the kinds that show one.
    pub bad_value: Option<Value>,
    /// What is wrong (possibly empty).
    pub detail: String,
}

/// Renders a bad value the way upstream's `%q`/`%d` formatting does.
fn render(v: &Value) -> String {
    match v {
        Value::String(_) | Value::Array(_) | Value::Object(_) | Value::Null => v.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

impl FieldError {
    fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> FieldError {
        FieldError {
            kind,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// `field.Required`.
    pub fn required(field: impl Into<String>, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Required, field, None, detail)
    }

    /// `field.Invalid`.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Invalid, field, Some(value.clone()), detail)
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: impl Into<String>, value: &Value) -> FieldError {
        FieldError::new(FieldErrorKind::Duplicate, field, Some(value.clone()), "")
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Forbidden, field, None, detail)
    }

    /// `field.NotSupported`: `"x": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: &Value, valid: &[&str]) -> FieldError {
        let quoted: Vec<String> = valid.iter().map(|v| format!("{v:?}")).collect();
        FieldError::new(
            FieldErrorKind::NotSupported,
            field,
            Some(value.clone()),
            format!("supported values: {}", quoted.join(", ")),
        )
    }

    /// `field.TooLong`: `may not be more than N bytes`.
    pub fn too_long(field: impl Into<String>, max: usize) -> FieldError {
        FieldError::new(
            FieldErrorKind::TooLong,
            field,
            None,
            format!("may not be more than {max} bytes"),
        )
    }

    /// `field.TooMany`: `N: must have at most M items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> FieldError {
        FieldError::new(
            FieldErrorKind::TooMany,
            field,
            Some(Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }

    /// `field.InternalError`: the detail is the underlying error's message.
    pub fn internal(field: impl Into<String>, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Internal, field, None, detail)
    }

    /// What follows the kind's label: the rendered bad value (if the kind shows one) and the
    /// detail, joined by `": "`.
    pub fn message(&self) -> String {
        match (&self.bad_value, self.detail.is_empty()) {
            (Some(v), true) => render(v),
            (Some(v), false) => format!("{}: {}", render(v), self.detail),
            (None, _) => self.detail.clone(),
        }
    }

    /// Upstream `ErrorBody()`: the message without the field path, e.g. `Invalid value: "Foo":
    /// …` (a `StatusCause.message`).
    pub fn body(&self) -> String {
        let message = self.message();
        if message.is_empty() {
            self.kind.label().to_string()
        } else {
            format!("{}: {}", self.kind.label(), message)
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// Joins errors the way upstream's aggregate does for a Status message: one error as is,
/// several as `[e1, e2]`.
pub fn aggregate_message(errs: &[FieldError]) -> String {
    match errs {
        [] => String::new(),
        [e] => e.to_string(),
        _ => format!(
            "[{}]",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_renders_like_upstream() {
        let cases: Vec<(FieldError, &str, &str)> = vec![
            (
                FieldError::required("spec.containers", ""),
                "FieldValueRequired",
                "spec.containers: Required value",
            ),
            (
                FieldError::required("spec.image", "must be set"),
                "FieldValueRequired",
                "spec.image: Required value: must be set",
            ),
            (
                FieldError::invalid("metadata.name", &json!("Foo"), "bad"),
                "FieldValueInvalid",
                "metadata.name: Invalid value: \"Foo\": bad",
            ),
            (
                FieldError::invalid("spec.replicas", &json!(-1), ""),
                "FieldValueInvalid",
                "spec.replicas: Invalid value: -1",
            ),
            (
                FieldError::invalid("spec.x", &json!(true), "no"),
                "FieldValueInvalid",
                "spec.x: Invalid value: true: no",
            ),
            (
                FieldError::invalid("spec.x", &Value::Null, "no"),
                "FieldValueInvalid",
                "spec.x: Invalid value: null: no",
            ),
            (
                FieldError::duplicate("spec.ports[1].name", &json!("http")),
                "FieldValueDuplicate",
                "spec.ports[1].name: Duplicate value: \"http\"",
            ),
            (
                FieldError::forbidden("spec", "pod updates may not change fields"),
                "FieldValueForbidden",
                "spec: Forbidden: pod updates may not change fields",
            ),
            (
                FieldError::not_supported("spec.restartPolicy", &json!("Sometimes"), &["Always", "Never"]),
                "FieldValueNotSupported",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\"",
            ),
            (
                FieldError::too_long("metadata.annotations", 262144),
                "FieldValueTooLong",
                "metadata.annotations: Too long: may not be more than 262144 bytes",
            ),
            (
                FieldError::too_many("spec.items", 5, 3),
                "FieldValueTooMany",
                "spec.items: Too many: 5: must have at most 3 items",
            ),
            (
                FieldError::internal("spec", "boom"),
                "InternalError",
                "spec: Internal error: boom",
            ),
        ];
        for (e, reason, text) in cases {
            assert_eq!(e.kind.reason(), reason);
            assert_eq!(e.to_string(), text);
            assert_eq!(format!("{}: {}", e.field, e.body()), text);
        }
    }

    #[test]
    fn value_and_detail_are_kept_apart() {
        let e = FieldError::too_many("spec.items", 5, 3);
        assert_eq!(e.bad_value, Some(json!(5)));
        assert_eq!(e.detail, "must have at most 3 items");
        assert_eq!(e.message(), "5: must have at most 3 items");
        let e = FieldError::invalid("a", &json!(["x", "y"]), "");
        assert_eq!(e.body(), "Invalid value: [\"x\",\"y\"]");
    }

    #[test]
    fn aggregate_joins_like_upstream() {
        let a = FieldError::required("a", "");
        let b = FieldError::forbidden("b", "no");
        assert_eq!(aggregate_message(&[]), "");
        assert_eq!(
            aggregate_message(std::slice::from_ref(&a)),
            "a: Required value"
        );
        assert_eq!(
            aggregate_message(&[a, b]),
            "[a: Required value, b: Forbidden: no]"
        );
    }

    #[test]
    fn paths() {
        let p = Path::new("spec")
            .child("containers")
            .index(2)
            .child("resources");
        assert_eq!(
            p.key("cpu").to_string(),
            "spec.containers[2].resources[cpu]"
        );
        assert_eq!(Path::default().child("a").as_str(), "a");
        let s: String = (&p).into();
        assert_eq!(s, "spec.containers[2].resources");
    }
}
