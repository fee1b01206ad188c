//! The crate's error type.

/// Errors of kernel-core.
///
/// Each variant displays the message upstream returns for the same failure, so callers (the API
/// server in particular) can pass it on unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A label selector string did not parse, a requirement failed validation, or a
    /// `metav1.LabelSelector` used an unknown operator (`"Foo" is not a valid label selector
    /// operator`).
    #[error("{0}")]
    InvalidLabelSelector(String),
    /// A field selector string did not parse (`invalid selector: 'foo'; can't understand
    /// 'foo'`, `invalid field selector: invalid escape sequence: \c`).
    #[error("{0}")]
    InvalidFieldSelector(String),
    /// A `v1.NodeSelector` has requirements that cannot be compiled (unknown operator, invalid
    /// key or value); the message aggregates upstream's field errors.
    #[error("{0}")]
    InvalidNodeSelector(String),
    /// A Go duration (`10s`, `1m30s`) did not parse; the reason is Go's `time.ParseDuration`
    /// message.
    #[error("time: {reason} {input:?}")]
    InvalidDuration {
        /// The string that failed to parse.
        input: String,
        /// Why.
        reason: String,
    },
    /// A resource quantity string did not parse.
    #[error("invalid quantity {input:?}: {reason}")]
    InvalidQuantity {
        /// The string that failed to parse.
        input: String,
        /// Why, as upstream's `resource.ParseQuantity` says it.
        reason: QuantityError,
    },
}

/// Why a quantity failed to parse: upstream's three sentinel errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// `ErrFormatWrong`: the string is not `<number><suffix>`.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    /// `ErrNumeric`: the number could not be parsed.
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// `ErrSuffix`: the suffix is not a known SI suffix or decimal exponent.
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Joins messages the way upstream's `utilerrors.Aggregate.Error()` does: duplicates dropped,
/// one message as is, several as `[a, b]`.
pub(crate) fn aggregate(msgs: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in msgs {
        if !seen.contains(&m.as_str()) {
            seen.push(m);
        }
    }
    match seen.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_dedups_and_brackets() {
        assert_eq!(aggregate(&[]), "");
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }

    #[test]
    fn quantity_error_names_the_input_and_upstream_reason() {
        let e = Error::InvalidQuantity {
            input: "1x".into(),
            reason: QuantityError::Suffix,
        };
        assert_eq!(
            e.to_string(),
            "invalid quantity \"1x\": unable to parse quantity's suffix"
        );
    }
}
