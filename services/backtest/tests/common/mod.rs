//! What the business-hours tests share: the trace and template they replay, and how many units
//! a capacity schedule has in service at an instant.

#![allow(dead_code)] // each test file uses its own part

use presage_backtest::report::CapacityStep;

pub const MINUTE: i64 = 60_000;
pub const DAY: i64 = 24 * 60 * MINUTE;

/// JFK departures, weekdays 07:00–21:00 (cut by bench/traces/business_hours.py).
pub const TRACE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../templates/backtest/business-hours-jfk-2013.csv"
);
pub const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../templates/backtest/business-hours.yaml"
);

/// Units in service at `at_ms`: the last step at or before it.
pub fn units_at(capacity: &[CapacityStep], at_ms: i64) -> i64 {
    capacity
        .iter()
        .take_while(|s| s.at_ms <= at_ms)
        .last()
        .map_or(0, |s| s.units)
}
