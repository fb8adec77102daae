//! The collector's own flags: where its spool lives and how large it may grow.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct SpoolArgs {
    /// Where samples wait until the broker has acknowledged them. Default:
    /// `$PRESAGE_DATA_DIR/spool/collector`, else `var/presage/spool/collector` under the working
    /// directory (beside the local broker's data when `presage up` runs the stack).
    #[arg(long, env = "PRESAGE_COLLECTOR_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// The spool's bound, in bytes or with a unit (`64MiB`, `1G`). When the broker is away long
    /// enough to fill it, the oldest unsent samples are dropped, counted, logged, and reported
    /// to the dead-letter topic once the broker is back.
    #[arg(long, env = "PRESAGE_COLLECTOR_SPOOL_MAX_BYTES", default_value = "256MiB", value_parser = parse_size)]
    pub spool_max_bytes: u64,
}

impl SpoolArgs {
    pub fn dir(&self) -> PathBuf {
        match &self.spool_dir {
            Some(dir) => dir.clone(),
            None => default_dir(std::env::var_os("PRESAGE_DATA_DIR").as_deref()),
        }
    }
}

/// The spool directory under a data directory (`presage up --data-dir`'s variable), or under
/// `presage up`'s default one.
pub fn default_dir(data_dir: Option<&OsStr>) -> PathBuf {
    data_dir
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("var/presage"), PathBuf::from)
        .join(Path::new("spool/collector"))
}

/// `4096`, `64KiB`, `256MiB`, `1GiB` (powers of 1024) or `64K`, `5M`, `1G` (powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a number of bytes, e.g. 268435456 or 256MiB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use KiB, MiB, GiB, K, M or G)"
            ))
        }
    };
    let bytes = number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?}: too large"))?;
    if bytes == 0 {
        return Err(format!(
            "{text:?}: the spool needs room for at least one sample"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("64 KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_size("MiB").is_err());
    }

    #[test]
    fn the_spool_lives_under_the_data_directory_presage_up_uses() {
        assert_eq!(default_dir(None), Path::new("var/presage/spool/collector"));
        assert_eq!(
            default_dir(Some(OsStr::new("/srv/presage"))),
            Path::new("/srv/presage/spool/collector")
        );
        assert_eq!(
            default_dir(Some(OsStr::new(""))),
            Path::new("var/presage/spool/collector")
        );
    }
}
