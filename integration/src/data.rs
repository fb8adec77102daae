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
