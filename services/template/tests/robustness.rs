//! Bad input is refused with positions, never a panic or a hang.

use presage_template::parse;

#[test]
fn odd_inputs_are_refused_with_a_position() {
    let inputs = [
        "~",
        "[]",
        "{",
        "app: [",
        "\t",
        "\"just a string\"",
        "app: a\ndynamic_metadata: 5\n",
        "app: a\ndynamic_metadata:\n  sources: 5\n",
        "1: x\napp: a\ndynamic_metadata: {}\n",
        "app: a\ndynamic_metadata:\n  sources:\n    - *nope\n",
        "app: a\n---\napp: b\n",
        "app: a\ndynamic_metadata:\n  validation_rules:\n    - |\n      1 <\n",
        "app: a\ndynamic_metadata:\n  validation_rules: [\"é > \\\"ü\"]\n",
        "app: a\ndynamic_metadata:\n  sources: [ { id: é.x, kind: host, every: 5é } ]\n",
        "app: a\ndynamic_metadata:\n  sources: [ [ [ ] ] ]\n  metric_recipes: [ 1, 2, 3 ]\n",
        "app: a\ndynamic_metadata:\n  ? [complex, key]\n  : 1\n",
        "app: a\nbootstrap: { resources: { replicas: three } }\ndynamic_metadata: {}\n",
    ];
    for input in inputs {
        let errors = match parse(input, "odd.yaml") {
            Ok(t) => panic!("accepted {input:?} as {t:#?}"),
            Err(e) => e,
        };
        assert!(!errors.is_empty(), "{input:?}");
        for e in &errors {
            assert!(e.line >= 1 && e.column >= 1, "{input:?}: {e}");
            assert!(!e.message.is_empty(), "{input:?}");
        }
    }
}

#[test]
fn aliases_resolve_like_their_anchors() {
    let t = parse(
        "app: &name a\ndynamic_metadata:\n  sources: [ { id: *name, kind: host, every: &d 10s, timeout: *d } ]\n",
        "alias.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.dynamic_metadata.sources[0].id, "a");
    assert_eq!(
        t.dynamic_metadata.sources[0].timeout.map(|d| d.as_millis()),
        Some(10_000)
    );
}

#[test]
fn many_mistakes_do_not_hang() {
    let mut text = String::from("app: a\ndynamic_metadata:\n  sources:\n");
    for i in 0..120 {
        text.push_str(&format!(
            "    - {{ id: s{i}, kind: nope, every: bad, extra: 1 }}\n"
        ));
    }
    let errors = parse(&text, "many.yaml").expect_err("all bad");
    // Per item: the unknown kind, the bad duration and the unknown field.
    assert_eq!(errors.len(), 360, "{errors}");
}
