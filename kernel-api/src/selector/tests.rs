//! Tests of label and field selector parsing and matching.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn label_selector_matching_table() {
    let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
    let cases: &[(&str, bool)] = &[
        ("", true),
        ("   ", true),
        ("app=web", true),
        ("app==web", true),
        ("app=db", false),
        ("app!=db", true),
        ("app!=web", false),
        ("missing!=x", true),
        ("app in (web,db)", true),
        ("app in (db)", false),
        ("app notin (db)", true),
        ("app notin (web)", false),
        ("missing notin (web)", true),
        ("missing in (web)", false),
        ("app", true),
        ("missing", false),
        ("!missing", true),
        ("!app", false),
        ("app=web,tier=front", true),
        ("app=web, tier=back", false),
        ("  app = web ,  tier  in ( front , x ) ", true),
        ("n>3", true),
        ("n<3", false),
        ("app>3", false),
        ("app=", false),
        ("missing=", false),
        ("x in (in,notin)", false),
    ];
    for (s, want) in cases {
        let sel = LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(sel.matches(&l), *want, "selector {s:?}");
    }
}

#[test]
fn label_selector_parse_errors() {
    let cases: &[(&str, &str)] = &[
        ("x=a||y=b", "Invalid value: \"a||y\""),
        ("x=a,", "expected: identifier after ','"),
        ("x in", "found '' expected: '('"),
        ("x in (a", "expected: ',' or ')'"),
        ("x (a)", "found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("!x=y", "found '=', expected: ',' or 'end of string'"),
        ("a b", "found 'b', expected: in, notin"),
        ("-a=b", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=-b", "values[0][a]: Invalid value: \"-b\": a valid label must be an empty string"),
        ("x>a", "the value must be an integer"),
        ("=a", "expected: !, identifier, or 'end of string'"),
    ];
    for (s, want) in cases {
        let err = LabelSelector::parse(s).expect_err(s);
        assert!(err.contains(want), "{s:?}: got {err:?}, want {want:?}");
    }
    let long = format!("a={}", "v".repeat(64));
    assert!(LabelSelector::parse(&long)
        .unwrap_err()
        .contains("must be no more than 63 characters"));
}

#[test]
fn label_selector_display_is_sorted_canonical() {
    let cases: &[(&str, &str)] = &[
        ("b=1,a=2", "a=2,b=1"),
        ("x in (c,a,b)", "x in (a,b,c)"),
        ("x notin (a,a)", "x notin (a)"),
        ("!x, y", "!x,y"),
        ("x==y", "x==y"),
        ("x!=y", "x!=y"),
        ("x in ()", "x in ()"),
        ("n>5", "n>5"),
        ("example.com/key=v", "example.com/key=v"),
    ];
    for (s, want) in cases {
        assert_eq!(LabelSelector::parse(s).unwrap().to_string(), *want);
    }
}

#[test]
fn from_meta_and_nil_semantics() {
    let empty = metav1::LabelSelector::default();
    let all = LabelSelector::from_meta(&empty).unwrap();
    assert!(all.is_empty());
    assert!(all.matches(&labels(&[])));
    let none = LabelSelector::from_meta_opt(None).unwrap();
    assert!(!none.matches(&labels(&[])));
    assert!(!none.matches(&labels(&[("a", "b")])));

    let sel = metav1::LabelSelector {
        match_labels: Some(labels(&[("app", "web")])),
        match_expressions: Some(vec![
            metav1::LabelSelectorRequirement {
                key: "env".into(),
                operator: "In".into(),
                values: Some(vec!["prod".into(), "stage".into()]),
            },
            metav1::LabelSelectorRequirement {
                key: "canary".into(),
                operator: "DoesNotExist".into(),
                values: None,
            },
        ]),
    };
    let s = LabelSelector::from_meta(&sel).unwrap();
    assert_eq!(s.to_string(), "app=web,!canary,env in (prod,stage)");
    assert!(s.matches(&labels(&[("app", "web"), ("env", "prod")])));
    assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev")])));
    assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod"), ("canary", "1")])));

    let j = LabelSelector::from_meta_json(
        &serde_json::json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]}),
    )
    .unwrap();
    assert_eq!(j.to_string(), "app=web,env");
    assert!(!LabelSelector::from_meta_json(&Value::Null)
        .unwrap()
        .matches(&labels(&[])));
    assert!(LabelSelector::from_meta_json(&serde_json::json!({"matchLabels": "x"})).is_err());

    let bad = metav1::LabelSelector {
        match_expressions: Some(vec![metav1::LabelSelectorRequirement {
            key: "a".into(),
            operator: "Foo".into(),
            values: None,
        }]),
        ..Default::default()
    };
    assert_eq!(
        LabelSelector::from_meta(&bad).unwrap_err(),
        "\"Foo\" is not a valid label selector operator"
    );
    let empty_in = metav1::LabelSelector {
        match_expressions: Some(vec![metav1::LabelSelectorRequirement {
            key: "a".into(),
            operator: "In".into(),
            values: Some(vec![]),
        }]),
        ..Default::default()
    };
    assert!(LabelSelector::from_meta(&empty_in)
        .unwrap_err()
        .contains("values set can't be empty"));
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
    assert!(is_dns1123_label("a.b").len() == 1);
    assert!(is_dns1123_subdomain("a.b").is_empty());
    assert!(!is_dns1123_subdomain("a..b").is_empty());
    assert!(is_valid_label_value("").is_empty());
}

#[test]
fn field_selector_parse_and_display() {
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("metadata.name=foo", "metadata.name=foo"),
        ("metadata.name==foo", "metadata.name=foo"),
        (
            "spec.nodeName!=,status.phase=Running",
            "spec.nodeName!=,status.phase=Running",
        ),
        ("a=x\\,y\\=z\\\\", "a=x\\,y\\=z\\\\"),
        ("a=b,", "a=b"),
    ];
    for (s, want) in cases {
        assert_eq!(FieldSelector::parse(s).unwrap().to_string(), *want, "{s}");
    }
    let sel = FieldSelector::parse("a=x\\,y\\=z\\\\").unwrap();
    assert_eq!(sel.terms()[0].value, "x,y=z\\");
    let errs: &[(&str, &str)] = &[
        ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
        ("a=b\\c", "invalid escape sequence: \\c"),
        ("a=b=c", "unescaped character in value: 61"),
        ("a=b\\", "invalid escape sequence: \\"),
    ];
    for (s, want) in errs {
        let e = FieldSelector::parse(s).unwrap_err();
        assert!(e.contains(want), "{s}: {e}");
    }
}
