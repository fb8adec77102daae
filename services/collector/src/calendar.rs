//! Time as an external signal: hour of day, day of week, weekend (UTC), from the reading time.

use presage_template::metric_names as names;

use crate::samples::Reading;

pub fn readings(now_ms: i64) -> Vec<Reading> {
    let hour = now_ms.div_euclid(1000).rem_euclid(86_400) as f64 / 3600.0;
    // 0 = Monday.
    let weekday = presage_template::calendar::weekday(now_ms);
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

    #[test]
    fn a_monday_noon_is_hour_12_weekday_0() {
        // 2000-06-05T12:00:00Z was a Monday.
        let r = readings(960_206_400_000);
        assert_eq!(r[0].value, 12.0);
        assert_eq!(r[1].value, 0.0);
        assert_eq!(r[2].value, 0.0);
    }

    #[test]
    fn saturday_is_weekend() {
        // 2000-06-10T00:00:00Z was a Saturday.
        let r = readings(960_595_200_000);
        assert_eq!((r[1].value, r[2].value), (5.0, 1.0));
    }
}
