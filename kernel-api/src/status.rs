//! Errors and their one mapping onto `metav1.Status` (upstream's `k8s.io/apimachinery/pkg/api/errors`).
//!
//! Every failure of the API server is an [`enum@Error`]; [`Error::to_status`] renders it with the
//! HTTP code, `reason` and message kube-apiserver would use, so kubectl and kube-rs see exactly
//! what they expect (`pods "x" not found`, `Operation cannot be fulfilled on …`, …).

use serde_json::{json, Value};

/// `Result` with [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One cause of an [`Error::Invalid`] (`metav1.StatusCause`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCause {
    /// Machine-readable reason, e.g. `FieldValueRequired`, `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable message, e.g. `Required value`.
    pub message: String,
    /// The field path, e.g. `metadata.name`.
    pub field: String,
}

impl StatusCause {
    /// A cause with the given reason, message and field.
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        StatusCause {
            reason: reason.into(),
            message: message.into(),
            field: field.into(),
        }
    }

    /// `FieldValueRequired` for `field`.
    pub fn required(field: impl Into<String>) -> Self {
        Self::new("FieldValueRequired", field, "Required value")
    }

    /// `FieldValueInvalid` for `field` with `value` and an explanation.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Self {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        Self::new(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {shown}: {detail}"),
        )
    }
}

impl From<crate::validation::FieldError> for StatusCause {
    fn from(error: crate::validation::FieldError) -> Self {
        StatusCause {
            reason: error.kind.reason().into(),
            message: error.body(),
            field: error.field,
        }
    }
}

/// Everything that can go wrong serving a request; each variant knows its HTTP code and reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 `NotFound`: `pods "x" not found`.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// Qualified resource (`pods`, `deployments.apps`).
        resource: String,
        /// Object name.
        name: String,
    },
    /// 404 for a path that names no resource.
    #[error("the server could not find the requested resource")]
    NoRoute,
    /// 409 `AlreadyExists`.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// Qualified resource.
        resource: String,
        /// Object name.
        name: String,
    },
    /// 409 `Conflict`.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {message}")]
    Conflict {
        /// Qualified resource.
        resource: String,
        /// Object name.
        name: String,
        /// What conflicted.
        message: String,
    },
    /// 409 `Conflict` raised by server-side apply, with one cause per conflicting field.
    #[error("Apply failed with {} conflict(s): {}", causes.len(), causes.iter().map(|c| c.message.clone()).collect::<Vec<_>>().join(", "))]
    ApplyConflict {
        /// One `FieldManagerConflict` cause per field.
        causes: Vec<StatusCause>,
    },
    /// 422 `Invalid`: `Pod "x" is invalid: metadata.name: Required value`; the kind qualified by
    /// its group as upstream's `GroupKind.String()` (`Deployment.apps "x" is invalid: …`).
    #[error("{}{} \"{name}\" is invalid: {}", kind, if group.is_empty() { String::new() } else { format!(".{group}") }, aggregate(causes))]
    Invalid {
        /// Kind (`Pod`).
        kind: String,
        /// API group of the kind.
        group: String,
        /// Object name.
        name: String,
        /// The field errors.
        causes: Vec<StatusCause>,
    },
    /// 400 `BadRequest`.
    #[error("{0}")]
    BadRequest(String),
    /// 405 `MethodNotAllowed`.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 406 `NotAcceptable`.
    #[error("{0}")]
    NotAcceptable(String),
    /// 410 `Expired` (`too old resource version`, expired continue token).
    #[error("{0}")]
    Gone(String),
    /// 403 `Forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `Forbidden` because the namespace is terminating.
    /// Named as upstream's `NewForbidden` names it: without a name (a `generateName` create,
    /// which NamespaceLifecycle sees before the name is generated) only the resource.
    #[error("{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated", forbidden_target(resource, name))]
    NamespaceTerminating {
        /// Qualified resource.
        resource: String,
        /// Object name.
        name: String,
        /// The terminating namespace.
        namespace: String,
    },
    /// 401 `Unauthorized`.
    #[error("Unauthorized")]
    Unauthorized,
    /// 413 `RequestEntityTooLarge`.
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// 415 `UnsupportedMediaType`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 `TooManyRequests`.
    #[error("{0}")]
    TooManyRequests(String),
    /// 504 `Timeout`.
    #[error("{0}")]
    Timeout(String),
    /// 500 `InternalError`.
    #[error("Internal error occurred: {0}")]
    Internal(String),
    /// 503 `ServiceUnavailable`.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A `Status` whose code, reason, message and details follow none of the patterns above, as
    /// upstream renders them: go-restful's route errors and JSON patch failures through
    /// `NewGenericServerResponse` (a fixed message, empty `details`).
    #[error("{message}")]
    Generic {
        /// HTTP status code.
        code: u16,
        /// `reason`.
        reason: &'static str,
        /// `message`.
        message: String,
        /// `details`, if upstream sets them (possibly empty).
        details: Option<Value>,
    },
    /// A store failure, mapped by variant.
    #[error(transparent)]
    Store(#[from] kernel_store::Error),
    /// Building or serving failed (I/O, TLS setup).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }

    /// go-restful's 405 for a method a path has no route for, as kube-apiserver's
    /// `serviceErrorHandler` renders it (`NewGenericServerResponse`: fixed message, empty details).
    pub fn method_not_allowed() -> Self {
        Error::Generic {
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".into(),
            details: Some(json!({})),
        }
    }

    /// `Invalid` for a request options kind of `meta.k8s.io` (`CreateOptions`, `ListOptions`, …)
    /// with no name, as the handlers answer a failed `Validate*Options`.
    pub fn invalid_options(kind: &str, causes: Vec<StatusCause>) -> Self {
        Error::Invalid {
            kind: kind.into(),
            group: "meta.k8s.io".into(),
            name: String::new(),
            causes,
        }
    }

    /// A 500 InternalError.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Error::Internal(message.to_string())
    }

    /// The HTTP status code and `reason` upstream uses for this error.
    pub fn code_and_reason(&self) -> (u16, &'static str) {
        use kernel_store::Error as S;
        match self {
            Error::NotFound { .. } | Error::NoRoute => (404, "NotFound"),
            Error::AlreadyExists { .. } => (409, "AlreadyExists"),
            Error::Conflict { .. } | Error::ApplyConflict { .. } => (409, "Conflict"),
            Error::Invalid { .. } => (422, "Invalid"),
            Error::BadRequest(_) => (400, "BadRequest"),
            Error::MethodNotAllowed(_) => (405, "MethodNotAllowed"),
            Error::NotAcceptable(_) => (406, "NotAcceptable"),
            Error::Gone(_) => (410, "Expired"),
            Error::Forbidden(_) | Error::NamespaceTerminating { .. } => (403, "Forbidden"),
            Error::Unauthorized => (401, "Unauthorized"),
            Error::RequestEntityTooLarge(_) => (413, "RequestEntityTooLarge"),
            Error::UnsupportedMediaType(_) => (415, "UnsupportedMediaType"),
            Error::TooManyRequests(_) => (429, "TooManyRequests"),
            Error::Timeout(_) => (504, "Timeout"),
            Error::Internal(_) | Error::Io(_) => (500, "InternalError"),
            Error::ServiceUnavailable(_) => (503, "ServiceUnavailable"),
            Error::Generic { code, reason, .. } => (*code, *reason),
            Error::Store(e) => match e {
                S::NotFound { .. } => (404, "NotFound"),
                S::AlreadyExists { .. } => (409, "AlreadyExists"),
                S::Conflict { .. } => (409, "Conflict"),
                S::Compacted { .. } => (410, "Expired"),
                S::FutureRevision { .. } => (504, "Timeout"),
                S::TooLarge { .. } => (413, "RequestEntityTooLarge"),
                S::InvalidArgument(_) | S::EmptyKey => (400, "BadRequest"),
                S::LeaseNotFound(_) => (404, "NotFound"),
                S::Closed | S::Backend(_) | S::FileFormat { .. } => (503, "ServiceUnavailable"),
            },
        }
    }

    /// The message upstream would show.
    fn message(&self) -> String {
        use kernel_store::Error as S;
        match self {
            Error::Store(S::Compacted { requested, compacted }) => {
                format!("too old resource version: {requested} ({compacted})")
            }
            Error::Store(S::Conflict { .. }) => {
                "the object has been modified; please apply your changes to the latest version and try again".into()
            }
            Error::Store(S::FutureRevision { requested, .. }) => {
                format!("Too large resource version: {requested}")
            }
            Error::Store(e) => format!("storage error: {e}"),
            other => other.to_string(),
        }
    }

    /// Renders this error as a `metav1.Status` object.
    pub fn to_status(&self) -> Value {
        let (code, reason) = self.code_and_reason();
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": reason,
            "code": code,
        });
        let split = |resource: &str| -> (String, String) {
            match resource.split_once('.') {
                Some((r, g)) => (r.to_owned(), g.to_owned()),
                None => (resource.to_owned(), String::new()),
            }
        };
        let details = match self {
            Error::NotFound { resource, name }
            | Error::AlreadyExists { resource, name }
            | Error::Conflict { resource, name, .. }
            | Error::NamespaceTerminating { resource, name, .. } => {
                let (kind, group) = split(resource);
                let mut d = json!({ "name": name, "kind": kind });
                if name.is_empty() {
                    d.as_object_mut().map(|m| m.remove("name"));
                }
                if !group.is_empty() {
                    d["group"] = json!(group);
                }
                if let Error::NamespaceTerminating { namespace, .. } = self {
                    d["causes"] = json!([{
                        "reason": "NamespaceTerminating",
                        "message": format!("namespace {namespace} is being terminated"),
                        "field": "metadata.namespace",
                    }]);
                }
                Some(d)
            }
            Error::Invalid {
                kind,
                group,
                name,
                causes,
            } => {
                let mut d = json!({ "kind": kind, "causes": causes_json(causes) });
                if !name.is_empty() {
                    d["name"] = json!(name);
                }
                if !group.is_empty() {
                    d["group"] = json!(group);
                }
                Some(d)
            }
            Error::Generic { details, .. } => details.clone(),
            Error::ApplyConflict { causes } => Some(json!({ "causes": causes_json(causes) })),
            Error::Store(kernel_store::Error::Compacted { .. }) | Error::Gone(_) => None,
            _ => None,
        };
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

/// Upstream's aggregate: one error as is, several as `[e1, e2]`.
/// `<resource> "<name>"`, or the resource alone for an empty name (upstream's `NewForbidden`).
fn forbidden_target(resource: &str, name: &str) -> String {
    if name.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource} {name:?}")
    }
}

fn aggregate(causes: &[StatusCause]) -> String {
    let each: Vec<String> = causes
        .iter()
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect();
    match each.len() {
        1 => each[0].clone(),
        _ => format!("[{}]", each.join(", ")),
    }
}

fn causes_json(causes: &[StatusCause]) -> Value {
    Value::Array(
        causes
            .iter()
            .map(|c| {
                let mut v = json!({ "reason": c.reason, "message": c.message });
                if !c.field.is_empty() {
                    v["field"] = json!(c.field);
                }
                v
            })
            .collect(),
    )
}

/// A `Status` with `status: Success` (returned by deletes of already-gone objects and the like).
pub fn success_status(details: Option<Value>) -> Value {
    let mut v =
        json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" });
    if let Some(d) = details {
        v["details"] = d;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_renders_like_upstream() {
        let status = Error::NotFound {
            resource: "deployments.apps".into(),
            name: "web".into(),
        }
        .to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["message"], "deployments.apps \"web\" not found");
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["details"]["kind"], "deployments");
    }

    #[test]
    fn store_errors_map_by_variant() {
        let e = Error::Store(kernel_store::Error::Compacted {
            requested: 3,
            compacted: 9,
        });
        assert_eq!(e.code_and_reason(), (410, "Expired"));
        assert_eq!(e.to_status()["message"], "too old resource version: 3 (9)");
    }
}
