//! What the spool remembers beside its records: the first record not yet acknowledged by the
//! broker (`head`) and the drops not yet reported. Kept in one small text file replaced by
//! rename, so a crash leaves either the old state or the new one, never a mix.

use std::io::Write;
use std::path::Path;

use super::ledger::Overflow;
use super::SpoolError;

pub const FILE: &str = "state";
const TEMPORARY: &str = "state.tmp";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// Sequence number of the oldest record not yet acknowledged by the broker.
    pub head: u64,
    /// Drops not yet handed to the sender.
    pub open: Overflow,
    /// Drops whose report the sender is delivering (the same report until it is acknowledged).
    pub sealed: Option<Overflow>,
}

impl State {
    pub fn to_text(&self) -> String {
        let mut text = format!("head {}\n", self.head);
        let line = |name: &str, o: &Overflow| {
            format!(
                "{name} {} {} {} {} {} {}\n",
                o.records, o.bytes, o.first_seq, o.last_seq, o.first_at_ms, o.last_at_ms
            )
        };
        if !self.open.is_empty() {
            text.push_str(&line("open", &self.open));
        }
        if let Some(sealed) = &self.sealed {
            text.push_str(&line("sealed", sealed));
        }
        text
    }

    pub fn from_text(text: &str) -> Option<State> {
        let mut state = State::default();
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            match fields.next()? {
                "head" => state.head = fields.next()?.parse().ok()?,
                "open" => state.open = overflow(fields)?,
                "sealed" => state.sealed = Some(overflow(fields)?),
                _ => return None,
            }
        }
        Some(state)
    }
}

fn overflow<'a>(mut fields: impl Iterator<Item = &'a str>) -> Option<Overflow> {
    let mut next_u64 = || fields.next()?.parse::<u64>().ok();
    let (records, bytes, first_seq, last_seq) =
        (next_u64()?, next_u64()?, next_u64()?, next_u64()?);
    let first_at_ms = next_u64()? as i64;
    let last_at_ms = next_u64()? as i64;
    Some(Overflow {
        records,
        bytes,
        first_seq,
        last_seq,
        first_at_ms,
        last_at_ms,
    })
}

/// The stored state; `Ok(None)` if there is none yet, `Err` if it is unreadable.
pub fn load(dir: &Path) -> Result<Option<State>, SpoolError> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => State::from_text(&text).map(Some).ok_or_else(|| {
            SpoolError::Damaged(format!("{} is unreadable: {text:?}", path.display()))
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(SpoolError::io(&path, err)),
    }
}

/// Replaces the stored state. `durable` also survives a power cut (fsync of the file and the
/// directory): needed when the state is the only record of a loss (drops), not when losing it
/// only means records are sent again (an acknowledgement).
pub fn store(dir: &Path, state: &State, durable: bool) -> Result<(), SpoolError> {
    let temporary = dir.join(TEMPORARY);
    let mut file = std::fs::File::create(&temporary).map_err(|e| SpoolError::io(&temporary, e))?;
    file.write_all(state.to_text().as_bytes())
        .map_err(|e| SpoolError::io(&temporary, e))?;
    if durable {
        file.sync_all().map_err(|e| SpoolError::io(&temporary, e))?;
    }
    let path = dir.join(FILE);
    std::fs::rename(&temporary, &path).map_err(|e| SpoolError::io(&path, e))?;
    if durable {
        super::segment::sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_reads_back_as_written() {
        let drops = Overflow {
            records: 3,
            bytes: 300,
            first_seq: 10,
            last_seq: 12,
            first_at_ms: 1_700_000_000_000,
            last_at_ms: 1_700_000_000_500,
        };
        for state in [
            State::default(),
            State {
                head: 42,
                open: drops,
                sealed: None,
            },
            State {
                head: 7,
                open: Overflow::default(),
                sealed: Some(drops),
            },
        ] {
            assert_eq!(State::from_text(&state.to_text()), Some(state));
        }
    }

    #[test]
    fn a_damaged_state_is_refused_not_guessed() {
        assert_eq!(State::from_text("head x\n"), None);
        assert_eq!(State::from_text("head 1\nopen 1 2\n"), None);
        assert_eq!(State::from_text("tail 1\n"), None);
    }
}
