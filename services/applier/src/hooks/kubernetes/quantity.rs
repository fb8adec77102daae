//! Kubernetes quantities (`512Mi`, `1.5Gi`, `250m`, `2`, `1e3`) as numbers and back. Written
//! here rather than taken from k8s-openapi, whose `Quantity` is only the text: the hook reads
//! a quantity into a directive resource's unit and compares what the server stored (which it
//! may have rewritten, `1024Mi` as `1Gi`) with what was sent.

use presage_template::kubernetes::QUANTITY_UNITS;

/// Suffixes the API server may write besides the ones a template may choose.
const MORE_SUFFIXES: [(&str, f64); 6] = [
    ("n", 1e-9),
    ("u", 1e-6),
    ("P", 1e15),
    ("E", 1e18),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
];

/// What one `unit` is worth in plain units (bytes, cores); None for an unknown suffix.
pub fn unit_value(unit: &str) -> Option<f64> {
    QUANTITY_UNITS
        .iter()
        .chain(MORE_SUFFIXES.iter())
        .find(|(suffix, _)| *suffix == unit)
        .map(|(_, value)| *value)
}

/// A quantity's value in plain units.
pub fn parse(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .char_indices()
        .find(|&(i, c)| {
            let exponent = matches!(c, 'e' | 'E')
                && text[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|n| n.is_ascii_digit() || n == '-' || n == '+');
            !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-') || exponent)
        })
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a Kubernetes quantity"))?;
    let unit = unit_value(suffix)
        .ok_or_else(|| format!("`{text}` has an unknown quantity suffix `{suffix}`"))?;
    Ok(number * unit)
}

/// `value` `unit`s as a quantity: `512Mi`; a fraction is written in thousandths of a plain
/// unit (`0.5` cores is `500m`), which every resource takes. A negative or non-finite value is
/// refused: no request or limit is below zero.
pub fn format(value: f64, unit: &str) -> Result<String, String> {
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{value} cannot be a Kubernetes quantity"));
    }
    if value.fract() == 0.0 && value < 9.0e15 {
        return Ok(format!("{}{unit}", value as i64));
    }
    let factor = unit_value(unit).ok_or_else(|| format!("unknown unit `{unit}`"))?;
    Ok(format!("{}m", (value * factor * 1000.0).round() as i64))
}

/// Whether two quantities are the same amount (the server may write it differently).
pub fn same(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_in_binary_decimal_and_milli_units() {
        assert_eq!(parse("512Mi"), Ok(512.0 * 1_048_576.0));
        assert_eq!(parse("1Gi"), Ok(1_073_741_824.0));
        assert_eq!(parse("250m"), Ok(0.25));
        assert_eq!(parse("2"), Ok(2.0));
        assert_eq!(parse("1.5k"), Ok(1500.0));
        assert_eq!(parse("1e3"), Ok(1000.0));
        assert!(parse("12Qi").is_err());
        assert!(parse("Mi").is_err());
    }

    #[test]
    fn a_target_is_written_in_its_unit_and_a_fraction_in_thousandths() {
        assert_eq!(format(512.0, "Mi").unwrap(), "512Mi");
        assert_eq!(format(0.5, "").unwrap(), "500m");
        assert_eq!(format(250.0, "m").unwrap(), "250m");
        assert!(format(-1.0, "Mi").is_err());
        assert!(format(f64::NAN, "Mi").is_err());
    }

    #[test]
    fn the_same_amount_written_differently_is_the_same() {
        assert!(same("1024Mi", "1Gi"));
        assert!(same("0.5", "500m"));
        assert!(!same("512Mi", "1Gi"));
    }
}
