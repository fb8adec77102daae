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

/// A trace timestamp (`2013-01-07T06:15:00Z`, UTC) in epoch milliseconds.
pub fn epoch_ms(text: &str) -> i64 {
    presage_template::calendar::parse_timestamp(text)
        .unwrap_or_else(|| panic!("trace timestamp {text:?} is not YYYY-MM-DDTHH:MM:SSZ"))
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
