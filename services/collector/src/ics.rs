//! `ics` sources: the events of an iCalendar (RFC 5545) file or URL as signals at each read:
//! `in_event` (1 while an event is in progress), `events` (how many are) and
//! `minutes_to_next_event`. Optionally only events whose SUMMARY matches the source's `match`.
//!
//! Pure: [`readings`] is a function of the calendar's text, the template's zone (the clock of
//! floating times and all-day dates) and the instant, so it is tested without a clock.
//!
//! Recurrences (RRULE, with RDATE and EXDATE) are expanded by the `rrule` crate, which adds no
//! other crate to the build (chrono, chrono-tz, regex, log and thiserror are built already).
//! The content lines around them (unfolding, parameters, VEVENT blocks, DTSTART/DTEND/DURATION
//! values) are read here by hand: they are a few dozen lines of RFC 5545 §3.1, and the
//! maintained parser (`icalendar`) brings nom 8, nom-language and iso8601, which pulls a second
//! nom (7) into the build.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use presage_template::metric_names as names;
use presage_template::Zone;
use regex::Regex;
use rrule::{RRule, RRuleSet, Tz, Unvalidated};

use crate::samples::Reading;

/// Occurrences walked per calendar read, over all its events, before giving up: a 15-minute rule
/// started ten years ago is 350,000; a calendar of holidays and weekly events, at most a few
/// thousand. The bound is on the whole calendar, not each event, so a file of many long-running
/// rules (one fetched from a URL someone else controls) cannot make one read walk for minutes.
pub const MAX_OCCURRENCES: usize = 100_000;

/// Recurring events (RRULE) one calendar may hold. The `rrule` crate may loop up to 100,000
/// empty periods on a rule that never occurs before it gives up, outside any budget of ours, so
/// the number of rules bounds that work; a team's holidays and meetings are a few hundred.
pub const MAX_RECURRING_EVENTS: usize = 1_000;

/// The longest event a DURATION may give, in days (a century): longer is refused, not
/// computed, so no span overflows the calendar's arithmetic.
pub const MAX_SPAN_DAYS: u64 = 36_525;

/// Why a calendar gave no readings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    #[error("not an iCalendar: no BEGIN:VCALENDAR")]
    NotACalendar,
    /// A property of an event that cannot be read, named with the event's SUMMARY (or UID).
    #[error("event {event:?}: {message}")]
    Event { event: String, message: String },
    /// More recurring events than [`MAX_RECURRING_EVENTS`]: the calendar is not read.
    #[error(
        "{found} recurring events, more than {MAX_RECURRING_EVENTS}: the calendar is not read"
    )]
    TooManyRecurring { found: usize },
}

/// What a calendar says at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// Events in progress: started at or before the instant, ending after it.
    pub in_progress: usize,
    /// The start of the next event after the instant, if any.
    pub next_start_ms: Option<i64>,
}

/// The readings of the calendar `text` at `now_ms`, counting only events whose SUMMARY
/// `matching` finds (all without it). Floating times and all-day dates are on `zone`.
pub fn readings(
    text: &str,
    zone: Zone,
    matching: Option<&Regex>,
    now_ms: i64,
) -> Result<Vec<Reading>, IcsError> {
    let s = signals(text, zone, matching, now_ms)?;
    let mut out = vec![
        Reading::new(
            names::IN_EVENT,
            if s.in_progress > 0 { 1.0 } else { 0.0 },
            now_ms,
        ),
        Reading::new(names::EVENTS, s.in_progress as f64, now_ms),
    ];
    if let Some(next) = s.next_start_ms {
        let minutes = next.saturating_sub(now_ms) as f64 / 60_000.0;
        out.push(Reading::new(names::MINUTES_TO_NEXT_EVENT, minutes, now_ms));
    }
    Ok(out)
}

/// [`Signals`] of the calendar `text` at `now_ms`.
pub fn signals(
    text: &str,
    zone: Zone,
    matching: Option<&Regex>,
    now_ms: i64,
) -> Result<Signals, IcsError> {
    let floating: chrono_tz::Tz = zone.name().parse().unwrap_or(chrono_tz::Tz::UTC);
    let events = parse(text, Tz::Tz(floating))?;
    let recurring = events.iter().filter(|e| !e.rrules.is_empty()).count();
    if recurring > MAX_RECURRING_EVENTS {
        return Err(IcsError::TooManyRecurring { found: recurring });
    }
    let mut budget = MAX_OCCURRENCES;
    let now = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    // Instances moved by an override (RECURRENCE-ID) leave their series: the override stands
    // for them.
    let mut moved: HashMap<&str, Vec<DateTime<Tz>>> = HashMap::new();
    for event in &events {
        if let (Some(uid), Some(id)) = (&event.uid, event.recurrence_id) {
            moved.entry(uid.as_str()).or_default().push(id);
        }
    }
    let mut signals = Signals {
        in_progress: 0,
        next_start_ms: None,
    };
    for event in &events {
        if event.cancelled || matching.is_some_and(|m| !m.is_match(&event.summary)) {
            continue;
        }
        let skip = match (&event.uid, event.recurrence_id) {
            (Some(uid), None) => moved.get(uid.as_str()).map(Vec::as_slice),
            _ => None,
        };
        let (in_progress, next) = event.at(now, skip.unwrap_or_default(), &mut budget)?;
        signals.in_progress += in_progress;
        if let Some(next) = next {
            let next = next.timestamp_millis();
            signals.next_start_ms = Some(signals.next_start_ms.map_or(next, |n| n.min(next)));
        }
    }
    Ok(signals)
}

/// How long each occurrence lasts: nominal days (an all-day event, `P1D`) on the local clock of
/// its start, then exact time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Span {
    days: u64,
    exact: TimeDelta,
}

#[derive(Debug)]
struct Event {
    summary: String,
    uid: Option<String>,
    start: DateTime<Tz>,
    span: Span,
    rrules: Vec<String>,
    rdates: Vec<DateTime<Tz>>,
    exdates: Vec<DateTime<Tz>>,
    recurrence_id: Option<DateTime<Tz>>,
    cancelled: bool,
}

impl Event {
    /// How many of this event's occurrences are in progress at `now`, and the first start after
    /// it. `moved` are instances overridden by other VEVENTs.
    /// `budget`: occurrences the read may still walk; each one walked here is taken from it.
    fn at(
        &self,
        now: DateTime<Utc>,
        moved: &[DateTime<Tz>],
        budget: &mut usize,
    ) -> Result<(usize, Option<DateTime<Utc>>), IcsError> {
        // Limited: a rule that can never occur (the 30th of February) stops after the crate's
        // bound on empty passes instead of walking the calendar to the year 9999.
        let mut set = RRuleSet::new(self.start).limit();
        if self.rrules.is_empty() {
            set = set.rdate(self.start);
        }
        for rule in &self.rrules {
            // RFC 5545's rule grammar is ASCII; the `rrule` crate slices parts of it by byte
            // and panics inside a multi-byte character (found by `cargo xtask fuzz`).
            if !rule.is_ascii() {
                return Err(self.error(format!("RRULE:{rule}: not ASCII")));
            }
            let rule = until_in_utc(rule, self.start)
                .map_err(|e| self.error(format!("RRULE:{rule}: {e}")))?
                .parse::<RRule<Unvalidated>>()
                .and_then(|r| r.validate(self.start))
                .map_err(|e| self.error(format!("RRULE:{rule}: {e}")))?;
            set = set.rrule(rule);
        }
        let mut rdates = self.rdates.clone();
        rdates.sort();
        for rdate in rdates {
            set = set.rdate(rdate);
        }
        for exdate in self.exdates.iter().chain(moved) {
            // Each exclusion is checked against every occurrence walked: charged like one.
            *budget = budget.checked_sub(1).ok_or_else(|| {
                self.error(format!(
                    "more than {MAX_OCCURRENCES} occurrences and exclusions in all: not read"
                ))
            })?;
            set = set.exdate(*exdate);
        }
        let mut in_progress = 0;
        let mut seen = HashSet::new();
        for start in &set {
            let Some(left) = budget.checked_sub(1) else {
                return Err(self.error(format!(
                    "the calendar's events recur more than {MAX_OCCURRENCES} times in all before \
                     {now}: not read"
                )));
            };
            *budget = left;
            // An RDATE equal to a rule's instance is one occurrence.
            if !seen.insert(start.timestamp()) {
                continue;
            }
            let start_utc = start.with_timezone(&Utc);
            if start_utc > now {
                return Ok((in_progress, Some(start_utc)));
            }
            if end_of(start, self.span) > now {
                in_progress += 1;
            }
        }
        Ok((in_progress, None))
    }

    fn error(&self, message: String) -> IcsError {
        IcsError::Event {
            event: self.summary.clone(),
            message,
        }
    }
}

/// The rule with its UNTIL as a UTC time. Calendars write UNTIL as a date (all-day series) or a
/// local time as often as in UTC; the `rrule` crate reads those on the host's own zone and then
/// refuses them beside a zoned start. A date ends the series at the end of that day, a local time
/// is read on the start's zone (RFC 5545 §3.3.10).
fn until_in_utc(rule: &str, start: DateTime<Tz>) -> Result<String, String> {
    let parts: Result<Vec<String>, String> = rule
        .split(';')
        .map(|part| {
            let Some((key, value)) = part.split_once('=') else {
                return Ok(part.to_string());
            };
            let value = value.trim();
            if !key.trim().eq_ignore_ascii_case("UNTIL") || value.ends_with(['Z', 'z']) {
                return Ok(part.to_string());
            }
            let local = if value.contains('T') {
                NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
            } else {
                NaiveDate::parse_from_str(value, "%Y%m%d")
                    .map(|d| d.and_hms_opt(23, 59, 59).unwrap_or_default())
            }
            .map_err(|_| format!("UNTIL {value:?} is not a date or date-time"))?;
            let utc = resolve(start.timezone(), local).with_timezone(&Utc);
            Ok(format!("UNTIL={}", utc.format("%Y%m%dT%H%M%SZ")))
        })
        .collect();
    Ok(parts?.join(";"))
}

/// The end of an occurrence starting at `start`: its days on the local clock, then exact time.
fn end_of(start: DateTime<Tz>, span: Span) -> DateTime<Utc> {
    // Checked: a span past the end of chrono's calendar ends at its end, never panics.
    let after_days = if span.days == 0 {
        start
    } else {
        match start.naive_local().checked_add_days(Days::new(span.days)) {
            Some(local) => resolve(start.timezone(), local),
            None => return DateTime::<Utc>::MAX_UTC,
        }
    };
    after_days
        .with_timezone(&Utc)
        .checked_add_signed(span.exact)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A local time on `zone`: the earlier of two (clocks went back), or the time an hour later
/// when clocks jumped over it (RFC 5545 §3.3.5: read with the offset before the gap).
fn resolve(zone: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            let later = local.checked_add_signed(TimeDelta::hours(1))?;
            zone.from_local_datetime(&later).earliest()
        })
        .unwrap_or_else(|| zone.from_utc_datetime(&local))
}

// ---------------------------------------------------------------- content lines (RFC 5545 §3.1)

/// One content line: `NAME;PARAM=value:VALUE`.
#[derive(Debug)]
struct Line {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Line {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Long lines are folded: a line starting with a space or tab continues the one before.
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ if raw.is_empty() => {}
            _ => lines.push(raw.to_string()),
        }
    }
    lines
}

/// Splits a content line at its first `:` outside a quoted parameter value.
fn content_line(raw: &str) -> Option<Line> {
    let mut quoted = false;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in raw.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&raw[start..i]);
                start = i + 1;
            }
            ':' if !quoted => {
                parts.push(&raw[start..i]);
                let name = parts[0].trim().to_ascii_uppercase();
                let params = parts[1..]
                    .iter()
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| {
                        (
                            k.trim().to_ascii_uppercase(),
                            v.trim_matches('"').to_string(),
                        )
                    })
                    .collect();
                return Some(Line {
                    name,
                    params,
                    value: raw[i + 1..].to_string(),
                });
            }
            _ => {}
        }
    }
    None
}

/// TEXT values escape `\`, `;`, `,` and newlines.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The VEVENTs of a calendar; floating times and dates on `floating`.
fn parse(text: &str, floating: Tz) -> Result<Vec<Event>, IcsError> {
    let lines = unfold(text);
    if !lines
        .iter()
        .any(|l| l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err(IcsError::NotACalendar);
    }
    let mut events = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut current: Vec<Line> = Vec::new();
    for raw in &lines {
        let Some(line) = content_line(raw) else {
            continue;
        };
        match line.name.as_str() {
            "BEGIN" => stack.push(line.value.trim().to_ascii_uppercase()),
            "END" => {
                if stack.last().is_some_and(|c| c == "VEVENT") {
                    events.push(event(std::mem::take(&mut current), floating)?);
                }
                stack.pop();
            }
            // Only the event's own properties: not those of an alarm inside it.
            _ if stack.last().is_some_and(|c| c == "VEVENT") => current.push(line),
            _ => {}
        }
    }
    Ok(events)
}

fn event(lines: Vec<Line>, floating: Tz) -> Result<Event, IcsError> {
    let text = |name: &str| {
        lines
            .iter()
            .find(|l| l.name == name)
            .map(|l| unescape(&l.value))
    };
    let uid = text("UID");
    let summary = text("SUMMARY").unwrap_or_default();
    let label = if summary.is_empty() {
        uid.clone().unwrap_or_default()
    } else {
        summary.clone()
    };
    let fail = |message: String| IcsError::Event {
        event: label.clone(),
        message,
    };
    let one = |name: &str| -> Result<Option<When>, IcsError> {
        lines
            .iter()
            .find(|l| l.name == name)
            .map(|l| when(&l.value, l.param("TZID"), l.param("VALUE"), floating))
            .transpose()
            .map_err(|e| fail(format!("{name}: {e}")))
    };
    let Some(start) = one("DTSTART")? else {
        return Err(fail("no DTSTART".into()));
    };
    let span = match (one("DTEND")?, text("DURATION")) {
        (Some(end), _) => match (start, end) {
            (When::Date(s), When::Date(e)) => Span {
                days: u64::try_from((e.date_naive() - s.date_naive()).num_days()).unwrap_or(0),
                exact: TimeDelta::zero(),
            },
            (s, e) => Span {
                days: 0,
                exact: (e.instant() - s.instant()).max(TimeDelta::zero()),
            },
        },
        (None, Some(duration)) => parse_duration(duration.trim())
            .map_err(|e| fail(format!("DURATION:{duration}: {e}")))?,
        // RFC 5545 §3.6.1: a date lasts the day; a date-time, no time at all.
        (None, None) => match start {
            When::Date(_) => Span {
                days: 1,
                exact: TimeDelta::zero(),
            },
            When::Time(_) => Span::default(),
        },
    };
    let mut rdates = Vec::new();
    let mut exdates = Vec::new();
    let mut rrules = Vec::new();
    for l in &lines {
        let into = match l.name.as_str() {
            "RDATE" => &mut rdates,
            "EXDATE" => &mut exdates,
            "RRULE" => {
                rrules.push(l.value.trim().to_string());
                continue;
            }
            _ => continue,
        };
        for value in l.value.split(',') {
            let at = when(value, l.param("TZID"), l.param("VALUE"), floating)
                .map_err(|e| fail(format!("{}: {e}", l.name)))?;
            into.push(at.instant());
        }
    }
    Ok(Event {
        summary,
        uid,
        start: start.instant(),
        span,
        rrules,
        rdates,
        exdates,
        recurrence_id: one("RECURRENCE-ID")?.map(|w| w.instant()),
        cancelled: text("STATUS").is_some_and(|s| s.trim().eq_ignore_ascii_case("CANCELLED")),
    })
}

/// A DATE or DATE-TIME value, as an instant on its zone.
#[derive(Debug, Clone, Copy)]
enum When {
    /// An all-day date: local midnight on the floating zone.
    Date(DateTime<Tz>),
    Time(DateTime<Tz>),
}

impl When {
    fn instant(self) -> DateTime<Tz> {
        match self {
            When::Date(at) | When::Time(at) => at,
        }
    }
}

/// `20261225` (or `VALUE=DATE`), `20260105T090000Z` (UTC), `20260105T090000` with a `TZID`
/// (an IANA name), or without one (floating: the template's zone).
fn when(value: &str, tzid: Option<&str>, kind: Option<&str>, floating: Tz) -> Result<When, String> {
    let value = value.trim();
    let is_date = kind.is_some_and(|k| k.eq_ignore_ascii_case("DATE")) || !value.contains('T');
    if is_date {
        let date = NaiveDate::parse_from_str(value, "%Y%m%d")
            .map_err(|_| format!("{value:?} is not a date (YYYYMMDD)"))?;
        return Ok(When::Date(resolve(
            floating,
            date.and_time(Default::default()),
        )));
    }
    let (local, utc) = match value.strip_suffix(['Z', 'z']) {
        Some(local) => (local, true),
        None => (value, false),
    };
    let local = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S")
        .map_err(|_| format!("{value:?} is not a date-time (YYYYMMDDTHHMMSS, Z for UTC)"))?;
    if utc {
        return Ok(When::Time(Tz::UTC.from_utc_datetime(&local)));
    }
    let zone = match tzid {
        // Some calendars write the IANA name with a leading slash (RFC 5545 §3.2.19).
        Some(name) => Tz::Tz(
            name.trim_start_matches('/')
                .parse::<chrono_tz::Tz>()
                .map_err(|_| {
                    format!("TZID {name:?} is not an IANA time zone like Europe/Berlin")
                })?,
        ),
        None => floating,
    };
    Ok(When::Time(resolve(zone, local)))
}

/// `P1D`, `PT1H30M`, `P2W`, `P1DT12H` (RFC 5545 §3.3.6); never negative.
fn parse_duration(text: &str) -> Result<Span, String> {
    let body = text.strip_prefix('+').unwrap_or(text);
    if body.starts_with('-') {
        return Err("a negative duration: expected the event's length".into());
    }
    let Some(body) = body.strip_prefix(['P', 'p']) else {
        return Err("expected P, like PT1H or P1D".into());
    };
    let mut span = Span::default();
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in body.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let c = c.to_ascii_uppercase();
        if c == 'T' && number.is_empty() {
            in_time = true;
            continue;
        }
        let n: i64 = number
            .parse()
            .map_err(|_| format!("expected a number before {c}"))?;
        number.clear();
        any = true;
        // Checked: a hostile DURATION:PT9999999999999H is an error, not a panic.
        let too_long = || format!("{text} is longer than {MAX_SPAN_DAYS} days");
        match (in_time, c) {
            (false, 'W' | 'D') => {
                let days = if c == 'W' { n.checked_mul(7) } else { Some(n) };
                span.days = days
                    .and_then(|d| u64::try_from(d).ok())
                    .and_then(|d| span.days.checked_add(d))
                    .ok_or_else(too_long)?;
            }
            (true, 'H' | 'M' | 'S') => {
                let part = match c {
                    'H' => TimeDelta::try_hours(n),
                    'M' => TimeDelta::try_minutes(n),
                    _ => TimeDelta::try_seconds(n),
                };
                span.exact = part
                    .and_then(|p| span.exact.checked_add(&p))
                    .ok_or_else(too_long)?;
            }
            _ => return Err(format!("unexpected {c}")),
        }
        if span.days > MAX_SPAN_DAYS || span.exact > TimeDelta::days(MAX_SPAN_DAYS as i64) {
            return Err(too_long());
        }
    }
    if !number.is_empty() || !any {
        return Err("expected numbers with units, like PT1H30M".into());
    }
    Ok(span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_template::calendar::parse_timestamp;

    fn at(text: &str) -> i64 {
        parse_timestamp(text).unwrap()
    }

    fn calendar(events: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n")
    }

    fn signals_at(text: &str, when: &str) -> Signals {
        signals(text, Zone::UTC, None, at(when)).unwrap()
    }

    #[test]
    fn an_event_is_in_progress_from_its_start_until_its_end() {
        let cal = calendar(
            "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Launch\r\nDTSTART:20260701T120000Z\r\nDTEND:20260701T130000Z\r\nEND:VEVENT\r\n",
        );
        let before = signals_at(&cal, "2026-07-01T11:30:00Z");
        assert_eq!(before.in_progress, 0);
        assert_eq!(before.next_start_ms, Some(at("2026-07-01T12:00:00Z")));
        assert_eq!(signals_at(&cal, "2026-07-01T12:00:00Z").in_progress, 1);
        assert_eq!(signals_at(&cal, "2026-07-01T12:59:59Z").in_progress, 1);
        let after = signals_at(&cal, "2026-07-01T13:00:00Z");
        assert_eq!((after.in_progress, after.next_start_ms), (0, None));
    }

    #[test]
    fn readings_name_the_signals_and_minutes_to_the_next_start() {
        let cal = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:Sale\r\nDTSTART:20260701T120000Z\r\nDURATION:PT2H\r\nEND:VEVENT\r\n",
        );
        let r = readings(&cal, Zone::UTC, None, at("2026-07-01T11:30:00Z")).unwrap();
        let got: Vec<(&str, f64)> = r.iter().map(|r| (r.metric.as_str(), r.value)).collect();
        assert_eq!(
            got,
            vec![
                ("in_event", 0.0),
                ("events", 0.0),
                ("minutes_to_next_event", 30.0)
            ]
        );
        let r = readings(&cal, Zone::UTC, None, at("2026-07-01T13:59:00Z")).unwrap();
        assert_eq!(r.len(), 2, "no next event, no minutes_to_next_event: {r:?}");
        assert_eq!((r[0].value, r[1].value), (1.0, 1.0));
    }

    #[test]
    fn all_day_dates_last_their_local_days() {
        // Christmas on New York's clock: from 05:00 UTC on the 25th to 05:00 UTC on the 26th.
        let cal = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:Christmas\r\nDTSTART;VALUE=DATE:20261225\r\nEND:VEVENT\r\n",
        );
        let ny: Zone = "America/New_York".parse().unwrap();
        let busy = |when: &str| signals(&cal, ny, None, at(when)).unwrap().in_progress;
        assert_eq!(busy("2026-12-25T04:59:00Z"), 0);
        assert_eq!(busy("2026-12-25T05:00:00Z"), 1);
        assert_eq!(busy("2026-12-26T04:59:00Z"), 1);
        assert_eq!(busy("2026-12-26T05:00:00Z"), 0);
    }

    #[test]
    fn a_weekly_rule_on_a_tzid_keeps_its_local_hour_across_daylight_saving() {
        // Mondays 09:00-10:00 Berlin time: 08:00 UTC in winter, 07:00 UTC in summer.
        let cal = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:Weekly batch\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDTEND;TZID=Europe/Berlin:20260105T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nEND:VEVENT\r\n",
        );
        assert_eq!(signals_at(&cal, "2026-03-23T08:30:00Z").in_progress, 1);
        assert_eq!(signals_at(&cal, "2026-03-30T08:30:00Z").in_progress, 0);
        assert_eq!(signals_at(&cal, "2026-03-30T07:30:00Z").in_progress, 1);
        // On Tuesday the next is the next Monday, 07:00 UTC.
        assert_eq!(
            signals_at(&cal, "2026-03-31T12:00:00Z").next_start_ms,
            Some(at("2026-04-06T07:00:00Z"))
        );
    }

    #[test]
    fn exdates_and_moved_instances_leave_the_series() {
        let cal = calendar(concat!(
            "BEGIN:VEVENT\r\nUID:standup\r\nSUMMARY:Standup\r\nDTSTART:20260601T090000Z\r\nDURATION:PT15M\r\n",
            "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:20260602T090000Z\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nUID:standup\r\nSUMMARY:Standup\r\nRECURRENCE-ID:20260603T090000Z\r\n",
            "DTSTART:20260603T140000Z\r\nDURATION:PT15M\r\nEND:VEVENT\r\n",
        ));
        assert_eq!(signals_at(&cal, "2026-06-01T09:05:00Z").in_progress, 1);
        assert_eq!(signals_at(&cal, "2026-06-02T09:05:00Z").in_progress, 0);
        assert_eq!(signals_at(&cal, "2026-06-03T09:05:00Z").in_progress, 0);
        assert_eq!(signals_at(&cal, "2026-06-03T14:05:00Z").in_progress, 1);
        assert_eq!(signals_at(&cal, "2026-06-05T09:05:00Z").in_progress, 1);
        let done = signals_at(&cal, "2026-06-06T09:05:00Z");
        assert_eq!((done.in_progress, done.next_start_ms), (0, None));
    }

    #[test]
    fn match_counts_only_the_events_whose_summary_it_finds() {
        let cal = calendar(concat!(
            "BEGIN:VEVENT\r\nSUMMARY:Public holiday\\, national\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nSUMMARY:Team offsite\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nSUMMARY:Cancelled holiday\r\nSTATUS:CANCELLED\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VEVENT\r\n",
        ));
        let noon = at("2026-01-01T12:00:00Z");
        assert_eq!(signals(&cal, Zone::UTC, None, noon).unwrap().in_progress, 2);
        let holiday = Regex::new("(?i)holiday").unwrap();
        let only = signals(&cal, Zone::UTC, Some(&holiday), noon).unwrap();
        assert_eq!(only.in_progress, 1, "the cancelled one does not count");
    }

    #[test]
    fn folded_lines_quoted_parameters_and_alarms_are_read_as_rfc_5545_writes_them() {
        let cal = calendar(concat!(
            "BEGIN:VEVENT\r\nSUMMARY:Black \r\n Friday\r\nDTSTART;X-NOTE=\"a:b;c\";TZID=\"/America/New_York\":20261127T000000\r\n",
            "DTEND;TZID=America/New_York:20261128T000000\r\n",
            "BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nDTSTART:19700101T000000Z\r\nEND:VALARM\r\nEND:VEVENT\r\n",
        ));
        let friday = Regex::new("^Black Friday$").unwrap();
        let s = signals(&cal, Zone::UTC, Some(&friday), at("2026-11-27T06:00:00Z")).unwrap();
        assert_eq!(s.in_progress, 1);
        let s = signals(&cal, Zone::UTC, Some(&friday), at("2026-11-27T04:59:00Z")).unwrap();
        assert_eq!(s.in_progress, 0);
    }

    #[test]
    fn unreadable_values_are_errors_naming_the_event() {
        let bad_zone = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:Sale\r\nDTSTART;TZID=Mars/Olympus:20260101T000000\r\nEND:VEVENT\r\n",
        );
        let err = signals_at_err(&bad_zone);
        assert_eq!(
            err.to_string(),
            "event \"Sale\": DTSTART: TZID \"Mars/Olympus\" is not an IANA time zone like Europe/Berlin"
        );
        let bad_rule = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:Sale\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n",
        );
        assert!(signals_at_err(&bad_rule)
            .to_string()
            .starts_with("event \"Sale\": RRULE:FREQ=SOMETIMES"));
        assert_eq!(signals_at_err("<html></html>"), IcsError::NotACalendar);
    }

    fn signals_at_err(text: &str) -> IcsError {
        signals(text, Zone::UTC, None, at("2026-06-01T00:00:00Z")).unwrap_err()
    }

    #[test]
    fn until_ends_a_series_as_calendar_programs_write_it() {
        // An all-day series ended by a date, a zoned one ended by a UTC time (RFC 5545 §3.3.10).
        let cal = calendar(concat!(
            "BEGIN:VEVENT\r\nSUMMARY:Sprint review\r\nDTSTART;VALUE=DATE:20260105\r\n",
            "RRULE:FREQ=WEEKLY;UNTIL=20260119\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nSUMMARY:Standup\r\nDTSTART;TZID=America/New_York:20260105T093000\r\n",
            "DURATION:PT15M\r\nRRULE:FREQ=DAILY;UNTIL=20260107T143000Z\r\nEND:VEVENT\r\n",
        ));
        let busy = |when: &str| signals_at(&cal, when).in_progress;
        assert_eq!(busy("2026-01-19T12:00:00Z"), 1, "the last review");
        assert_eq!(busy("2026-01-26T12:00:00Z"), 0, "after UNTIL");
        assert_eq!(busy("2026-01-07T14:35:00Z"), 1, "the last standup");
        assert_eq!(busy("2026-01-08T14:35:00Z"), 0, "after UNTIL");
    }

    #[test]
    fn a_rule_that_never_occurs_ends_instead_of_searching_forever() {
        let cal = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:Never\r\nDTSTART:20260101T000000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\nEND:VEVENT\r\n",
        );
        let s = signals_at(&cal, "2026-06-01T00:00:00Z");
        assert_eq!((s.in_progress, s.next_start_ms), (0, None));
    }

    #[test]
    fn durations_read_weeks_days_and_time() {
        let span = parse_duration("P1W2DT3H4M5S").unwrap();
        assert_eq!(span.days, 9);
        assert_eq!(span.exact, TimeDelta::seconds(3 * 3600 + 4 * 60 + 5));
        assert!(parse_duration("-PT1H").is_err());
        assert!(parse_duration("1H").is_err());
        assert!(parse_duration("P").is_err());
    }

    /// Found by review: these panicked in chrono's arithmetic and took the collector down.
    #[test]
    fn durations_past_a_century_are_refused_and_far_ends_do_not_overflow() {
        for huge in [
            "PT9999999999999H",
            "P99999999D",
            "P9223372036854775807W",
            "P36526D",
        ] {
            let why = parse_duration(huge).unwrap_err();
            assert!(why.contains("longer than 36525 days"), "{huge}: {why}");
        }
        assert_eq!(parse_duration("P36525D").unwrap().days, 36_525);
        let cal = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:forever\r\nDTSTART:20260101T000000Z\r\nDURATION:P99999999D\r\nEND:VEVENT\r\n",
        );
        let err = signals(&cal, Zone::UTC, None, at("2026-06-01T00:00:00Z")).unwrap_err();
        assert!(err.to_string().contains("longer than"), "{err}");
        let start = Tz::UTC.from_utc_datetime(&NaiveDateTime::MAX);
        let span = Span {
            days: 10,
            exact: TimeDelta::hours(5),
        };
        assert_eq!(end_of(start, span), DateTime::<Utc>::MAX_UTC);
    }
}
