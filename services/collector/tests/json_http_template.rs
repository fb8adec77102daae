//! The shipped `templates/weather-demand.yaml` as the collector reads it: its `json_http` weather
//! source against a server answering as Open-Meteo does for that query, and its `ics` holidays
//! source on a calendar file, each read exactly as the template declares it (only the address is
//! moved to the test's server and file); and the signals they give are the joined regressors of
//! its `linear` forecast.

use std::path::PathBuf;

use presage_collector::readers::Readers;
use presage_collector::SourceReader;
use presage_template::authority::Allow;
use presage_template::calendar::parse_timestamp;
use presage_template::{load, ModelKind, Source, SourceKind, Template};

fn shipped() -> Template {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../templates/weather-demand.yaml");
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn source<'t>(t: &'t Template, id: &str) -> &'t Source {
    t.source(id).unwrap_or_else(|| panic!("no source {id}"))
}

/// Open-Meteo's answer to the template's query (latitude 40.69, longitude -74.17, current
/// temperature and humidity in Fahrenheit), as the API writes it.
const OPEN_METEO: &str = r#"{"latitude":40.710335,"longitude":-74.16653,"generationtime_ms":0.0357627868652344,"utc_offset_seconds":0,"timezone":"GMT","timezone_abbreviation":"GMT","elevation":6.0,"current_units":{"time":"iso8601","interval":"seconds","temperature_2m":"°F","relative_humidity_2m":"%"},"current":{"time":"2026-07-01T16:00","interval":900,"temperature_2m":86.4,"relative_humidity_2m":52}}"#;

#[test]
fn the_weather_source_reads_an_open_meteo_response_as_the_template_declares() {
    let t = shipped();
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::from_string(OPEN_METEO));
        }
    });
    let mut weather = source(&t, "weather").clone();
    assert_eq!(weather.kind, SourceKind::JsonHttp);
    let query = weather.url.as_deref().unwrap().split_once('?').unwrap().1;
    weather.url = Some(format!("{origin}/v1/forecast?{query}"));
    let allow = Allow::parse(&format!("urls: [\"{origin}/v1/\"]"), "allow.yaml").unwrap();
    let readings = Readers::new(allow, 100).read(&weather, 1_000).unwrap();
    let got: Vec<(&str, f64, &str, &str)> = readings
        .iter()
        .map(|r| {
            (
                r.metric.as_str(),
                r.value,
                r.labels["grid_lat"].as_str(),
                r.labels["grid_lon"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("humidity_pct", 52.0, "40.710335", "-74.16653"),
            ("temperature_f", 86.4, "40.710335", "-74.16653"),
        ]
    );
}

/// US holidays as a calendar program exports them: Thanksgiving on the fourth Thursday of
/// November every year, Independence Day yearly, and a company event `match` leaves out.
const US_HOLIDAYS: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Presage tests//EN\r
BEGIN:VEVENT\r
UID:thanksgiving\r
SUMMARY:Thanksgiving Day\r
DTSTART;VALUE=DATE:20241128\r
DTEND;VALUE=DATE:20241129\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:independence\r
SUMMARY:Independence Day (public holiday)\r
DTSTART;VALUE=DATE:20240704\r
RRULE:FREQ=YEARLY\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:offsite\r
SUMMARY:Company offsite\r
DTSTART;TZID=America/New_York:20261126T090000\r
DURATION:PT8H\r
END:VEVENT\r
END:VCALENDAR\r
";

#[test]
fn the_holidays_source_reads_a_calendar_on_the_template_s_clock() {
    let t = shipped();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("us-holidays.ics");
    std::fs::write(&file, US_HOLIDAYS).unwrap();
    let mut holidays = source(&t, "holidays").clone();
    assert_eq!(holidays.kind, SourceKind::Ics);
    holidays.path = Some(file.display().to_string());
    let allow = Allow::parse(&format!("paths: [\"{}/\"]", dir.path().display()), "a.yaml").unwrap();
    let mut readers = Readers::new(allow, 100);
    let mut read = |at: &str| {
        let readings = readers
            .read_in(&holidays, t.zone(), parse_timestamp(at).unwrap())
            .unwrap();
        let value = |name: &str| readings.iter().find(|r| r.metric == name).map(|r| r.value);
        (value("in_event").unwrap(), value("minutes_to_next_event"))
    };
    // Thanksgiving 2026 is Thursday 26 November: New York's midnight is 05:00 UTC. The offsite
    // that day does not match, so it neither counts nor is the next event.
    assert_eq!(read("2026-11-26T04:00:00Z"), (0.0, Some(60.0)));
    assert_eq!(read("2026-11-26T17:00:00Z").0, 1.0);
    assert_eq!(read("2026-11-27T04:59:00Z").0, 1.0);
    // After it, the next is Independence Day 2027, on New York's clock (04:00 UTC).
    let after = read("2026-11-27T05:00:00Z");
    assert_eq!(after.0, 0.0);
    let to_july = (parse_timestamp("2027-07-04T04:00:00Z").unwrap()
        - parse_timestamp("2026-11-27T05:00:00Z").unwrap()) as f64
        / 60_000.0;
    assert_eq!(after.1, Some(to_july));
}

#[test]
fn the_weather_and_the_holidays_are_the_linear_model_s_regressors() {
    let t = shipped();
    let forecast = &t.dynamic_metadata.prediction_algorithms[0];
    assert!(forecast.models.contains(&ModelKind::Linear));
    let recipe = t.recipe(&forecast.target).unwrap();
    let joined = |alias: &str| {
        recipe
            .join
            .iter()
            .find(|j| j.alias == alias)
            .map(|j| j.signal.as_str())
    };
    let signals: Vec<Option<&str>> = forecast.regressors.iter().map(|r| joined(r)).collect();
    assert_eq!(
        signals,
        vec![Some("weather.temperature_f"), Some("holidays.in_event")]
    );
}
