//! Cron schedules on a time zone's local clock.
//!
//! A schedule fires at every instant the zone's wall clock shows one of its minutes. Where the
//! clocks change, the floor it opens must not fall silent, so:
//! - clocks going forward skip some minutes: a skipped minute fires at the jump itself (in
//!   Europe/London `30 1 * * *` fires at 01:00 UTC on the spring-forward Sunday, when the clock
//!   reads 02:00), as Vixie cron runs the jobs of a skipped hour right after the change;
//! - clocks going back show some minutes twice: such a minute fires both times (a floor opened
//!   twice only lasts longer, never less).
//!
//! The walk goes back over local days: a day the date fields refuse costs one check, and a
//! matching day costs one zone lookup per matching minute.

use super::{Cron, MINUTES_PER_DAY, MS_PER_MINUTE};
use crate::zone::{Local, Zone};

const MS_PER_DAY: i64 = MINUTES_PER_DAY * MS_PER_MINUTE;

impl Cron {
    /// [`Cron::last_at_or_before`] on the local clock of `zone`: the latest instant at which the
    /// schedule fires that is at or before `at_ms` and no more than `lookback_ms` before it.
    pub fn last_at_or_before_in(&self, zone: Zone, at_ms: i64, lookback_ms: i64) -> Option<i64> {
        if zone.is_utc() {
            return self.last_at_or_before(at_ms, lookback_ms);
        }
        if lookback_ms < 0 {
            return None;
        }
        let earliest = at_ms.saturating_sub(lookback_ms);
        // A zone's offset is less than a day either way (chrono's bound), so a local time lies
        // within a day of its instant: the local days to look at start the day after `at_ms`'s
        // UTC date, and local day `d` holds no instant at or after `(d + 2) * DAY`.
        let mut day = at_ms.div_euclid(MS_PER_DAY) + 1;
        let mut best: Option<i64> = None;
        loop {
            // Nothing this day or before can be in range, or later than the best so far.
            let bound = (day + 2).saturating_mul(MS_PER_DAY);
            if bound <= earliest || best.is_some_and(|b| bound <= b) {
                return best;
            }
            if self.day_matches(day) {
                for local in self.minutes_of_day(day) {
                    for fired in fires_at(zone.resolve(local)) {
                        if (earliest..=at_ms).contains(&fired) && best.is_none_or(|b| fired > b) {
                            best = Some(fired);
                        }
                    }
                }
            }
            day -= 1;
        }
    }

    /// [`Cron::window_active`] on the local clock of `zone`: some firing started at or before
    /// `at_ms` and less than `duration_ms` before it (start inclusive, end exclusive).
    pub fn window_active_in(&self, zone: Zone, at_ms: i64, duration_ms: i64) -> bool {
        duration_ms > 0
            && self
                .last_at_or_before_in(zone, at_ms, duration_ms - 1)
                .is_some()
    }

    /// The local readings (ms since 1970-01-01T00:00 local) of the matching minutes of a
    /// local day whose date fields match; the minutes that overflow an i64 are left out.
    fn minutes_of_day(&self, day: i64) -> impl Iterator<Item = i64> + '_ {
        let start = day.checked_mul(MS_PER_DAY);
        (0..24i64)
            .filter(move |hour| self.hours & (1 << hour) != 0)
            .flat_map(move |hour| {
                (0..60i64)
                    .filter(move |minute| self.minutes & (1 << minute) != 0)
                    .map(move |minute| (hour * 60 + minute) * MS_PER_MINUTE)
            })
            .filter_map(move |offset| start?.checked_add(offset))
    }
}

/// The instants a matching local minute fires at: see the module's documentation.
fn fires_at(local: Local) -> impl Iterator<Item = i64> {
    let (first, second) = match local {
        Local::Once(at) | Local::Skipped(at) => (at, None),
        Local::Twice(earlier, later) => (earlier, Some(later)),
    };
    std::iter::once(first).chain(second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_timestamp;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;

    fn cron(text: &str) -> Cron {
        text.parse().unwrap()
    }

    fn zone(name: &str) -> Zone {
        name.parse().unwrap()
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` as epoch milliseconds.
    fn at(text: &str) -> i64 {
        parse_timestamp(text).unwrap_or_else(|| panic!("bad timestamp {text}"))
    }

    /// Every firing of `c` in `zone` from `from` to `to`, found the slow way: every local
    /// minute of a wider span, matched by the UTC matcher on the local reading and resolved.
    fn firings(c: &Cron, zone: Zone, from: i64, to: i64) -> Vec<i64> {
        let mut all = Vec::new();
        let mut local = (from - 2 * DAY).div_euclid(MINUTE) * MINUTE;
        while local <= to + 2 * DAY {
            if c.matches(local) {
                all.extend(fires_at(zone.resolve(local)));
            }
            local += MINUTE;
        }
        all.retain(|t| (from..=to).contains(t));
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The firings between `from` and `to`, from `last_at_or_before_in`, newest first, turned
    /// round: one call per firing, each looking back from just before the previous one.
    fn walked(c: &Cron, zone: Zone, from: i64, to: i64) -> Vec<i64> {
        let mut all = Vec::new();
        let mut now = to;
        while let Some(t) = c.last_at_or_before_in(zone, now, now - from) {
            all.push(t);
            now = t - 1;
        }
        all.reverse();
        all
    }

    #[test]
    fn weekdays_at_seven_fire_at_seven_local_on_both_sides_of_each_change() {
        let c = cron("0 7 * * 1-5");
        // London: BST began Sunday 2026-03-29 and ended Sunday 2026-10-25.
        let london = zone("Europe/London");
        let week = |from: &str, to: &str| walked(&c, london, at(from), at(to));
        assert_eq!(
            week("2026-03-26T00:00:00Z", "2026-03-31T00:00:00Z"),
            [
                at("2026-03-26T07:00:00Z"), // Thursday, GMT
                at("2026-03-27T07:00:00Z"), // Friday, GMT
                at("2026-03-30T06:00:00Z"), // Monday, 07:00 BST
            ]
        );
        assert_eq!(
            week("2026-10-22T00:00:00Z", "2026-10-27T00:00:00Z"),
            [
                at("2026-10-22T06:00:00Z"), // Thursday, 07:00 BST
                at("2026-10-23T06:00:00Z"), // Friday, 07:00 BST
                at("2026-10-26T07:00:00Z"), // Monday, GMT
            ]
        );
        // New York: EDT began Sunday 2026-03-08 and ended Sunday 2026-11-01.
        let new_york = zone("America/New_York");
        assert_eq!(
            walked(
                &c,
                new_york,
                at("2026-03-06T00:00:00Z"),
                at("2026-03-10T00:00:00Z")
            ),
            [at("2026-03-06T12:00:00Z"), at("2026-03-09T11:00:00Z")]
        );
        assert_eq!(
            walked(
                &c,
                new_york,
                at("2026-10-30T00:00:00Z"),
                at("2026-11-03T00:00:00Z")
            ),
            [at("2026-10-30T11:00:00Z"), at("2026-11-02T12:00:00Z")]
        );
    }

    #[test]
    fn a_window_from_seven_local_is_open_at_the_local_hours() {
        let c = cron("0 7 * * 1-5");
        let london = zone("Europe/London");
        // Monday 2026-03-30, first day of BST: 07:00-17:00 local is 06:00-16:00 UTC.
        let open = |t: &str| c.window_active_in(london, at(t), 10 * HOUR);
        assert!(!open("2026-03-30T05:59:59Z"));
        assert!(open("2026-03-30T06:00:00Z"));
        assert!(open("2026-03-30T15:59:59Z"));
        assert!(!open("2026-03-30T16:00:00Z"));
        // The Friday before, in GMT: 07:00-17:00 UTC.
        assert!(!open("2026-03-27T06:30:00Z"));
        assert!(open("2026-03-27T16:30:00Z"));
        // The same schedule in UTC opens an hour later on that Monday.
        assert!(!c.window_active(at("2026-03-30T06:30:00Z"), 10 * HOUR));
    }

    #[test]
    fn a_minute_the_clocks_skip_fires_at_the_jump() {
        // London, 2026-03-29: 01:00 GMT became 02:00 BST at 01:00 UTC.
        let c = cron("30 1 * * *");
        let london = zone("Europe/London");
        assert_eq!(
            walked(
                &c,
                london,
                at("2026-03-28T00:00:00Z"),
                at("2026-03-30T12:00:00Z")
            ),
            [
                at("2026-03-28T01:30:00Z"),
                at("2026-03-29T01:00:00Z"), // the jump
                at("2026-03-30T00:30:00Z"),
            ]
        );
        // New York, 2026-03-08: 02:00 EST became 03:00 EDT at 07:00 UTC; every 15 minutes of
        // the skipped hour fire at the jump, once.
        let c = cron("*/15 2 * * *");
        let new_york = zone("America/New_York");
        assert_eq!(
            walked(
                &c,
                new_york,
                at("2026-03-08T00:00:00Z"),
                at("2026-03-08T23:00:00Z")
            ),
            [at("2026-03-08T07:00:00Z")]
        );
    }

    #[test]
    fn a_minute_the_clocks_show_twice_fires_twice() {
        // London, 2026-10-25: 02:00 BST became 01:00 GMT at 01:00 UTC; 01:30 showed twice.
        let c = cron("30 1 * * *");
        let london = zone("Europe/London");
        assert_eq!(
            walked(
                &c,
                london,
                at("2026-10-24T12:00:00Z"),
                at("2026-10-25T12:00:00Z")
            ),
            [at("2026-10-25T00:30:00Z"), at("2026-10-25T01:30:00Z")]
        );
        // Every quarter hour keeps firing through the repeated hour: 00:00 to 02:00 UTC is
        // eight quarters, 01:00-01:45 BST then 01:00-01:45 GMT.
        let quarter = cron("*/15 * * * *");
        assert_eq!(
            walked(
                &quarter,
                london,
                at("2026-10-25T00:00:00Z"),
                at("2026-10-25T01:59:59Z")
            ),
            (0..8)
                .map(|i| at("2026-10-25T00:00:00Z") + i * 15 * MINUTE)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_fall_back_across_midnight_is_walked_in_instant_order() {
        // America/Sao_Paulo ended summer time at midnight on 2019-02-17: the clocks went from
        // 00:00 back to 23:00 of the 16th, so the 16th's 23:30 showed at 01:30 and 02:30 UTC,
        // and the 17th's first minutes came after both.
        let c = cron("30 23 * * *");
        let sao_paulo = zone("America/Sao_Paulo");
        assert_eq!(
            walked(
                &c,
                sao_paulo,
                at("2019-02-16T12:00:00Z"),
                at("2019-02-17T12:00:00Z")
            ),
            [at("2019-02-17T01:30:00Z"), at("2019-02-17T02:30:00Z")]
        );
        let c = cron("15 0 * * *");
        assert_eq!(
            walked(
                &c,
                sao_paulo,
                at("2019-02-16T12:00:00Z"),
                at("2019-02-17T12:00:00Z")
            ),
            [at("2019-02-17T03:15:00Z")]
        );
    }

    #[test]
    fn the_walk_agrees_with_a_minute_by_minute_scan_across_changes() {
        let crons = [
            "0 7 * * 1-5",
            "*/15 * * * *",
            "30 1 * * *",
            "0 2 * * SUN",
            "45 0,1,2 * * *",
            "0 0 1 * *",
            "0 12 25 * FRI",
        ];
        let spans = [
            (
                "Europe/London",
                "2026-03-27T00:00:00Z",
                "2026-04-01T00:00:00Z",
            ),
            (
                "Europe/London",
                "2026-10-23T00:00:00Z",
                "2026-10-28T00:00:00Z",
            ),
            (
                "America/New_York",
                "2026-03-06T00:00:00Z",
                "2026-03-11T00:00:00Z",
            ),
            (
                "America/New_York",
                "2026-10-30T00:00:00Z",
                "2026-11-04T00:00:00Z",
            ),
            (
                "Australia/Lord_Howe",
                "2026-04-03T00:00:00Z",
                "2026-04-07T00:00:00Z",
            ),
            (
                "America/Sao_Paulo",
                "2019-02-15T00:00:00Z",
                "2019-02-19T00:00:00Z",
            ),
        ];
        for (name, from, to) in spans {
            let z = zone(name);
            for text in crons {
                let c = cron(text);
                assert_eq!(
                    walked(&c, z, at(from), at(to)),
                    firings(&c, z, at(from), at(to)),
                    "`{text}` in {name} from {from}"
                );
            }
        }
    }

    #[test]
    fn a_zone_without_changes_is_the_utc_walk_shifted() {
        // Etc/GMT-5 is UTC+5 all year (the sign is POSIX's): the general walk, no fast path.
        let plus_five = zone("Etc/GMT-5");
        let c = cron("0 8 * * 1-5");
        let mut now = at("2013-12-20T00:00:00Z");
        while now < at("2014-01-05T00:00:00Z") {
            for lookback in [0, 59_999, 3 * HOUR, 3 * DAY] {
                assert_eq!(
                    c.last_at_or_before_in(plus_five, now, lookback),
                    c.last_at_or_before(now + 5 * HOUR, lookback)
                        .map(|t| t - 5 * HOUR),
                    "at {now} looking back {lookback}"
                );
            }
            now += 97 * MINUTE + 13_001;
        }
    }

    #[test]
    fn utc_is_the_utc_walk() {
        let c = cron("0 8 * * 1-5");
        let now = at("2013-12-30T07:59:59Z");
        assert_eq!(
            c.last_at_or_before_in(Zone::UTC, now, 7 * DAY),
            c.last_at_or_before(now, 7 * DAY)
        );
        assert!(c.window_active_in(Zone::UTC, at("2013-12-25T08:00:00Z"), 1));
    }

    #[test]
    fn in_every_zone_the_walk_ends_within_its_lookback_at_any_instant() {
        // The fuzz targets read cron text and UTC instants; this is the zoned walk's own sweep:
        // every zone of the database, instants at the ends of i64 and of chrono's calendar.
        let crons = [cron("30 2 * * *"), cron("0 0 29 FEB *")];
        let instants = [
            i64::MIN,
            chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis() - 1,
            -1,
            at("2026-03-29T01:00:00Z"),
            at("2100-01-01T00:00:00Z"),
            chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis() + 1,
            i64::MAX,
        ];
        for tz in chrono_tz::TZ_VARIANTS {
            let z = zone(tz.name());
            for at_ms in instants {
                for lookback in [0, DAY, i64::MAX] {
                    for c in &crons {
                        let found = c.last_at_or_before_in(z, at_ms, lookback);
                        if let Some(t) = found {
                            assert!(
                                t <= at_ms && t >= at_ms.saturating_sub(lookback),
                                "{} at {at_ms} looking back {lookback}: {t}",
                                tz.name()
                            );
                        }
                        // Both fire at least once in eight years.
                        if lookback == i64::MAX && at_ms > at("1980-01-01T00:00:00Z") {
                            assert!(found.is_some(), "{} at {at_ms}", tz.name());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn extreme_instants_and_lookbacks_end() {
        let london = zone("Europe/London");
        let rare = cron("0 0 29 FEB *");
        assert_eq!(
            rare.last_at_or_before_in(london, at("2100-03-01T00:00:00Z"), i64::MAX),
            Some(at("2096-02-29T00:00:00Z"))
        );
        let every = cron("* * * * *");
        assert_eq!(every.last_at_or_before_in(london, i64::MIN, i64::MAX), None);
        assert!(every
            .last_at_or_before_in(london, i64::MAX, i64::MAX)
            .is_some());
        assert!(!every.window_active_in(london, i64::MIN, i64::MAX));
        assert!(!every.window_active_in(london, 0, 0));
        assert_eq!(every.last_at_or_before_in(london, 0, -1), None);
    }
}
