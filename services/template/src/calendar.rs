//! Calendar arithmetic on epoch milliseconds: the hour, weekday and date of an instant, and
//! `YYYY-MM-DD` dates as days since 1970-01-01. Templates name holidays by date; the forecaster
//! and the collector's calendar signals need the same answers.
//!
//! These read a clock in UTC. For a template's own clock, pass them `Zone::local_ms` (or use
//! `Zone::hour_of_day` and friends): the zone's rules come from chrono-tz. Dates are validated by
//! chrono; turning a day count back into a date stays Hinnant's formula below, because it is
//! exact for every i64 day while chrono's calendar ends at ±262,143 years and an event's
//! timestamp may be any i64 (printing and cron matching must not fail on one).

use chrono::{Datelike, NaiveDate};

const MS_PER_DAY: i64 = 86_400_000;

/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const DAYS_FROM_CE_TO_EPOCH: i64 = 719_163;

/// Days since 1970-01-01 of the instant's UTC date.
pub fn day_number(at_ms: i64) -> i64 {
    at_ms.div_euclid(MS_PER_DAY)
}

/// Hour of day, 0..=23, UTC.
pub fn hour_of_day(at_ms: i64) -> u32 {
    (at_ms.rem_euclid(MS_PER_DAY) / 3_600_000) as u32
}

/// Weekday, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub fn weekday(at_ms: i64) -> u32 {
    (day_number(at_ms) + 3).rem_euclid(7) as u32
}

/// `YYYY-MM-DD` as days since 1970-01-01, or `None` when it is not a real date.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    // Exactly four, two and two digits: chrono's own `%Y-%m-%d` also takes `2013-1-1`.
    if parts.next().is_some() || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    Some(i64::from(date.num_days_from_ce()) - DAYS_FROM_CE_TO_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds) as epoch milliseconds, the form of the traces in
/// `shared/data`.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let day = parse_date(date)?;
    let mut parts = time.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    // Two digits each: `str::parse` alone would take `+1` and `-1` (an hour before midnight).
    if parts.next().is_some() || !digits(h, 2) || !digits(m, 2) || !digits(s, 2) {
        return None;
    }
    let (h, m, s): (i64, i64, i64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(day * MS_PER_DAY + ((h * 60 + m) * 60 + s) * 1000)
}

/// Whether `part` is exactly `len` ASCII digits.
fn digits(part: &str, len: usize) -> bool {
    part.len() == len && part.bytes().all(|b| b.is_ascii_digit())
}

/// The (year, month 1..=12, day 1..=31) of a day counted from 1970-01-01: Howard Hinnant's
/// civil-from-days, exact for the proleptic Gregorian calendar.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2026-11-28T00:51:30Z`, with `.123` before the `Z` when the instant is not a whole second:
/// what `parse_timestamp` reads back.
pub fn rfc3339(at_ms: i64) -> String {
    let days = at_ms.div_euclid(MS_PER_DAY);
    let in_day = at_ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (secs, millis) = (in_day / 1000, in_day % 1000);
    let (h, min, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if millis == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{millis:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_print_as_utc_and_parse_back() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2026-11-28T00:51:30Z",
            "2100-03-01T12:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            let ms = parse_timestamp(text).unwrap();
            assert_eq!(rfc3339(ms), text);
        }
    }

    #[test]
    fn milliseconds_show_only_when_present() {
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2013-12-25"), Some(16_064));
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
    }

    #[test]
    fn civil_dates_come_back_from_day_numbers() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2013-12-25",
            "1969-12-31",
            "2100-03-01",
        ] {
            let day = parse_date(text).unwrap();
            let (y, m, d) = civil_from_days(day);
            assert_eq!(format!("{y:04}-{m:02}-{d:02}"), text);
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2013-02-29",
            "2013-13-01",
            "2013-1-01",
            "25/12/2013",
            "2013-12-25-1",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_of_the_traces_parse_to_epoch_milliseconds() {
        assert_eq!(
            parse_timestamp("1970-01-02T00:00:01Z"),
            Some(MS_PER_DAY + 1000)
        );
        assert_eq!(
            parse_timestamp("2013-12-25T14:30:00Z"),
            Some(16_064 * MS_PER_DAY + 52_200_000)
        );
        assert_eq!(parse_timestamp("2013-12-25 14:30:00"), None);
        assert_eq!(parse_timestamp("2013-12-25T24:00:00Z"), None);
        // Signs are not digits: `-1` would otherwise read as an hour before midnight.
        for bad in [
            "2013-12-25T-1:00:00Z",
            "2013-12-25T+1:00:00Z",
            "2013-12-25T14:-5:00Z",
            "2013-12-25T14:30:+0Z",
            "2013-12-25T1:30:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn hour_and_weekday_of_an_instant() {
        // 2013-12-25T14:30:00Z was a Wednesday.
        let at = 16_064 * MS_PER_DAY + 14 * 3_600_000 + 30 * 60_000;
        assert_eq!(
            (hour_of_day(at), weekday(at), day_number(at)),
            (14, 2, 16_064)
        );
    }
}
