//! A template's `timezone`: an IANA name, UTC when absent, refused at its line and column when
//! the database does not know it. Snippets are one line per array element (line = index + 1).

mod common;

use common::{doc, errors};
use presage_template::{parse, version_of, Zone};

/// The lines, then a body that parses.
fn with_body<'a>(first: &[&'a str]) -> Vec<&'a str> {
    first.iter().copied().chain(BODY).collect()
}

const BODY: [&str; 4] = [
    "dynamic_metadata:",
    "  sources: [ { id: clock, kind: calendar } ]",
    "  metric_recipes:",
    "    - { name: hour, from: clock.hour_of_day, window: { tumble: 1m } }",
];

#[test]
fn a_template_names_its_zone_by_iana_name() {
    let t = parse(
        &doc(&with_body(&["app: a", "timezone: Europe/London"])),
        "t.yaml",
    )
    .unwrap();
    assert_eq!(t.timezone, Some("Europe/London".parse().unwrap()));
    assert_eq!(t.zone().name(), "Europe/London");
    let t = parse(
        &doc(&with_body(&["app: a", "timezone: \"America/New_York\""])),
        "t.yaml",
    )
    .unwrap();
    assert_eq!(t.zone().name(), "America/New_York");
}

#[test]
fn without_a_zone_the_clock_is_utc() {
    let t = parse(&doc(&with_body(&["app: a"])), "t.yaml").unwrap();
    assert_eq!(t.timezone, None);
    assert_eq!(t.zone(), Zone::UTC);
}

#[test]
fn an_unknown_zone_is_reported_at_its_value() {
    let all = errors(&with_body(&["app: a", "timezone: Europe/Lndon"]));
    assert_eq!(all.len(), 1, "{all:#?}");
    let e = &all[0];
    assert_eq!((e.line, e.column), (2, 11), "{e}");
    assert_eq!(
        e.message,
        "timezone: unknown time zone \"Europe/Lndon\": expected an IANA name like \
         Europe/London, America/New_York or UTC"
    );
    // Further mistakes are still reported alongside it.
    let all = errors(&[
        "app: a",
        "timezone: europe/london",
        "dynamic_metadata:",
        "  sources: [ { id: clock, kind: calendr } ]",
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!((all[0].line, all[0].column), (2, 11));
    assert!(
        all[0].message.ends_with("(did you mean Europe/London?)"),
        "{}",
        all[0]
    );
    assert_eq!(all[1].line, 4, "{}", all[1]);
}

#[test]
fn a_zone_is_a_name_not_an_offset_or_a_number() {
    for (value, column) in [("+01:00", 11), ("1", 11), ("\"\"", 11), ("[UTC]", 11)] {
        let line = format!("timezone: {value}");
        let all = errors(&with_body(&["app: a", &line]));
        assert_eq!(all.len(), 1, "{value}: {all:#?}");
        assert_eq!(
            (all[0].line, all[0].column),
            (2, column),
            "{value}: {}",
            all[0]
        );
        assert!(all[0].message.starts_with("timezone: "), "{}", all[0]);
    }
}

#[test]
fn the_zone_round_trips_through_json_and_is_left_out_when_absent() {
    let text = doc(&with_body(&["app: a", "timezone: Asia/Kolkata"]));
    let t = parse(&text, "t.yaml").unwrap();
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["timezone"], "Asia/Kolkata");
    let back: presage_template::Template = serde_json::from_value(json).unwrap();
    assert_eq!(back, t);
    let utc = parse(&doc(&with_body(&["app: a"])), "t.yaml").unwrap();
    assert!(serde_json::to_value(&utc)
        .unwrap()
        .get("timezone")
        .is_none());
    // The version is the text's hash: naming a zone is a new version.
    assert_ne!(version_of(&text), version_of(&doc(&with_body(&["app: a"]))));
}
