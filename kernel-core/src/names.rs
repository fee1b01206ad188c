//! Name and label validation, and `generateName`, as `k8s.io/apimachinery/pkg/util/validation`
//! and `k8s.io/apiserver/pkg/storage/names` have them.
//!
//! Every `is_*` function returns the list of problems with its argument, in upstream's words
//! (empty = valid), so callers can wrap each message in a [`FieldError`](crate::fields::FieldError).
//!
//! ```
//! use kernel_core::names::{generate_name, is_dns1123_label};
//!
//! assert!(is_dns1123_label("web-0").is_empty());
//! assert_eq!(is_dns1123_label("Web")[0].split(" (").next().unwrap(),
//!     "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
//!      and must start and end with an alphanumeric character");
//!
//! let mut n = 0;
//! let name = generate_name("web-", || { n += 1; n });
//! assert_eq!(name, "web-cdfgh");
//! ```

const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const CONFIG_MAP_KEY_ERR_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";

/// Maximum length of a DNS-1123 or DNS-1035 label (and of a label value, a qualified name's
/// name part).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Maximum length of a DNS-1123 subdomain (and of a config map key).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;

/// Upstream's `RegexError`: the message, the examples and the regex, e.g. `msg (e.g. 'a',  or
/// 'b', regex used for validation is 'x')` (the double space is upstream's).
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(e);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

/// Upstream's `MaxLenError`: `must be no more than N characters`.
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
pub(crate) fn matches_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_alnum(b[0])
        && is_alnum(b[b.len() - 1])
        && b.iter()
            .all(|&c| is_alnum(c) || c == b'-' || c == b'_' || c == b'.')
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
pub(crate) fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && ok(b[0]) && ok(b[b.len() - 1]) && b.iter().all(|&c| ok(c) || c == b'-')
}

/// Upstream `IsDNS1123Label` (namespace names, container names, ...).
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(s) {
        errs.push(regex_error(
            DNS1123_LABEL_ERR_MSG,
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

/// Upstream `IsDNS1123Subdomain` (most object names).
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !s.split('.').all(matches_dns1123_label) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Upstream `IsDNS1035Label` (Service names).
pub fn is_dns1035_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    let b = v.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !ok {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Upstream `IsQualifiedName` (label keys, annotation keys, finalizers…): `[prefix/]name`, the
/// prefix a DNS-1123 subdomain, the name at most 63 characters.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                for m in is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )]
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(DNS1123_LABEL_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Upstream `IsValidLabelValue`: empty, or a qualified-name-shaped string of at most 63
/// characters.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Upstream `IsConfigMapKey` (config map and secret data keys).
pub fn is_config_map_key(k: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if k.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if k.is_empty()
        || !k
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
    {
        errs.push(regex_error(
            CONFIG_MAP_KEY_ERR_MSG,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if k == "." {
        errs.push("must not be '.'".to_string());
    } else if k == ".." {
        errs.push("must not be '..'".to_string());
    } else if k.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// Upstream `path.IsValidPathSegmentName` (names that become one URL path segment: RBAC
/// objects, custom resources).
pub fn is_valid_path_segment_name(v: &str) -> Vec<String> {
    if v == "." || v == ".." {
        return vec![format!("may not be '{v}'")];
    }
    let mut errs = Vec::new();
    for c in ["/", "%"] {
        if v.contains(c) {
            errs.push(format!("may not contain '{c}'"));
        }
    }
    errs
}

/// The characters of a generated name suffix (upstream `utilrand` alphanums: no vowels, no
/// look-alike digits, so suffixes spell no words).
pub const GENERATE_NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// The length of the random suffix [`generate_name`] appends.
pub const GENERATED_SUFFIX_LENGTH: usize = 5;
/// The longest `generateName` prefix kept: 63 − 5, so the result is a valid DNS-1123 label
/// when the prefix is.
pub const MAX_GENERATED_NAME_LENGTH: usize = DNS1123_LABEL_MAX_LENGTH - GENERATED_SUFFIX_LENGTH;

/// A name from `metadata.generateName`, as upstream `SimpleNameGenerator.GenerateName`: `base`
/// truncated to [`MAX_GENERATED_NAME_LENGTH`] bytes (at a character boundary), then five
/// characters of [`GENERATE_NAME_ALPHABET`], each picked by one call of `random`.
///
/// The caller brings the randomness (kernel-core does no I/O and has no RNG): pass e.g.
/// `|| rng.gen()`; tests pass a counter.
pub fn generate_name(base: &str, mut random: impl FnMut() -> u32) -> String {
    let mut end = base.len().min(MAX_GENERATED_NAME_LENGTH);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + GENERATED_SUFFIX_LENGTH);
    out.push_str(&base[..end]);
    for _ in 0..GENERATED_SUFFIX_LENGTH {
        let i = random() as usize % GENERATE_NAME_ALPHABET.len();
        out.push(GENERATE_NAME_ALPHABET[i] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_label_table() {
        // Cases from upstream's TestIsDNS1123Label.
        for ok in [
            "a",
            "ab",
            "abc",
            "a1",
            "a-1",
            "a--1--2--b",
            "0",
            "01",
            "012",
            "1a",
            "1-a",
        ] {
            assert!(is_dns1123_label(ok).is_empty(), "{ok}");
        }
        assert!(is_dns1123_label(&"a".repeat(63)).is_empty());
        for bad in [
            "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_",
            "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ",
            " a", "a b", "1 ", " 1", "1 2",
        ] {
            assert!(!is_dns1123_label(bad).is_empty(), "{bad:?}");
        }
        assert_eq!(
            is_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn dns1123_subdomain_and_dns1035_label() {
        for ok in ["a", "a.b.c", "1.2.3", "a-1.b-2", "0.a", &"a".repeat(253)] {
            assert!(is_dns1123_subdomain(ok).is_empty(), "{ok}");
        }
        for bad in ["", "A", "a..b", ".a", "a.", "a_b", "a.-b"] {
            assert!(!is_dns1123_subdomain(bad).is_empty(), "{bad:?}");
        }
        assert_eq!(is_dns1123_subdomain(&"a".repeat(254)).len(), 1);
        // DNS-1035 labels must start with a letter.
        assert!(is_dns1035_label("web-1").is_empty());
        assert!(!is_dns1035_label("1web").is_empty());
        assert!(!is_dns1035_label("web-").is_empty());
        assert!(is_dns1035_label("Web")[0].starts_with("a DNS-1035 label must consist"));
    }

    #[test]
    fn qualified_name_messages() {
        assert!(is_qualified_name("example.com/my-key").is_empty());
        assert!(is_qualified_name("My_Key.1").is_empty());
        assert_eq!(
            is_qualified_name("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
        assert!(is_qualified_name("Upper.com/a")[0]
            .starts_with("prefix part a lowercase RFC 1123 subdomain"));
        assert_eq!(
            is_qualified_name("a_")[0],
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            is_qualified_name(""),
            vec![
                "name part must be non-empty".to_string(),
                format!(
                    "name part {}",
                    regex_error(
                        QUALIFIED_NAME_ERR_MSG,
                        QUALIFIED_NAME_FMT,
                        &["MyName", "my.name", "123-abc"]
                    )
                )
            ]
        );
        assert_eq!(
            is_qualified_name(&"a".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
    }

    #[test]
    fn label_values() {
        for ok in ["", "a", "A", "a-b_c.d", "1", &"v".repeat(63)] {
            assert!(is_valid_label_value(ok).is_empty(), "{ok:?}");
        }
        for bad in ["-a", "a-", "a b", "a/b", "_"] {
            assert!(is_valid_label_value(bad)[0].starts_with("a valid label must be"));
        }
        assert_eq!(
            is_valid_label_value(&"v".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn config_map_keys_and_path_segments() {
        for ok in ["a", "A_b-c.d", ".dotfile", "a..b"] {
            assert!(is_config_map_key(ok).is_empty(), "{ok}");
        }
        assert_eq!(is_config_map_key(".").last().unwrap(), "must not be '.'");
        assert_eq!(is_config_map_key(".."), vec!["must not be '..'"]);
        assert_eq!(is_config_map_key("..a"), vec!["must not start with '..'"]);
        assert!(is_config_map_key("a/b")[0].starts_with("a valid config key"));
        assert_eq!(is_config_map_key(""), is_config_map_key("$"));
        assert_eq!(is_valid_path_segment_name(".."), vec!["may not be '..'"]);
        assert_eq!(
            is_valid_path_segment_name("a/b%"),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert!(is_valid_path_segment_name("a:b").is_empty());
    }

    #[test]
    fn generate_name_truncates_and_appends_five_alphabet_chars() {
        let mut calls = 0u32;
        let n = generate_name("web-", || {
            calls += 1;
            calls - 1
        });
        assert_eq!(n, "web-bcdfg");
        assert_eq!(calls, 5);
        // Indices wrap around the 27-character alphabet.
        assert_eq!(generate_name("", || 27 + 26), "99999");
        let long = "x".repeat(100);
        let n = generate_name(&long, || 0);
        assert_eq!(n.len(), 63);
        assert!(n.starts_with(&"x".repeat(58)));
        assert!(n.ends_with("bbbbb"));
        assert!(is_dns1123_label(&generate_name(&"a".repeat(70), || 3)).is_empty());
        // Truncation never splits a character.
        let multi = format!("{}é", "a".repeat(57));
        assert_eq!(
            generate_name(&multi, || 0),
            format!("{}bbbbb", "a".repeat(57))
        );
    }
}
