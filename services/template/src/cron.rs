//! Cron schedules for scheduled capacity floors: the classic five fields
//! `minute hour day-of-month month day-of-week`, like `0 8 * * 1-5` or `*/15 * * * *`.
//!
//! Each field takes `*`, a value, a list `a,b`, a range `a-b` and a step `*/n` or `a-b/n`;
//! months may be named `JAN`..`DEC` and weekdays `SUN`..`SAT` (any case), and the weekday
//! numbers are 0-7 with both 0 and 7 meaning Sunday. `FRI-SUN` is read as Friday to Sunday.
//!
//! The two day fields combine as in Vixie cron: when either of them starts with `*` a day
//! must match both, otherwise (both restricted) it must match either. So `0 12 25 * FRI` fires
//! on the 25th and on every Friday, and `0 12 */2 * FRI` only on Fridays with an odd date.
//!
//! Everything here is pure arithmetic on epoch milliseconds; a match is a whole UTC minute.
//! `zoned` reads the same schedules on a time zone's local clock (`last_at_or_before_in`,
//! `window_active_in`), through chrono-tz.
//!
//! The grammar is our own rather than a cron crate's: croner (the maintained one) takes only a
//! bare `*` as unrestricted, so `0 12 */2 * FRI` would fire on odd dates or Fridays rather than
//! Vixie's odd Fridays above; its errors carry no position for `file:line:column`; and its
//! builder dependency (derive_builder → darling 0.20) would compile a second darling next to
//! apache-avro's.

mod zoned;

use std::fmt;
use std::str::FromStr;

const MS_PER_MINUTE: i64 = 60_000;
const MINUTES_PER_DAY: i64 = 1_440;

/// A parsed five-field cron schedule. Two schedules compare equal when they select the same
/// values and combine their day fields the same way (`0 0 * * 0` equals `0 0 * * SUN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cron {
    /// Bit n: minute n, 0..=59.
    minutes: u64,
    /// Bit n: hour n, 0..=23.
    hours: u32,
    /// Bit n: day of the month n, 1..=31.
    days_of_month: u32,
    /// Bit n: month n, 1..=12.
    months: u16,
    /// Bit n: weekday n, 0 = Sunday … 6 = Saturday.
    days_of_week: u8,
    /// The day-of-month field started with `*`.
    dom_star: bool,
    /// The day-of-week field started with `*`.
    dow_star: bool,
}

/// The five fields of a cron expression, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// A cron expression that does not parse. The message names the field, shows its text and says
/// what was expected; `offset` is the 0-based character offset of that field in the text (for
/// a wrong number of fields: of the first extra field, or of the end of the last one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CronError {
    pub offset: usize,
    /// The field at fault; `None` when the expression does not have five fields.
    pub field: Option<CronField>,
    pub message: String,
}

impl Cron {
    /// Whether the UTC minute containing the instant matches.
    pub fn matches(&self, at_ms: i64) -> bool {
        let minute = at_ms.div_euclid(MS_PER_MINUTE);
        let day = minute.div_euclid(MINUTES_PER_DAY);
        let of_day = minute.rem_euclid(MINUTES_PER_DAY);
        self.day_matches(day)
            && self.hours & (1 << (of_day / 60)) != 0
            && self.minutes & (1 << (of_day % 60)) != 0
    }

    /// The start (epoch ms, minute-aligned) of the latest matching minute that starts at or
    /// before `at_ms` and no more than `lookback_ms` before it; `None` when there is none.
    ///
    /// Days and hours that cannot match are skipped whole, so the cost grows with the number
    /// of days looked at, not minutes; every schedule that parses matches at least once in
    /// eight years, so even an unbounded lookback ends after a few thousand days.
    pub fn last_at_or_before(&self, at_ms: i64, lookback_ms: i64) -> Option<i64> {
        if lookback_ms < 0 {
            return None;
        }
        let earliest_ms = at_ms.saturating_sub(lookback_ms);
        // Minute indices: the minute containing `at_ms`, and the first minute starting at or
        // after `earliest_ms`.
        let mut minute = at_ms.div_euclid(MS_PER_MINUTE);
        let first = earliest_ms.div_euclid(MS_PER_MINUTE)
            + i64::from(earliest_ms.rem_euclid(MS_PER_MINUTE) != 0);
        while minute >= first {
            let day = minute.div_euclid(MINUTES_PER_DAY);
            let day_start = day * MINUTES_PER_DAY;
            if !self.day_matches(day) {
                minute = day_start - 1;
                continue;
            }
            let of_day = minute - day_start;
            let (hour, minute_of_hour) = (of_day / 60, of_day % 60);
            let hour_start = day_start + hour * 60;
            if self.hours & (1 << hour) != 0 {
                // The matching minutes of this hour up to and including `minute_of_hour`.
                let candidates = self.minutes & ((2u64 << minute_of_hour) - 1);
                if candidates != 0 {
                    let found = hour_start + i64::from(63 - candidates.leading_zeros());
                    // Anything earlier would be before `first` too.
                    return if found >= first {
                        found.checked_mul(MS_PER_MINUTE)
                    } else {
                        None
                    };
                }
            }
            minute = hour_start - 1;
        }
        None
    }

    /// Whether a window that opens at the start of each matching minute and stays open for
    /// `duration_ms` is open at `at_ms`: some matching minute started at or before `at_ms` and
    /// less than `duration_ms` before it (start inclusive, end exclusive).
    pub fn window_active(&self, at_ms: i64, duration_ms: i64) -> bool {
        duration_ms > 0 && self.last_at_or_before(at_ms, duration_ms - 1).is_some()
    }

    fn day_matches(&self, day: i64) -> bool {
        let (month, day_of_month) = month_and_day(day);
        if self.months & (1 << month) == 0 {
            return false;
        }
        // Cron counts from Sunday = 0; 1970-01-01 was a Thursday.
        let weekday = (day + 4).rem_euclid(7);
        let dom = self.days_of_month & (1 << day_of_month) != 0;
        let dow = self.days_of_week & (1 << weekday) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }
}

/// Month (1..=12) and day of the month (1..=31) of a day counted from 1970-01-01.
fn month_and_day(days: i64) -> (u32, u32) {
    let (_, month, day) = crate::calendar::civil_from_days(days);
    (month, day)
}

/// How one field is read.
struct Spec {
    field: CronField,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, …; empty when the field has none.
    names: &'static [&'static str],
    /// What a single value is, for messages: "a minute 0-59".
    value: &'static str,
    /// What a name is, for messages: "month".
    name_kind: &'static str,
}

const SPECS: [Spec; 5] = [
    Spec {
        field: CronField::Minute,
        min: 0,
        max: 59,
        names: &[],
        value: "a minute 0-59",
        name_kind: "",
    },
    Spec {
        field: CronField::Hour,
        min: 0,
        max: 23,
        names: &[],
        value: "an hour 0-23",
        name_kind: "",
    },
    Spec {
        field: CronField::DayOfMonth,
        min: 1,
        max: 31,
        names: &[],
        value: "a day of the month 1-31",
        name_kind: "",
    },
    Spec {
        field: CronField::Month,
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
        value: "a month 1-12 or JAN-DEC",
        name_kind: "month",
    },
    Spec {
        field: CronField::DayOfWeek,
        min: 0,
        max: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
        value: "a weekday 0-7 or SUN-SAT (0 and 7 are Sunday)",
        name_kind: "weekday",
    },
];

const SYNTAX: &str =
    "`*`, a value, a list like 1,15, a range like 1-5, or a step like */15 or 0-30/5";

/// What is wrong with a field and what was expected instead.
struct Problem {
    what: String,
    expected: String,
}

impl Problem {
    fn new(what: impl Into<String>, expected: impl Into<String>) -> Self {
        Problem {
            what: what.into(),
            expected: expected.into(),
        }
    }
}

/// The bits a field selects, and whether it started with `*`.
struct Parsed {
    bits: u64,
    star: bool,
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fields = split_fields(text);
        if fields.len() != SPECS.len() {
            let offset = match fields.get(SPECS.len()) {
                Some(&(extra, _)) => extra,
                None => fields
                    .last()
                    .map_or(0, |&(start, field)| start + field.chars().count()),
            };
            let found = match fields.len() {
                0 => "is empty".to_string(),
                1 => "has 1 field".to_string(),
                n => format!("has {n} fields"),
            };
            return Err(CronError {
                offset,
                field: None,
                message: format!(
                    "cron expression `{}` {found}; expected 5: minute hour day-of-month month \
                     day-of-week, like `0 8 * * 1-5`",
                    text.trim()
                ),
            });
        }

        let mut parsed = Vec::with_capacity(SPECS.len());
        for (&(offset, field), spec) in fields.iter().zip(&SPECS) {
            let value = parse_field(field, spec).map_err(|p| error(spec, offset, field, p))?;
            parsed.push(value);
        }
        let [minute, hour, dom, month, dow] = <[Parsed; 5]>::try_from(parsed)
            .unwrap_or_else(|_| unreachable!("five fields were checked above"));
        // 7 is Sunday too.
        let days_of_week = ((dow.bits | dow.bits >> 7) & 0x7f) as u8;
        let cron = Cron {
            minutes: minute.bits,
            hours: hour.bits as u32,
            days_of_month: dom.bits as u32,
            months: month.bits as u16,
            days_of_week,
            dom_star: dom.star,
            dow_star: dow.star,
        };

        // A day must then match the day-of-month field: refuse schedules that never fire.
        if cron.dow_star && !cron.some_day_of_month_exists() {
            let (offset, field) = fields[2];
            return Err(error(
                &SPECS[2],
                offset,
                field,
                Problem::new(
                    "none of these days occurs in the selected months",
                    "a day that exists in at least one of them (February has 29 days at most)",
                ),
            ));
        }
        Ok(cron)
    }
}

impl Cron {
    fn some_day_of_month_exists(&self) -> bool {
        const LONGEST: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12usize).any(|month| {
            let days = ((2u64 << LONGEST[month]) - 2) as u32; // bits 1..=LONGEST[month]
            self.months & (1 << month) != 0 && self.days_of_month & days != 0
        })
    }
}

fn error(spec: &Spec, offset: usize, field: &str, problem: Problem) -> CronError {
    CronError {
        offset,
        field: Some(spec.field),
        message: format!(
            "cron {} field `{field}`: {}; expected {}",
            spec.field, problem.what, problem.expected
        ),
    }
}

/// The whitespace-separated fields of `text`, each with its 0-based character offset.
fn split_fields(text: &str) -> Vec<(usize, &str)> {
    let mut fields = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (character offset, byte offset)
    for (chars, (byte, c)) in text.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (true, Some((offset, from))) => {
                fields.push((offset, &text[from..byte]));
                start = None;
            }
            (false, None) => start = Some((chars, byte)),
            _ => {}
        }
    }
    if let Some((offset, from)) = start {
        fields.push((offset, &text[from..]));
    }
    fields
}

fn parse_field(text: &str, spec: &Spec) -> Result<Parsed, Problem> {
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(Problem::new("a list item is empty", SYNTAX));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(parse_step(step)?)),
            None => (item, None),
        };
        let (low, high) = if base == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = base.split_once('-') {
            let low = parse_value(low, spec)?;
            let mut high = parse_value(high, spec)?;
            if spec.field == CronField::DayOfWeek && high == 0 && low > 0 {
                high = 7; // FRI-SUN
            }
            if low > high {
                return Err(Problem::new(
                    format!("the range `{base}` runs backwards"),
                    "the low end first, like 1-5 (ranges do not wrap around)",
                ));
            }
            (low, high)
        } else {
            let value = parse_value(base, spec)?;
            if step.is_some() {
                return Err(Problem::new(
                    format!("`{item}` steps from a single value"),
                    "a step after `*` or a range, like */15 or 0-30/5",
                ));
            }
            (value, value)
        };
        let step = step.unwrap_or(1);
        let mut value = low;
        while value <= high {
            bits |= 1 << value;
            value = value.saturating_add(step);
        }
    }
    Ok(Parsed {
        bits,
        star: text.starts_with('*'),
    })
}

fn parse_step(text: &str) -> Result<u32, Problem> {
    const EXPECTED: &str = "a step of at least 1 after `/`, like */15";
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::new(
            format!("the step `{text}` is not a number"),
            EXPECTED,
        ));
    }
    match text.parse::<u32>() {
        Ok(0) => Err(Problem::new("the step is 0", EXPECTED)),
        Ok(step) => Ok(step),
        // Only overflow is left: any step that large selects just the first value.
        Err(_) => Ok(u32::MAX),
    }
}

fn parse_value(text: &str, spec: &Spec) -> Result<u32, Problem> {
    if text.is_empty() {
        return Err(Problem::new("a value is missing", spec.value));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(value) if (spec.min..=spec.max).contains(&value) => Ok(value),
            _ => Err(Problem::new(
                format!("{} is out of range", text.trim_start_matches('0').max("0")),
                spec.value,
            )),
        };
    }
    if let Some(index) = spec
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(spec.min + index as u32);
    }
    let what = if spec.names.is_empty() {
        format!("`{text}` is not a number")
    } else {
        format!("`{text}` is neither a number nor a {} name", spec.name_kind)
    };
    Err(Problem::new(what, spec.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{parse_date, parse_timestamp};

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;

    fn cron(text: &str) -> Cron {
        text.parse()
            .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` as epoch milliseconds.
    fn at(text: &str) -> i64 {
        parse_timestamp(text).unwrap_or_else(|| panic!("bad timestamp {text}"))
    }

    fn err(text: &str) -> CronError {
        match text.parse::<Cron>() {
            Ok(c) => panic!("`{text}` should not parse, got {c:?}"),
            Err(e) => e,
        }
    }

    /// Every instant of `hits` matches `text`; none of `misses` does.
    fn check(text: &str, hits: &[&str], misses: &[&str]) {
        let c = cron(text);
        for t in hits {
            assert!(c.matches(at(t)), "`{text}` should match {t}");
        }
        for t in misses {
            assert!(!c.matches(at(t)), "`{text}` should not match {t}");
        }
    }

    /// The naive reference for `last_at_or_before`: every minute, newest first.
    fn scan_back(c: &Cron, at_ms: i64, lookback_ms: i64) -> Option<i64> {
        let mut minute = at_ms.div_euclid(MINUTE) * MINUTE;
        while minute >= at_ms - lookback_ms {
            if c.matches(minute) {
                return Some(minute);
            }
            minute -= MINUTE;
        }
        None
    }

    #[test]
    fn civil_dates_agree_with_the_calendar_module() {
        let mut expected = parse_date("1899-01-01").unwrap();
        for year in 1899..=2101 {
            for month in 1..=12 {
                for dom in 1..=31 {
                    if let Some(day) = parse_date(&format!("{year}-{month:02}-{dom:02}")) {
                        assert_eq!(day, expected, "{year}-{month:02}-{dom:02}");
                        assert_eq!(month_and_day(day), (month, dom), "day {day}");
                        expected += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn weekdays_at_eight_match_monday_to_friday_only() {
        // 2013-12-25 was a Wednesday; 12-28 a Saturday, 12-29 a Sunday, 12-30 a Monday.
        check(
            "0 8 * * 1-5",
            &[
                "2013-12-25T08:00:00Z",
                "2013-12-25T08:00:59Z",
                "2013-12-27T08:00:00Z",
                "2013-12-30T08:00:00Z",
            ],
            &[
                "2013-12-25T07:59:59Z",
                "2013-12-25T08:01:00Z",
                "2013-12-25T20:00:00Z",
                "2013-12-28T08:00:00Z",
                "2013-12-29T08:00:00Z",
            ],
        );
    }

    #[test]
    fn the_whole_minute_matches_to_the_millisecond() {
        let c = cron("0 8 * * *");
        let eight = at("2013-12-25T08:00:00Z");
        assert!(c.matches(eight));
        assert!(c.matches(eight + MINUTE - 1));
        assert!(!c.matches(eight - 1));
        assert!(!c.matches(eight + MINUTE));
    }

    #[test]
    fn names_mean_the_same_as_numbers_in_any_case() {
        assert_eq!(cron("30 6,18 * * MON-FRI"), cron("30 6,18 * * 1-5"));
        assert_eq!(cron("30 6,18 * * mon-fri"), cron("30 6,18 * * 1-5"));
        assert_eq!(cron("0 0 1 JAN,Jul *"), cron("0 0 1 1,7 *"));
        assert_eq!(cron("0 0 * * SUN,wed,Sat"), cron("0 0 * * 0,3,6"));
        assert_eq!(cron("0 0 * JAN-DEC *"), cron("0 0 * 1-12 *"));
        check(
            "30 6,18 * * MON-FRI",
            &["2013-12-25T06:30:00Z", "2013-12-25T18:30:00Z"],
            &["2013-12-25T12:30:00Z", "2013-12-28T06:30:00Z"],
        );
    }

    #[test]
    fn sunday_is_both_zero_and_seven() {
        assert_eq!(cron("0 0 * * 0"), cron("0 0 * * 7"));
        assert_eq!(cron("0 0 * * 7"), cron("0 0 * * SUN"));
        assert_eq!(cron("0 0 * * 0-7"), cron("0 0 * * 0-6"));
        // Friday to Sunday, written three ways.
        assert_eq!(cron("0 0 * * 5-7"), cron("0 0 * * 5,6,0"));
        assert_eq!(cron("0 0 * * FRI-SUN"), cron("0 0 * * 5-7"));
        check(
            "0 0 * * 7",
            &["2013-12-29T00:00:00Z", "2014-01-05T00:00:00Z"],
            &["2013-12-28T00:00:00Z", "2013-12-30T00:00:00Z"],
        );
        check(
            "0 0 * * FRI-SUN",
            &[
                "2013-12-27T00:00:00Z",
                "2013-12-28T00:00:00Z",
                "2013-12-29T00:00:00Z",
            ],
            &["2013-12-26T00:00:00Z", "2013-12-30T00:00:00Z"],
        );
    }

    #[test]
    fn steps_count_from_the_start_of_their_range() {
        check(
            "*/15 * * * *",
            &[
                "2013-12-25T10:00:00Z",
                "2013-12-25T10:15:00Z",
                "2013-12-25T10:30:00Z",
                "2013-12-25T10:45:00Z",
            ],
            &["2013-12-25T10:10:00Z", "2013-12-25T10:59:00Z"],
        );
        check(
            "10-40/10 * * * *",
            &[
                "2013-12-25T10:10:00Z",
                "2013-12-25T10:20:00Z",
                "2013-12-25T10:40:00Z",
            ],
            &[
                "2013-12-25T10:00:00Z",
                "2013-12-25T10:15:00Z",
                "2013-12-25T10:50:00Z",
            ],
        );
        // Every 6 hours from midnight; every other day of the month from the 1st.
        assert_eq!(cron("0 */6 * * *"), cron("0 0,6,12,18 * * *"));
        check(
            "0 0 */2 * *",
            &["2013-12-01T00:00:00Z", "2013-12-31T00:00:00Z"],
            &["2013-12-30T00:00:00Z"],
        );
        // A step larger than the range selects its first value only.
        assert_eq!(cron("*/60 * * * *"), cron("0 * * * *"));
        assert_eq!(cron("*/99999999999 * * * *"), cron("0 * * * *"));
        assert_eq!(cron("1-5/1 * * * *"), cron("1-5 * * * *"));
    }

    #[test]
    fn lists_mix_values_ranges_and_steps() {
        assert_eq!(cron("0,30 9-11,14 * * *"), cron("0,30 9,10,11,14 * * *"));
        assert_eq!(cron("5,0-20/10,59 * * * *"), cron("0,5,10,20,59 * * * *"));
        check(
            "0,30 9-11,14 * * *",
            &["2013-12-25T09:30:00Z", "2013-12-25T14:00:00Z"],
            &["2013-12-25T12:00:00Z", "2013-12-25T14:15:00Z"],
        );
    }

    #[test]
    fn first_of_the_month_and_month_restrictions() {
        check(
            "0 0 1 * *",
            &["2013-12-01T00:00:00Z", "2014-01-01T00:00:00Z"],
            &["2013-12-31T00:00:00Z", "2014-01-01T00:01:00Z"],
        );
        check(
            "0 12 * DEC *",
            &["2013-12-25T12:00:00Z", "2013-12-01T12:00:00Z"],
            &["2014-01-01T12:00:00Z", "2013-11-30T12:00:00Z"],
        );
        // The leap day, only in leap years (1900 and 2100 are not).
        check(
            "0 0 29 FEB *",
            &["2016-02-29T00:00:00Z", "2000-02-29T00:00:00Z"],
            &["2016-03-01T00:00:00Z", "2016-02-28T00:00:00Z"],
        );
    }

    #[test]
    fn both_day_fields_restricted_means_either_suffices() {
        // The 25th (a Wednesday in December 2013) or any Friday.
        check(
            "0 12 25 * FRI",
            &[
                "2013-12-25T12:00:00Z",
                "2013-12-27T12:00:00Z",
                "2014-01-03T12:00:00Z",
                "2014-01-25T12:00:00Z",
            ],
            &["2013-12-26T12:00:00Z", "2013-12-28T12:00:00Z"],
        );
        // Only one restricted: that one decides.
        check(
            "0 12 25 * *",
            &["2013-12-25T12:00:00Z"],
            &["2013-12-27T12:00:00Z"],
        );
        check(
            "0 12 * * FRI",
            &["2013-12-27T12:00:00Z"],
            &["2013-12-25T12:00:00Z"],
        );
        // Vixie cron: a field starting with `*` counts as unrestricted even with a step, so
        // `*/2` and FRI must both match: 2013-12-27 (odd) yes, 2013-12-20 (even) no, and
        // Wednesday the 25th (odd) no.
        check(
            "0 12 */2 * FRI",
            &["2013-12-27T12:00:00Z"],
            &["2013-12-20T12:00:00Z", "2013-12-25T12:00:00Z"],
        );
        // ... while `1-31` is a restriction, so with FRI it means every day.
        check(
            "0 12 1-31 * FRI",
            &["2013-12-25T12:00:00Z", "2013-12-26T12:00:00Z"],
            &[],
        );
        // The month applies to both: Fridays and 25ths in January only.
        check(
            "0 12 25 JAN FRI",
            &["2014-01-03T12:00:00Z", "2014-01-25T12:00:00Z"],
            &["2013-12-25T12:00:00Z", "2013-12-27T12:00:00Z"],
        );
    }

    #[test]
    fn instants_before_1970_match_too() {
        check(
            "59 23 31 DEC *",
            &["1969-12-31T23:59:00Z", "1969-12-31T23:59:59Z"],
            &["1970-01-01T00:00:00Z"],
        );
        // 1969-12-31 was a Wednesday.
        check("0 0 * * WED", &["1969-12-31T00:00:00Z"], &[]);
    }

    #[test]
    fn fields_may_be_separated_by_any_whitespace() {
        assert_eq!(cron("  0\t8  * *\n1-5 "), cron("0 8 * * 1-5"));
    }

    #[test]
    fn error_messages_name_the_field_and_what_was_expected() {
        let e = err("0 8 * * MON-FRY");
        assert_eq!(e.offset, 8);
        assert_eq!(e.field, Some(CronField::DayOfWeek));
        assert_eq!(
            e.to_string(),
            "cron day-of-week field `MON-FRY`: `FRY` is neither a number nor a weekday name; \
             expected a weekday 0-7 or SUN-SAT (0 and 7 are Sunday)"
        );
        let e = err("60 * * * *");
        assert_eq!(
            e.to_string(),
            "cron minute field `60`: 60 is out of range; expected a minute 0-59"
        );
        let e = err("0 8 * *");
        assert_eq!(
            e.to_string(),
            "cron expression `0 8 * *` has 4 fields; expected 5: minute hour day-of-month month \
             day-of-week, like `0 8 * * 1-5`"
        );
    }

    #[test]
    fn every_mistake_is_reported_at_the_offset_of_its_field() {
        use CronField::*;
        // (text, offset, field, a part of the message)
        let cases: &[(&str, usize, Option<CronField>, &str)] = &[
            // Wrong number of fields: at the end of the last one, or at the first extra one.
            ("", 0, None, "is empty"),
            ("   ", 0, None, "is empty"),
            ("*/15", 4, None, "has 1 field"),
            ("0 8 * *", 7, None, "has 4 fields"),
            ("0 8 * *   ", 7, None, "has 4 fields"),
            ("0 8 * * 1-5 2013", 12, None, "has 6 fields"),
            // Values out of range.
            ("60 * * * *", 0, Some(Minute), "60 is out of range"),
            ("0 24 * * *", 2, Some(Hour), "24 is out of range"),
            ("0 0 0 * *", 4, Some(DayOfMonth), "0 is out of range"),
            ("0 0 32 * *", 4, Some(DayOfMonth), "32 is out of range"),
            ("0 0 * 0 *", 6, Some(Month), "0 is out of range"),
            ("0 0 * 13 *", 6, Some(Month), "13 is out of range"),
            ("0 0 * * 8", 8, Some(DayOfWeek), "8 is out of range"),
            ("0 0-99 * * *", 2, Some(Hour), "99 is out of range"),
            ("99999999999 * * * *", 0, Some(Minute), "99999999999 is out"),
            ("0060 * * * *", 0, Some(Minute), "60 is out of range"),
            // Words where they do not belong.
            ("x * * * *", 0, Some(Minute), "`x` is not a number"),
            ("0 MON * * *", 2, Some(Hour), "`MON` is not a number"),
            (
                "0 0 * JANUARY *",
                6,
                Some(Month),
                "`JANUARY` is neither a number nor a month name",
            ),
            ("0 0 * MON *", 6, Some(Month), "`MON` is neither"),
            ("0 0 * * JAN", 8, Some(DayOfWeek), "`JAN` is neither"),
            ("0 0 * * 1.5", 8, Some(DayOfWeek), "`1.5` is neither"),
            // Broken ranges.
            (
                "5-1 * * * *",
                0,
                Some(Minute),
                "the range `5-1` runs backwards",
            ),
            (
                "0 0 * * SAT-MON",
                8,
                Some(DayOfWeek),
                "`SAT-MON` runs backwards",
            ),
            ("0 0 * DEC-JAN *", 6, Some(Month), "runs backwards"),
            ("0 0 * * MON-", 8, Some(DayOfWeek), "a value is missing"),
            ("-5 * * * *", 0, Some(Minute), "a value is missing"),
            ("1-2-3 * * * *", 0, Some(Minute), "`2-3` is not a number"),
            // Broken steps.
            ("*/0 * * * *", 0, Some(Minute), "the step is 0"),
            ("*/ * * * *", 0, Some(Minute), "the step `` is not a number"),
            (
                "*/x * * * *",
                0,
                Some(Minute),
                "the step `x` is not a number",
            ),
            (
                "*/5/2 * * * *",
                0,
                Some(Minute),
                "the step `5/2` is not a number",
            ),
            (
                "5/10 * * * *",
                0,
                Some(Minute),
                "`5/10` steps from a single value",
            ),
            ("0 0 * * */MON", 8, Some(DayOfWeek), "the step `MON`"),
            // Broken lists.
            ("1,,2 * * * *", 0, Some(Minute), "a list item is empty"),
            ("0 8, * * *", 2, Some(Hour), "a list item is empty"),
            ("0 0 ,1 * *", 4, Some(DayOfMonth), "a list item is empty"),
            // A day that never comes.
            ("0 0 30 FEB *", 4, Some(DayOfMonth), "none of these days"),
            (
                "0 0 31 4,6,9,11 *",
                4,
                Some(DayOfMonth),
                "none of these days",
            ),
        ];
        for &(text, offset, field, part) in cases {
            let e = err(text);
            assert_eq!((e.offset, e.field), (offset, field), "`{text}`: {e}");
            assert!(e.to_string().contains(part), "`{text}`: {e}");
            if let Some(field) = field {
                assert!(
                    e.to_string().contains(&format!("{field} field")),
                    "`{text}`: {e}"
                );
            }
            assert!(e.to_string().contains("expected"), "`{text}`: {e}");
        }
    }

    #[test]
    fn days_that_occur_in_some_selected_month_are_accepted() {
        // The 31st exists in December; the 29th of February in leap years.
        cron("0 0 31 4,12 *");
        cron("0 0 29 2 *");
        // With a weekday too, the schedule fires on that weekday whatever the date.
        cron("0 0 30 FEB MON");
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        // `Ö` is two bytes; the sixth field starts at character 12 (byte 13).
        let e = err("0 8 * * MÖN 1");
        assert_eq!((e.offset, e.field), (12, None));
        let e = err("0\u{a0}8 * * MÖN");
        assert_eq!((e.offset, e.field), (8, Some(CronField::DayOfWeek)));
    }

    #[test]
    fn the_latest_match_is_the_start_of_its_minute() {
        let c = cron("0 8 * * *");
        let eight = at("2013-12-25T08:00:00Z");
        assert_eq!(c.last_at_or_before(eight + 30_000, HOUR), Some(eight));
        assert_eq!(c.last_at_or_before(eight, 0), Some(eight));
        assert_eq!(c.last_at_or_before(eight + 30_000, 30_000), Some(eight));
        assert_eq!(c.last_at_or_before(eight + 30_000, 29_999), None);
        // Yesterday's match is DAY - 1 ms before `eight - 1`.
        assert_eq!(c.last_at_or_before(eight - 1, DAY - 2), None);
        assert_eq!(c.last_at_or_before(eight - 1, DAY - 1), Some(eight - DAY));
        assert_eq!(c.last_at_or_before(eight, -1), None);
        let quarter = cron("*/15 * * * *");
        assert_eq!(
            quarter.last_at_or_before(at("2013-12-25T10:44:59Z"), HOUR),
            Some(at("2013-12-25T10:30:00Z"))
        );
    }

    #[test]
    fn the_latest_match_across_midnight() {
        let c = cron("30 23 * * *");
        let now = at("2013-12-26T00:10:00Z");
        assert_eq!(
            c.last_at_or_before(now, HOUR),
            Some(at("2013-12-25T23:30:00Z"))
        );
        assert_eq!(
            c.last_at_or_before(now, 40 * MINUTE),
            Some(now - 40 * MINUTE)
        );
        assert_eq!(c.last_at_or_before(now, 40 * MINUTE - 1), None);
        // Weekdays at eight, asked on Monday before eight: Friday's, across the weekend.
        assert_eq!(
            cron("0 8 * * 1-5").last_at_or_before(at("2013-12-30T07:59:59Z"), 7 * DAY),
            Some(at("2013-12-27T08:00:00Z"))
        );
    }

    #[test]
    fn the_latest_match_across_a_month_and_a_year_end() {
        assert_eq!(
            cron("0 9 31 * *").last_at_or_before(at("2014-01-02T00:00:00Z"), 7 * DAY),
            Some(at("2013-12-31T09:00:00Z"))
        );
        // November has no 31st: from December 1st back to October 31st.
        assert_eq!(
            cron("0 0 31 * *").last_at_or_before(at("2013-12-01T10:00:00Z"), 62 * DAY),
            Some(at("2013-10-31T00:00:00Z"))
        );
        assert_eq!(
            cron("0 0 31 * *").last_at_or_before(at("2013-12-01T10:00:00Z"), 30 * DAY),
            None
        );
        // 2014-01-01 was a Wednesday; the last Friday evening was in 2013.
        assert_eq!(
            cron("45 17 * * FRI").last_at_or_before(at("2014-01-01T00:00:00Z"), 7 * DAY),
            Some(at("2013-12-27T17:45:00Z"))
        );
        // Last of February in a leap year, from March 1st.
        assert_eq!(
            cron("0 12 28-31 * *").last_at_or_before(at("2016-03-01T11:00:00Z"), 7 * DAY),
            Some(at("2016-02-29T12:00:00Z"))
        );
    }

    #[test]
    fn an_unbounded_lookback_still_finds_rare_schedules() {
        // 2100 is not a leap year: the last February 29th before 2100-03-01 was in 2096.
        assert_eq!(
            cron("0 0 29 FEB *").last_at_or_before(at("2100-03-01T00:00:00Z"), i64::MAX),
            Some(at("2096-02-29T00:00:00Z"))
        );
        // Extreme instants neither panic nor overflow.
        let every = cron("* * * * *");
        assert_eq!(every.last_at_or_before(i64::MIN, i64::MAX), None);
        assert_eq!(
            every.last_at_or_before(i64::MAX, i64::MAX),
            Some(i64::MAX - i64::MAX.rem_euclid(MINUTE))
        );
        assert!(!every.window_active(i64::MIN, i64::MAX));
        assert!(every.window_active(i64::MAX, i64::MAX));
    }

    #[test]
    fn the_latest_match_agrees_with_a_minute_by_minute_scan() {
        let crons = [
            "0 8 * * 1-5",
            "*/15 * * * *",
            "30 6,18 * * MON-FRI",
            "0 0 1 * *",
            "0 12 25 * FRI",
            "0 12 */2 * FRI",
            "5,50 */7 1-3,29-31 * 0",
            "0 0 * JAN SAT",
        ];
        let start = at("2013-12-20T00:00:00Z");
        for text in crons {
            let c = cron(text);
            let mut now = start;
            while now < start + 20 * DAY {
                for lookback in [0, 59_999, 60_000, 3 * HOUR + 7, 3 * DAY] {
                    assert_eq!(
                        c.last_at_or_before(now, lookback),
                        scan_back(&c, now, lookback),
                        "`{text}` at {now} looking back {lookback}"
                    );
                }
                now += 37 * MINUTE + 13_001;
            }
        }
    }

    #[test]
    fn a_window_is_open_from_its_start_inclusive_to_its_end_exclusive() {
        let c = cron("0 8 * * 1-5");
        let start = at("2013-12-25T08:00:00Z");
        assert!(!c.window_active(start - 1, HOUR));
        assert!(c.window_active(start, HOUR));
        assert!(c.window_active(start + HOUR - 1, HOUR));
        assert!(!c.window_active(start + HOUR, HOUR));
        // No window on Saturday; a zero or negative duration never opens one.
        assert!(!c.window_active(at("2013-12-28T08:30:00Z"), HOUR));
        assert!(!c.window_active(start, 0));
        assert!(!c.window_active(start, -HOUR));
        // A one-millisecond window is open only at the first millisecond of the minute.
        assert!(c.window_active(start, 1));
        assert!(!c.window_active(start + 1, 1));
    }

    #[test]
    fn a_window_stays_open_across_midnight_and_into_the_weekend() {
        let c = cron("0 22 * * *");
        assert!(c.window_active(at("2013-12-26T01:59:59Z") + 999, 4 * HOUR));
        assert!(!c.window_active(at("2013-12-26T02:00:00Z"), 4 * HOUR));
        // Friday 20:00 for six hours: open early on Saturday, closed at 02:00.
        let friday = cron("0 20 * * FRI");
        assert!(friday.window_active(at("2013-12-28T01:00:00Z"), 6 * HOUR));
        assert!(!friday.window_active(at("2013-12-28T02:00:00Z"), 6 * HOUR));
        // Windows longer than the gap between matches overlap into one long window.
        let quarter = cron("*/15 * * * *");
        let mut now = at("2013-12-25T00:00:00Z");
        while now < at("2013-12-26T00:00:00Z") {
            assert!(quarter.window_active(now, 15 * MINUTE));
            now += 7 * MINUTE + 1_234;
        }
        assert!(!quarter.window_active(at("2013-12-25T00:14:00Z"), 14 * MINUTE));
    }
}
