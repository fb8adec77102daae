//! Segment files: `<first sequence number, 20 digits>.seg`, each a run of framed records with
//! consecutive sequence numbers. Appends go to the newest segment; the oldest are deleted whole
//! once acknowledged, or evicted whole when the spool is full.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::frame;
use super::SpoolError;

const SUFFIX: &str = ".seg";

pub fn path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SUFFIX}"))
}

/// The first sequence number a segment file's name states, if it is a segment's name.
pub fn first_seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The segments in `dir`, oldest first, by the first sequence number in their names.
pub fn list(dir: &Path) -> Result<Vec<u64>, SpoolError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| SpoolError::io(dir, e))? {
        let entry = entry.map_err(|e| SpoolError::io(dir, e))?;
        if let Some(seq) = entry.file_name().to_str().and_then(first_seq_of) {
            found.push(seq);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// The next whole record from `reader`; `None` at the end of the file or where a torn or
/// damaged record starts.
fn next_record(reader: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; frame::HEADER];
    match reader.read_exact(&mut head) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let Some(header) = frame::header(&head) else {
        return Ok(None);
    };
    let mut bytes = vec![0u8; header.len];
    match reader.read_exact(&mut bytes) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    Ok(frame::intact(header, &bytes).then_some(bytes))
}

/// What a segment file holds after recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub records: u64,
    /// Bytes of whole records: the file's length after recovery.
    pub bytes: u64,
    /// Bytes past the last whole record, truncated away.
    pub torn: u64,
    /// The offset where record number `at` (counted from the segment's first) starts, if the
    /// segment reaches it.
    pub offset_at: Option<u64>,
}

/// Reads a segment to its last whole record and truncates anything after it (a write torn by
/// a crash). `at` names a record whose starting offset the caller needs (the head's).
pub fn recover(path: &Path, at: u64) -> Result<Recovered, SpoolError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| SpoolError::io(path, e))?;
    let length = file.metadata().map_err(|e| SpoolError::io(path, e))?.len();
    let mut reader = BufReader::with_capacity(1 << 16, &file);
    let (mut records, mut bytes, mut offset_at) = (0u64, 0u64, None);
    loop {
        if records == at {
            offset_at = Some(bytes);
        }
        match next_record(&mut reader).map_err(|e| SpoolError::io(path, e))? {
            Some(record) => {
                records += 1;
                bytes += frame::framed_len(record.len());
            }
            None => break,
        }
    }
    if bytes < length {
        file.set_len(bytes).map_err(|e| SpoolError::io(path, e))?;
        file.sync_all().map_err(|e| SpoolError::io(path, e))?;
    }
    Ok(Recovered {
        records,
        bytes,
        torn: length - bytes,
        offset_at,
    })
}

/// Up to `max_records` records (and about `max_bytes`, at least one) from byte `offset` of a
/// segment whose whole records end at `end`, each with the offset it ends at.
pub fn read(
    path: &Path,
    offset: u64,
    end: u64,
    max_records: usize,
    max_bytes: u64,
) -> Result<Vec<(Vec<u8>, u64)>, SpoolError> {
    let mut file = File::open(path).map_err(|e| SpoolError::io(path, e))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| SpoolError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut records = Vec::new();
    let (mut at, mut taken) = (offset, 0u64);
    while at < end && records.len() < max_records && (records.is_empty() || taken < max_bytes) {
        let record = next_record(&mut reader)
            .map_err(|e| SpoolError::io(path, e))?
            .ok_or_else(|| {
                SpoolError::Damaged(format!("{}: no whole record at byte {at}", path.display()))
            })?;
        at += frame::framed_len(record.len());
        taken += frame::framed_len(record.len());
        records.push((record, at));
    }
    Ok(records)
}

/// A new, empty segment open for appending; its directory entry is made durable at once, so a
/// record fsynced into it later survives a power cut too.
pub fn create(dir: &Path, first_seq: u64) -> Result<File, SpoolError> {
    let path = path(dir, first_seq);
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| SpoolError::io(&path, e))?;
    sync_dir(dir)?;
    Ok(file)
}

/// An existing segment, open for appending.
pub fn reopen(dir: &Path, first_seq: u64) -> Result<File, SpoolError> {
    let path = path(dir, first_seq);
    OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| SpoolError::io(&path, e))
}

pub fn remove(dir: &Path, first_seq: u64) -> Result<(), SpoolError> {
    let path = path(dir, first_seq);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(SpoolError::io(&path, err)),
    }
}

pub fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SpoolError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_by_their_first_sequence_number() {
        let dir = Path::new("/spool");
        let name = path(dir, 42);
        assert_eq!(name, Path::new("/spool/00000000000000000042.seg"));
        let file_name = name.file_name().unwrap().to_str().unwrap();
        assert_eq!(first_seq_of(file_name), Some(42));
        assert_eq!(first_seq_of("42.seg"), None);
        assert_eq!(first_seq_of("state"), None);
        assert_eq!(first_seq_of("0000000000000000004x.seg"), None);
    }
}
