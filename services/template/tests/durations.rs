//! Durations: the accepted forms, the canonical form, and the messages for refused ones.

use presage_template::{parse, Duration};

fn ms(text: &str) -> u64 {
    text.parse::<Duration>()
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .as_millis()
}

#[test]
fn accepts_each_unit() {
    assert_eq!(ms("500ms"), 500);
    assert_eq!(ms("10s"), 10_000);
    assert_eq!(ms("5m"), 300_000);
    assert_eq!(ms("1h"), 3_600_000);
    assert_eq!(ms("1d"), 86_400_000);
    assert_eq!(ms("7d"), 604_800_000);
    assert_eq!(ms("0s"), 0);
}

#[test]
fn accepts_combined_parts_largest_first() {
    assert_eq!(ms("1h30m"), 5_400_000);
    assert_eq!(ms("1d2h3m4s5ms"), 93_784_005);
}

#[test]
fn displays_the_canonical_form() {
    assert_eq!(Duration::from_millis(5_400_000).to_string(), "1h30m");
    assert_eq!(Duration::from_millis(90 * 60_000).to_string(), "1h30m");
    assert_eq!(Duration::from_millis(1_500).to_string(), "1s500ms");
    assert_eq!(Duration::from_millis(604_800_000).to_string(), "7d");
    assert_eq!(Duration::from_millis(0).to_string(), "0s");
    assert_eq!(
        ms(&Duration::from_millis(93_784_005).to_string()),
        93_784_005
    );
}

#[test]
fn serializes_to_and_from_the_string_form() {
    let d: Duration = yaml_serde::from_str("90m").expect("90m");
    assert_eq!(d.as_millis(), 5_400_000);
    assert_eq!(
        yaml_serde::to_string(&d).expect("serialize").trim(),
        "1h30m"
    );
    assert_eq!(serde_json::to_string(&d).expect("json"), "\"1h30m\"");
}

#[test]
fn refuses_text_that_is_not_number_and_unit() {
    for bad in [
        "5 minutes",
        "10",
        "",
        "m",
        "5",
        "1.5s",
        "-1s",
        "5mins",
        " 5m",
        "5m ",
        "1h 30m",
    ] {
        let err = bad.parse::<Duration>().expect_err(bad).to_string();
        assert_eq!(
            err,
            format!(
                "invalid duration {bad:?}: expected a number followed by a unit (ms, s, m, h, d), \
                 like 30s or 5m"
            )
        );
    }
}

#[test]
fn refuses_units_out_of_order_or_repeated() {
    for bad in ["30m1h", "1m1m", "5ms1s"] {
        let err = bad.parse::<Duration>().expect_err(bad).to_string();
        assert!(
            err.contains("expected units from largest to smallest"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn refuses_overflow_instead_of_wrapping() {
    let err = "99999999999999999999d"
        .parse::<Duration>()
        .expect_err("overflow");
    assert!(err.to_string().contains("too large"), "{err}");
    let err = "213503982335d".parse::<Duration>().expect_err("overflow");
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn a_bare_yaml_number_gets_the_same_message() {
    let errors = parse(
        "app: a\ndynamic_metadata:\n  sources:\n    - { id: host, kind: host, every: 10 }\n",
        "t.yaml",
    )
    .expect_err("bare number");
    let e = &errors.errors[0];
    assert_eq!((e.line, e.column), (4, 38), "{errors}");
    assert!(
        e.message.ends_with(
            "invalid duration \"10\": expected a number followed by a unit (ms, s, m, h, d), like 30s or 5m"
        ),
        "{}",
        e.message
    );
}

#[test]
fn converts_to_std() {
    let d = Duration::from_millis(1_500);
    assert_eq!(
        std::time::Duration::from(d),
        std::time::Duration::from_millis(1_500)
    );
    assert_eq!(Duration::from_secs(2).as_millis(), 2_000);
    assert!(Duration::ZERO.is_zero());
}
