//! A template's time zone: an IANA name such as `Europe/London`, UTC when the template names
//! none. Cron floors, calendar signals, the linear model's hour and weekday features and
//! holidays read the local clock of this zone.
//!
//! The zone rules come from chrono-tz, which compiles the IANA database into the binary: the
//! answer does not depend on the host's `/usr/share/zoneinfo` (a container may have none), so
//! every service and a backtest agree. Its table runs to 2099; later instants keep the last
//! offset. Instants are epoch milliseconds from events, never the wall clock.

use std::fmt;
use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz, TZ_VARIANTS};

/// An IANA time zone. `Zone::UTC` is the default of a template without `timezone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(Tz);

/// The instants at which a local wall-clock time occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// The usual case: once.
    Once(i64),
    /// Clocks went back and the time occurred twice: the earlier instant first.
    Twice(i64, i64),
    /// Clocks went forward over it: it never occurred. The instant is the first after the jump.
    Skipped(i64),
}

/// A zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {name:?}: expected an IANA name like Europe/London, America/New_York or UTC{hint}")]
pub struct ZoneError {
    pub name: String,
    /// ` (did you mean …?)` when the name differs from a known one only in case.
    hint: String,
}

const MS_PER_SECOND: i64 = 1_000;

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    /// The IANA name, as the template wrote it (`UTC` for the default).
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Whether this is the default, where local time is UTC.
    pub fn is_utc(&self) -> bool {
        self.0 == Tz::UTC
    }

    /// The zone's offset from UTC at the instant, in milliseconds (east positive). Instants
    /// beyond chrono's calendar (about ±262,000 years) take the offset at its nearest end.
    pub fn offset_ms(&self, at_ms: i64) -> i64 {
        let min = DateTime::<Utc>::MIN_UTC.timestamp();
        let max = DateTime::<Utc>::MAX_UTC.timestamp();
        let seconds = at_ms.div_euclid(MS_PER_SECOND).clamp(min, max);
        DateTime::from_timestamp(seconds, 0).map_or(0, |utc| {
            let offset = self.0.offset_from_utc_datetime(&utc.naive_utc());
            i64::from(offset.fix().local_minus_utc()) * MS_PER_SECOND
        })
    }

    /// The local wall-clock reading at the instant, as milliseconds since 1970-01-01T00:00 local:
    /// the `calendar` functions read its hour, weekday and date.
    pub fn local_ms(&self, at_ms: i64) -> i64 {
        at_ms.saturating_add(self.offset_ms(at_ms))
    }

    /// Hour of day, 0..=23, on the local clock.
    pub fn hour_of_day(&self, at_ms: i64) -> u32 {
        crate::calendar::hour_of_day(self.local_ms(at_ms))
    }

    /// Weekday on the local calendar, 0 = Monday … 6 = Sunday.
    pub fn weekday(&self, at_ms: i64) -> u32 {
        crate::calendar::weekday(self.local_ms(at_ms))
    }

    /// The local date, as days since 1970-01-01: what a holiday's `YYYY-MM-DD` parses to.
    pub fn day_number(&self, at_ms: i64) -> i64 {
        crate::calendar::day_number(self.local_ms(at_ms))
    }

    /// When the local wall-clock time `local_ms` (as [`Zone::local_ms`] counts) occurs.
    pub fn resolve(&self, local_ms: i64) -> Local {
        let Some(naive) = DateTime::from_timestamp_millis(local_ms).map(|d| d.naive_utc()) else {
            // Beyond chrono's calendar: the offset there is the table's last one, fixed.
            return Local::Once(local_ms.saturating_sub(self.offset_ms(local_ms)));
        };
        let instant = |offset: <Tz as TimeZone>::Offset| {
            local_ms.saturating_sub(i64::from(offset.fix().local_minus_utc()) * MS_PER_SECOND)
        };
        match self.0.offset_from_local_datetime(&naive) {
            LocalResult::Single(offset) => Local::Once(instant(offset)),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (instant(a), instant(b));
                Local::Twice(a.min(b), a.max(b))
            }
            LocalResult::None => {
                let end = GapInfo::new(&naive, &self.0).and_then(|gap| gap.end);
                // A gap always has an end inside the table; outside it there are no gaps.
                Local::Skipped(end.map_or_else(
                    || local_ms.saturating_sub(self.offset_ms(local_ms)),
                    |end| end.timestamp_millis(),
                ))
            }
        }
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::UTC
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Zone {
    type Err = ZoneError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if let Ok(tz) = name.parse::<Tz>() {
            return Ok(Zone(tz));
        }
        let hint = TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name.trim()))
            .map(|tz| format!(" (did you mean {}?)", tz.name()))
            .unwrap_or_default();
        Err(ZoneError {
            name: name.to_string(),
            hint,
        })
    }
}

impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::scalar::deserialize_parsed(deserializer, "an IANA time zone name like Europe/London")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_timestamp;

    const HOUR: i64 = 3_600_000;

    fn zone(name: &str) -> Zone {
        name.parse().unwrap()
    }

    fn at(text: &str) -> i64 {
        parse_timestamp(text).unwrap()
    }

    #[test]
    fn names_are_iana_names_and_the_default_is_utc() {
        assert_eq!(Zone::default(), Zone::UTC);
        assert_eq!(zone("UTC"), Zone::UTC);
        assert!(Zone::UTC.is_utc());
        assert!(!zone("Etc/UTC").is_utc(), "another name, another zone");
        assert_eq!(zone("Europe/London").to_string(), "Europe/London");
    }

    #[test]
    fn an_unknown_name_says_what_was_expected_and_suggests_the_right_case() {
        let e = "Europe/Lndon".parse::<Zone>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown time zone \"Europe/Lndon\": expected an IANA name like Europe/London, \
             America/New_York or UTC"
        );
        let e = "america/new_york".parse::<Zone>().unwrap_err();
        assert!(
            e.to_string().ends_with("(did you mean America/New_York?)"),
            "{e}"
        );
        for bad in ["", "+01:00", "CEST", "Europe/London "] {
            assert!(bad.parse::<Zone>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn offsets_follow_summer_time() {
        let london = zone("Europe/London");
        assert_eq!(london.offset_ms(at("2026-01-15T12:00:00Z")), 0);
        assert_eq!(london.offset_ms(at("2026-07-15T12:00:00Z")), HOUR);
        let new_york = zone("America/New_York");
        assert_eq!(new_york.offset_ms(at("2026-01-15T12:00:00Z")), -5 * HOUR);
        assert_eq!(new_york.offset_ms(at("2026-07-15T12:00:00Z")), -4 * HOUR);
        // London's clocks went forward at 01:00 UTC on 2026-03-29.
        assert_eq!(london.offset_ms(at("2026-03-29T00:59:59Z")), 0);
        assert_eq!(london.offset_ms(at("2026-03-29T01:00:00Z")), HOUR);
    }

    #[test]
    fn hour_weekday_and_date_are_read_on_the_local_clock() {
        // 2026-07-15T23:30:00Z is Thursday 00:30 in London, Wednesday 19:30 in New York.
        let t = at("2026-07-15T23:30:00Z");
        let london = zone("Europe/London");
        let new_york = zone("America/New_York");
        assert_eq!((london.hour_of_day(t), london.weekday(t)), (0, 3));
        assert_eq!((new_york.hour_of_day(t), new_york.weekday(t)), (19, 2));
        let day = crate::calendar::parse_date("2026-07-16").unwrap();
        assert_eq!(london.day_number(t), day);
        assert_eq!(new_york.day_number(t), day - 1);
        assert_eq!(Zone::UTC.day_number(t), day - 1);
    }

    #[test]
    fn a_local_time_occurs_once_twice_or_not_at_all() {
        let london = zone("Europe/London");
        let local = |text: &str| at(text); // a local reading, written as if it were UTC
        assert_eq!(
            london.resolve(local("2026-07-15T07:00:00Z")),
            Local::Once(at("2026-07-15T06:00:00Z"))
        );
        // 2026-03-29: 01:00 GMT became 02:00 BST; 01:30 never showed, the jump came at 01:00 UTC.
        assert_eq!(
            london.resolve(local("2026-03-29T01:30:00Z")),
            Local::Skipped(at("2026-03-29T01:00:00Z"))
        );
        // 2026-10-25: 02:00 BST became 01:00 GMT; 01:30 showed at 00:30 and 01:30 UTC.
        assert_eq!(
            london.resolve(local("2026-10-25T01:30:00Z")),
            Local::Twice(at("2026-10-25T00:30:00Z"), at("2026-10-25T01:30:00Z"))
        );
        // New York, 2026-03-08 02:00 EST became 03:00 EDT (07:00 UTC); 2026-11-01 02:00 EDT
        // became 01:00 EST (06:00 UTC).
        let new_york = zone("America/New_York");
        assert_eq!(
            new_york.resolve(local("2026-03-08T02:15:00Z")),
            Local::Skipped(at("2026-03-08T07:00:00Z"))
        );
        assert_eq!(
            new_york.resolve(local("2026-11-01T01:15:00Z")),
            Local::Twice(at("2026-11-01T05:15:00Z"), at("2026-11-01T06:15:00Z"))
        );
    }

    #[test]
    fn extreme_instants_neither_panic_nor_overflow() {
        let ends = [
            i64::MIN,
            i64::MIN + 1,
            DateTime::<Utc>::MIN_UTC.timestamp_millis() - 1,
            -1,
            0,
            DateTime::<Utc>::MAX_UTC.timestamp_millis() + 1,
            i64::MAX - 1,
            i64::MAX,
        ];
        for tz in TZ_VARIANTS {
            let z = zone(tz.name());
            for t in ends {
                let local = z.local_ms(t);
                assert!(local.abs_diff(t) < 86_400_000, "{} at {t}", tz.name());
                let _ = z.resolve(t);
                assert!(z.hour_of_day(t) < 24 && z.weekday(t) < 7);
                let _ = z.day_number(t);
            }
        }
        // Far beyond the table, London keeps GMT.
        assert_eq!(zone("Europe/London").offset_ms(i64::MAX), 0);
    }

    #[test]
    fn an_instant_read_on_the_local_clock_resolves_back_to_itself_in_every_zone() {
        let instants = [
            at("1900-01-01T00:00:00Z"),
            at("2026-03-29T01:00:00Z"),
            at("2026-10-25T00:59:59Z"),
            at("2026-10-25T01:00:00Z"),
            at("2099-12-31T23:59:59Z"),
        ];
        for tz in TZ_VARIANTS {
            let z = zone(tz.name());
            for t in instants {
                let back = z.resolve(z.local_ms(t));
                let found = match back {
                    Local::Once(a) => a == t,
                    Local::Twice(a, b) => a == t || b == t,
                    Local::Skipped(_) => false,
                };
                assert!(found, "{} at {t}: {back:?}", tz.name());
            }
        }
    }
}
