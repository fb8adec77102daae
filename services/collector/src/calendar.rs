//! Time as an external signal: hour of day, day of week, weekend, from the reading time, on the
//! local clock of the template's `timezone` (UTC without one).

use presage_template::{metric_names as names, Zone};

use crate::samples::Reading;

const SECONDS_PER_DAY: i64 = 86_400;

pub fn readings(zone: Zone, now_ms: i64) -> Vec<Reading> {
    let local_ms = zone.local_ms(now_ms);
    // Fractional: 13:30 is 13.5.
    let hour = local_ms.div_euclid(1000).rem_euclid(SECONDS_PER_DAY) as f64 / 3600.0;
    // 0 = Monday.
    let weekday = presage_template::calendar::weekday(local_ms);
    vec![
        Reading::new(names::HOUR_OF_DAY, hour, now_ms),
        Reading::new(names::DAY_OF_WEEK, weekday as f64, now_ms),
        Reading::new(
            names::IS_WEEKEND,
            if weekday >= 5 { 1.0 } else { 0.0 },
            now_ms,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_template::calendar::parse_timestamp;

    fn zone(name: &str) -> Zone {
        name.parse().unwrap()
    }

    /// (hour, weekday, weekend) at `at`, read on `zone`.
    fn signals(zone: Zone, at: &str) -> (f64, f64, f64) {
        let r = readings(zone, parse_timestamp(at).unwrap());
        (r[0].value, r[1].value, r[2].value)
    }

    #[test]
    fn a_monday_noon_is_hour_12_weekday_0() {
        // 2000-06-05T12:00:00Z was a Monday.
        let r = readings(Zone::UTC, 960_206_400_000);
        assert_eq!(r[0].value, 12.0);
        assert_eq!(r[1].value, 0.0);
        assert_eq!(r[2].value, 0.0);
    }

    #[test]
    fn saturday_is_weekend() {
        // 2000-06-10T00:00:00Z was a Saturday.
        let r = readings(Zone::UTC, 960_595_200_000);
        assert_eq!((r[1].value, r[2].value), (5.0, 1.0));
    }

    #[test]
    fn the_hour_follows_the_local_clock_across_daylight_saving_changes() {
        let london = zone("Europe/London");
        // Before and after British Summer Time began (01:00 UTC, 2026-03-29, a Sunday).
        assert_eq!(signals(london, "2026-03-29T00:30:00Z"), (0.5, 6.0, 1.0));
        assert_eq!(signals(london, "2026-03-29T01:30:00Z"), (2.5, 6.0, 1.0));
        // After it ended (01:00 UTC, 2026-10-25): 01:30 shows twice, an hour apart.
        assert_eq!(signals(london, "2026-10-25T00:30:00Z"), (1.5, 6.0, 1.0));
        assert_eq!(signals(london, "2026-10-25T01:30:00Z"), (1.5, 6.0, 1.0));
        let new_york = zone("America/New_York");
        // Monday 2026-03-09, EDT: 13:15 UTC is 09:15 local; the Friday before, EST: 08:15.
        assert_eq!(signals(new_york, "2026-03-09T13:15:00Z"), (9.25, 0.0, 0.0));
        assert_eq!(signals(new_york, "2026-03-06T13:15:00Z"), (8.25, 4.0, 0.0));
    }

    #[test]
    fn the_weekday_turns_at_local_midnight() {
        // Saturday 2026-07-04T02:00:00Z is still Friday evening in New York.
        let new_york = zone("America/New_York");
        assert_eq!(signals(new_york, "2026-07-04T02:00:00Z"), (22.0, 4.0, 0.0));
        assert_eq!(signals(Zone::UTC, "2026-07-04T02:00:00Z"), (2.0, 5.0, 1.0));
        // Monday 2026-07-06T00:30 in Tokyo is Sunday 15:30 UTC.
        assert_eq!(
            signals(zone("Asia/Tokyo"), "2026-07-05T15:30:00Z"),
            (0.5, 0.0, 0.0)
        );
    }
}
