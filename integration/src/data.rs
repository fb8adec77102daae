//! Slices of the real demand traces in `../shared/data`.

use std::path::PathBuf;

pub fn shared_data(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(file)
}

pub fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// `count` values of `metric` starting at the row whose timestamp is `from`.
pub fn trace_slice(file: &str, from: &str, count: usize) -> Vec<f64> {
    let path = shared_data(file);
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let values: Vec<f64> = reader
        .records()
        .map(|r| r.expect("csv row"))
        .skip_while(|r| &r[0] != from)
        .take(count)
        .map(|r| r[3].parse::<f64>().expect("numeric value"))
        .collect();
    assert_eq!(
        values.len(),
        count,
        "{} has {count} rows from {from}",
        path.display()
    );
    values
}

/// A trace timestamp (`2013-01-07T06:15:00Z`, UTC) in epoch milliseconds: days from the civil
/// date (Howard Hinnant's algorithm), no date crate needed.
pub fn epoch_ms(text: &str) -> i64 {
    let n = |a: usize, b: usize| text[a..b].parse::<i64>().expect("timestamp digits");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000
}

#[cfg(test)]
mod tests {
    #[test]
    fn trace_timestamps_become_epoch_milliseconds() {
        assert_eq!(super::epoch_ms("1970-01-01T00:00:00Z"), 0);
        // date -u -d 2013-01-07T06:15:00Z +%s
        assert_eq!(super::epoch_ms("2013-01-07T06:15:00Z"), 1_357_539_300_000);
        assert_eq!(super::epoch_ms("2000-02-29T12:00:01Z"), 951_825_601_000);
    }
}
