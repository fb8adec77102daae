//! The CSV trace `presage backtest` reads (`timestamp,app,metric,value`): valid traces with
//! quoting, mutated line by line and byte by byte.

use super::Target;
use crate::mutate;
use crate::rng::Rng;

const TRACE: &str = "timestamp,app,metric,value\n\
2013-01-01T00:15:00Z,grid,demand_mw,31000\n\
2013-01-01T00:30:00Z,grid,grid.demand_mw,30990.5\n\
2013-01-01T00:30:00Z,\"checkout, eu\",\"http.rps\",1e3\n\
2013-01-01T00:45:00Z,grid,demand_mw,-0\n";

const TOKENS: &[&str] = &[
    ",",
    "\"",
    "\"\"",
    "\r",
    "NaN",
    "inf",
    "1e400",
    "2013-02-30T00:00:00Z",
    "9999-12-31T23:59:59Z",
    ".",
    " ",
    "é",
    "\u{feff}",
];

pub(super) fn target() -> Target {
    Target {
        name: "csv-trace",
        reads: "CSV traces for presage backtest",
        generate,
        run,
    }
}

fn generate(rng: &mut Rng) -> Vec<u8> {
    let trace = mutate::lines(rng, TRACE, TOKENS);
    if rng.one_in(2) {
        mutate::bytes(rng, trace.as_bytes(), TRACE.as_bytes())
    } else {
        trace.into_bytes()
    }
}

fn run(input: &[u8]) {
    if let Ok(trace) = presage_backtest::read_csv(input, "fuzz.csv") {
        // Samples come out in event-time order.
        let times: Vec<i64> = trace.samples.iter().map(|s| s.event_time_ms).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "out of order");
    }
}
