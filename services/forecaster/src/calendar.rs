//! An app's calendar as the linear model reads it: the template's `timezone` and the holidays
//! of a prediction algorithm. A holiday is a whole local day of that zone: `2026-12-25` in
//! `America/New_York` runs from 05:00 UTC on the 25th to 05:00 UTC on the 26th.

use std::collections::HashSet;

use presage_template::{calendar, PredictionAlgorithm, Zone};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    zone: Zone,
    /// Local dates, as days since 1970-01-01.
    holidays: HashSet<i64>,
}

impl Calendar {
    /// Holidays as local dates (days since 1970-01-01) of `zone`.
    pub fn new(zone: Zone, holidays: impl IntoIterator<Item = i64>) -> Self {
        Calendar {
            zone,
            holidays: holidays.into_iter().collect(),
        }
    }

    /// The algorithm's `holidays` on the template's zone. Dates that do not parse were refused
    /// when the template was validated.
    pub fn of(algorithm: &PredictionAlgorithm, zone: Zone) -> Self {
        Calendar::new(
            zone,
            algorithm
                .holidays
                .iter()
                .filter_map(|d| calendar::parse_date(d)),
        )
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// Whether the instant falls on a holiday of the local calendar.
    pub fn is_holiday(&self, at_ms: i64) -> bool {
        self.holidays.contains(&self.zone.day_number(at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_template::calendar::{parse_date, parse_timestamp};

    fn at(text: &str) -> i64 {
        parse_timestamp(text).unwrap()
    }

    #[test]
    fn a_holiday_is_a_whole_day_of_the_local_calendar() {
        let christmas = parse_date("2026-12-25").unwrap();
        let new_york = Calendar::new("America/New_York".parse().unwrap(), [christmas]);
        assert!(!new_york.is_holiday(at("2026-12-25T04:59:59Z")));
        assert!(new_york.is_holiday(at("2026-12-25T05:00:00Z")));
        assert!(new_york.is_holiday(at("2026-12-26T04:59:59Z")));
        assert!(!new_york.is_holiday(at("2026-12-26T05:00:00Z")));
        let utc = Calendar::new(Zone::UTC, [christmas]);
        assert!(utc.is_holiday(at("2026-12-25T00:00:00Z")));
        assert!(!utc.is_holiday(at("2026-12-26T00:00:00Z")));
    }

    #[test]
    fn a_holiday_on_a_change_of_clocks_is_23_or_25_hours_long() {
        // London's clocks went forward on 2026-03-29 and back on 2026-10-25.
        let london: Zone = "Europe/London".parse().unwrap();
        let spring = parse_date("2026-03-29").unwrap();
        let autumn = parse_date("2026-10-25").unwrap();
        let c = Calendar::new(london, [spring, autumn]);
        // 2026-03-29 00:00 GMT to 2026-03-30 00:00 BST: 00:00 to 23:00 UTC.
        assert!(c.is_holiday(at("2026-03-29T00:00:00Z")));
        assert!(c.is_holiday(at("2026-03-29T22:59:59Z")));
        assert!(!c.is_holiday(at("2026-03-29T23:00:00Z")));
        // 2026-10-25 00:00 BST to 2026-10-26 00:00 GMT: 23:00 UTC the day before to 00:00 UTC.
        assert!(!c.is_holiday(at("2026-10-24T22:59:59Z")));
        assert!(c.is_holiday(at("2026-10-24T23:00:00Z")));
        assert!(c.is_holiday(at("2026-10-25T23:59:59Z")));
        assert!(!c.is_holiday(at("2026-10-26T00:00:00Z")));
    }
}
