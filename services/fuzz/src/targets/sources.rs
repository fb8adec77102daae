//! The JSON answers the collector reads from servers a template names: Prometheus's query API
//! (`promql` sources, and `presage backtest --prometheus`) and any JSON API picked by pointers
//! (`json_http`). Whatever the server sends, the parser answers readings or an error, within the
//! series bound, without panicking.

use std::collections::BTreeMap;

use super::{text, Target};
use crate::mutate;
use crate::rng::Rng;

const MAX_SERIES: usize = 50;

const INSTANT: &[&str] = &[
    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"api"},"value":[1700000000.5,"1"]},{"metric":{},"value":[1700000000,"NaN"]}]}}"#,
    r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}"#,
    r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#,
    r#"{"status":"success","data":{"resultType":"string","result":[1700000000,"x"]}}"#,
];

const RANGE: &[&str] = &[
    r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"route":"/a"},"values":[[1700000000,"1"],[1700000060,"2.5"],[1700000120,"-1e308"]]}]}}"#,
    r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "1e999",
    "-0",
    "\"NaN\"",
    "\"1\"",
    "9223372036854775808",
    "\\u0000",
    "[[[[[[[[",
    "\"metric\":",
    "\"value\":",
    "\"values\":",
];

pub(super) fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "promql-answer",
            reads: "Prometheus query API answers (promql sources, backtest --prometheus)",
            generate: generate_promql,
            run: run_promql,
        },
        Target {
            name: "ics",
            reads: "iCalendar files and feeds (ics sources)",
            generate: generate_ics,
            run: run_ics,
        },
        Target {
            name: "json-http",
            reads: "JSON API bodies picked by pointers (json_http sources)",
            generate: generate_json,
            run: run_json,
        },
    ]
}

fn generate_promql(rng: &mut Rng) -> Vec<u8> {
    let all: Vec<&str> = INSTANT.iter().chain(RANGE).copied().collect();
    let (a, b) = (*rng.pick(&all), *rng.pick(&all));
    let mut out = vec![u8::from(rng.one_in(2))];
    if rng.one_in(2) {
        out.extend(mutate::lines(rng, &a.replace(',', ",\n"), JSON_TOKENS).into_bytes());
    } else {
        out.extend(mutate::bytes(rng, a.as_bytes(), b.as_bytes()));
    }
    out
}

fn run_promql(input: &[u8]) {
    let Some((&range, body)) = input.split_first() else {
        return;
    };
    let body = text(body);
    let parsed = if range % 2 == 1 {
        presage_collector::promql::parse_range(&body, "m", MAX_SERIES)
    } else {
        presage_collector::promql::parse_instant(&body, "m", MAX_SERIES)
    };
    if let Ok(readings) = parsed {
        // A range answer holds many points per series; an instant one a point per series.
        if range % 2 == 0 {
            assert!(readings.len() <= MAX_SERIES, "{} readings", readings.len());
        }
        for r in &readings {
            assert_eq!(r.metric, "m");
        }
    }
}

const WEATHER: &[&str] = &[
    r#"{"name":"Newark","current":{"temperature_2m":21.5},"stations":[{"id":"a","t":1},{"id":7,"t":2.5}]}"#,
    r#"{"name":"Newark","current":{"temperature_2m":21.5,"wind":3},"stations":[{"id":"a","t":1},{"id":"b","t":"2"}]}"#,
    r#"{"stations":[{"id":1,"t":1.5e3},{"id":true,"t":null},{}],"name":null}"#,
    r#"[1,2,{"a~b":{"c/d":4}}]"#,
];

const POINTERS: &[&str] = &[
    "",
    "/",
    "/current/temperature_2m",
    "/stations",
    "/t",
    "/id",
    "/name",
    "/0",
    "/2/a~0b/c~1d",
    "/stations/-",
    "/stations/99999999999999999999",
    "~",
    "/~2",
];

fn generate_json(rng: &mut Rng) -> Vec<u8> {
    // First three bytes choose the pointers; the rest is the body.
    let mut out = vec![rng.byte(), rng.byte(), rng.byte()];
    let (a, b) = (rng.pick_str(WEATHER), rng.pick_str(WEATHER));
    if rng.one_in(2) {
        out.extend(mutate::lines(rng, &a.replace(',', ",\n"), JSON_TOKENS).into_bytes());
    } else {
        out.extend(mutate::bytes(rng, a.as_bytes(), b.as_bytes()));
    }
    out
}

fn run_json(input: &[u8]) {
    let [v, l, i, body @ ..] = input else {
        return;
    };
    let pointer = |b: &u8| POINTERS[usize::from(*b) % POINTERS.len()].to_string();
    let values = BTreeMap::from([("v".to_string(), pointer(v))]);
    let labels = BTreeMap::from([("l".to_string(), pointer(l))]);
    let items = (i % 2 == 1).then(|| pointer(i));
    let picks = presage_collector::json_http::Picks {
        values: &values,
        labels: &labels,
        items: items.as_deref(),
    };
    let body = text(body);
    if let Ok(readings) =
        presage_collector::json_http::readings(&body, picks, 1_700_000_000_000, MAX_SERIES)
    {
        assert!(readings.len() <= MAX_SERIES, "{} readings", readings.len());
        for r in &readings {
            assert_eq!(r.metric, "v");
            assert!(r.value.is_finite(), "{r:?}");
        }
    }
}

const CALENDAR: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
BEGIN:VEVENT\r\nUID:standup@x\r\nSUMMARY:Stand-up\r\n\
DTSTART;TZID=Europe/Berlin:20230102T093000\r\nDURATION:PT15M\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20301231\r\nEXDATE;TZID=Europe/Berlin:20230410T093000\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:standup@x\r\nRECURRENCE-ID;TZID=Europe/Berlin:20230103T093000\r\n\
DTSTART;TZID=Europe/Berlin:20230103T110000\r\nDTEND;TZID=Europe/Berlin:20230103T111500\r\nSUMMARY:Stand-up (moved)\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\nSUMMARY:Holiday\r\nDTSTART;VALUE=DATE:20231225\r\nRRULE:FREQ=YEARLY\r\n\
BEGIN:VALARM\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nSUMMARY:Launch\r\n long folded line\r\nDTSTART:20231201T120000Z\r\nDTEND:20231201T130000Z\r\n\
RDATE:20240101T120000Z,20240201T120000Z\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

const ICS_TOKENS: &[&str] = &[
    "RRULE:FREQ=SECONDLY",
    "DURATION:PT9999999999999H",
    "DURATION:P99999999D",
    "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    ";COUNT=",
    ";INTERVAL=0",
    ";UNTIL=99991231T235959Z",
    ";BYSETPOS=-1",
    "DTSTART:",
    "DTSTART;VALUE=DATE:",
    "DURATION:P",
    "PT-1H",
    "TZID=Nowhere/Else",
    "TZID=\"Europe/Berlin\"",
    "BEGIN:VEVENT",
    "END:VEVENT",
    "RECURRENCE-ID:",
    "EXDATE:",
    "STATUS:CANCELLED",
    "00000000T000000",
    "99991231",
    ":",
    ";",
    "\r\n ",
];

fn generate_ics(rng: &mut Rng) -> Vec<u8> {
    let calendar = mutate::lines(rng, &CALENDAR.replace("\r\n", "\n"), ICS_TOKENS);
    if rng.one_in(3) {
        mutate::bytes(rng, calendar.as_bytes(), CALENDAR.as_bytes())
    } else {
        calendar.into_bytes()
    }
}

fn run_ics(input: &[u8]) {
    let text = text(input);
    let zone: presage_template::Zone = "Europe/Berlin".parse().unwrap();
    for now_ms in [1_700_000_000_000, i64::MIN, i64::MAX] {
        if let Ok(readings) = presage_collector::ics::readings(&text, zone, None, now_ms) {
            let events = readings
                .iter()
                .find(|r| r.metric == "events")
                .map(|r| r.value);
            let in_event = readings
                .iter()
                .find(|r| r.metric == "in_event")
                .map(|r| r.value);
            assert_eq!(
                in_event,
                events.map(|n| f64::from(u8::from(n > 0.0))),
                "{readings:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds the mutations start from are answers the parsers accept, so mutated cases
    /// reach the checks on readings, not only the error paths.
    #[test]
    fn the_seeds_parse_into_readings() {
        let instant =
            presage_collector::promql::parse_instant(INSTANT[0], "m", MAX_SERIES).unwrap();
        assert_eq!(instant.len(), 2);
        let range = presage_collector::promql::parse_range(RANGE[0], "m", MAX_SERIES).unwrap();
        assert_eq!(range.len(), 3);
        let values = BTreeMap::from([("v".to_string(), "/t".to_string())]);
        let labels = BTreeMap::from([("l".to_string(), "/id".to_string())]);
        let picks = presage_collector::json_http::Picks {
            values: &values,
            labels: &labels,
            items: Some("/stations"),
        };
        let readings =
            presage_collector::json_http::readings(WEATHER[0], picks, 0, MAX_SERIES).unwrap();
        assert_eq!(readings.len(), 2);
        let readings =
            presage_collector::json_http::readings(WEATHER[1], picks, 0, MAX_SERIES).unwrap_err();
        assert!(readings.to_string().contains("/t"), "{readings}");
        let zone: presage_template::Zone = "Europe/Berlin".parse().unwrap();
        // Tuesday 2023-01-03 11:05 Berlin: the moved stand-up is on.
        let at = 1_672_740_300_000;
        let calendar = presage_collector::ics::readings(CALENDAR, zone, None, at).unwrap();
        assert!(
            calendar
                .iter()
                .any(|r| r.metric == "in_event" && r.value == 1.0),
            "{calendar:?}"
        );
    }
}
