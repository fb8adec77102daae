//! `ics` sources read through the collector's readers: a calendar file on disk with a recurring
//! event on a TZID and an all-day holiday, the same calendar served over HTTP, and what the
//! allow-list does not grant left unread. Readings are asserted at chosen instants: the reader
//! takes the instant, so no clock is involved.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use presage_collector::readers::Readers;
use presage_collector::{Reading, Refusal, SourceReader};
use presage_template::authority::Allow;
use presage_template::calendar::parse_timestamp;
use presage_template::{Source, SourceKind, Zone};

/// Folded as calendar programs write it: a weekly Monday-morning batch on Berlin's clock
/// (09:00-11:00 local, so 08:00 UTC in winter and 07:00 UTC in summer), skipped on Easter
/// Monday, and two all-day public holidays, one of them recurring yearly.
const CALENDAR: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Presage tests//EN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:batch@shop\r
SUMMARY:Weekly price import (batch\r
  window)\r
DTSTART;TZID=Europe/Berlin:20260105T090000\r
DTEND;TZID=Europe/Berlin:20260105T110000\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
EXDATE;TZID=Europe/Berlin:20260406T090000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:unity@shop\r
SUMMARY:Public holiday: German Unity Day\r
DTSTART;VALUE=DATE:20261003\r
RRULE:FREQ=YEARLY\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:labour@shop\r
SUMMARY:Public holiday: Labour Day\r
DTSTART;VALUE=DATE:20260501\r
DTEND;VALUE=DATE:20260502\r
END:VEVENT\r
END:VCALENDAR\r
";

fn at(text: &str) -> i64 {
    parse_timestamp(text).unwrap()
}

fn source(path: Option<String>, url: Option<String>, matching: Option<&str>) -> Source {
    Source {
        id: "cal".into(),
        kind: SourceKind::Ics,
        path,
        url,
        summary_match: matching.map(String::from),
        timeout: Some("2s".parse().unwrap()),
        ..Default::default()
    }
}

/// (in_event, events, minutes_to_next_event) of one read.
fn signals(readings: &[Reading]) -> (f64, f64, Option<f64>) {
    let value = |name: &str| readings.iter().find(|r| r.metric == name).map(|r| r.value);
    (
        value("in_event").unwrap(),
        value("events").unwrap(),
        value("minutes_to_next_event"),
    )
}

fn calendar_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.ics");
    std::fs::write(&path, CALENDAR).unwrap();
    (dir, path.display().to_string())
}

fn granting_dir(dir: &std::path::Path) -> Readers {
    let allow = Allow::parse(&format!("paths: [\"{}/\"]", dir.display()), "allow.yaml").unwrap();
    Readers::new(allow, 100)
}

#[test]
fn a_granted_calendar_file_gives_the_signals_at_each_instant() {
    let (dir, path) = calendar_file();
    let mut readers = granting_dir(dir.path());
    let cal = source(Some(path), None, None);
    // The template's zone is Berlin: the all-day dates are Berlin's days.
    let berlin: Zone = "Europe/Berlin".parse().unwrap();
    let mut read = |when: &str| signals(&readers.read_in(&cal, berlin, at(when)).unwrap());

    // Monday 2026-01-12, 08:30 UTC (09:30 in Berlin, winter): in the batch window; the next
    // start is the next Monday's, 7 days less 30 minutes away.
    assert_eq!(
        read("2026-01-12T08:30:00Z"),
        (1.0, 1.0, Some((7.0 * 24.0 * 60.0) - 30.0))
    );
    // Monday 2026-03-30, after the change to summer time: 09:00 Berlin is 07:00 UTC.
    assert_eq!(read("2026-03-30T07:00:00Z").0, 1.0);
    assert_eq!(read("2026-03-30T09:00:00Z").0, 0.0);
    // Easter Monday's run is excluded: nothing in progress, next is a week later.
    assert_eq!(
        read("2026-04-06T07:30:00Z"),
        (0.0, 0.0, Some(7.0 * 24.0 * 60.0 - 30.0))
    );
    // Friday 2026-05-01 is Labour Day all day, from Berlin's midnight (22:00 UTC before).
    assert_eq!(read("2026-04-30T21:59:00Z").0, 0.0);
    assert_eq!(
        read("2026-04-30T22:00:00Z"),
        (1.0, 1.0, Some(3.0 * 24.0 * 60.0 + 9.0 * 60.0))
    );
    // German Unity Day recurs yearly: 2027-10-03 too. It is a Sunday, so no batch.
    assert_eq!(read("2027-10-03T12:00:00Z").1, 1.0);
}

#[test]
fn match_counts_only_the_events_whose_summary_it_finds() {
    let (dir, path) = calendar_file();
    let mut readers = granting_dir(dir.path());
    let holidays = source(Some(path), None, Some("^Public holiday"));
    let berlin: Zone = "Europe/Berlin".parse().unwrap();
    // In the batch window, but it is no holiday: the next holiday is Labour Day.
    let r = readers
        .read_in(&holidays, berlin, at("2026-04-27T07:30:00Z"))
        .unwrap();
    assert_eq!(
        signals(&r),
        (0.0, 0.0, Some((3.0 * 24.0 + 14.0) * 60.0 + 30.0))
    );
}

#[test]
fn the_same_calendar_is_read_from_a_granted_url() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::from_string(CALENDAR));
        }
    });
    let allow = Allow::parse(&format!("urls: [\"{origin}/\"]"), "allow.yaml").unwrap();
    let cal = source(None, Some(format!("{origin}/calendars/shop.ics")), None);
    let r = Readers::new(allow, 100)
        .read(&cal, at("2026-01-12T08:30:00Z"))
        .unwrap();
    assert_eq!(signals(&r), (1.0, 1.0, Some(7.0 * 24.0 * 60.0 - 30.0)));
}

#[test]
fn an_ungranted_file_or_url_is_refused_unread() {
    let (dir, path) = calendar_file();
    let elsewhere = tempfile::tempdir().unwrap();
    let err = granting_dir(elsewhere.path())
        .read(&source(Some(path.clone()), None, None), 0)
        .unwrap_err();
    assert_eq!(err.refusal, Some(Refusal::NotGranted), "{err}");
    assert!(err.message.contains("allow-list rule `paths`"), "{err}");

    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/shop.ics", server.server_addr().to_ip().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = request.respond(tiny_http::Response::from_string(CALENDAR));
        }
    });
    // Granting the file does not grant a URL.
    let err = granting_dir(dir.path())
        .read(&source(None, Some(url), None), 0)
        .unwrap_err();
    assert_eq!(err.refusal, Some(Refusal::NotGranted), "{err}");
    assert_eq!(served.load(Ordering::SeqCst), 0, "the server was reached");
}

#[test]
fn a_file_that_is_not_a_calendar_is_a_reading_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.ics");
    std::fs::write(&path, "shopping list\n").unwrap();
    let err = granting_dir(dir.path())
        .read(&source(Some(path.display().to_string()), None, None), 0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "source cal: not an iCalendar: no BEGIN:VCALENDAR"
    );
}

#[test]
fn a_template_asking_for_an_ungranted_calendar_file_is_dead_lettered_before_any_read() {
    let (dir, path) = calendar_file();
    let template = presage_template::parse(
        &format!(
            "app: shop\ndynamic_metadata:\n  sources:\n    - {{ id: cal, kind: ics, path: {path} }}\n"
        ),
        "shop.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let elsewhere = tempfile::tempdir().unwrap();
    let allow = Allow::parse(
        &format!("paths: [\"{}/\"]", elsewhere.path().display()),
        "allow.yaml",
    )
    .unwrap();
    let refused = presage_collector::refusals::ungranted_sources(&template, &allow);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "cal");
    assert_eq!(refused[0].1.at, "dynamic_metadata.sources[0].path");
    // Granted, nothing is refused.
    let allow = Allow::parse(&format!("paths: [\"{}/\"]", dir.path().display()), "a.yaml").unwrap();
    assert!(presage_collector::refusals::ungranted_sources(&template, &allow).is_empty());
}
