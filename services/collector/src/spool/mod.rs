//! The collector's spool: sample records wait here, on disk, until the broker has acknowledged
//! them, so a broker that is away (or a collector that crashes meanwhile) costs time, not data.
//!
//! Records get consecutive sequence numbers and are appended to segment files (`segment.rs`),
//! each framed with its length and a CRC (`frame.rs`). [`Spool::append`] returns once the
//! records are written and fdatasync'ed. The sender reads from the head ([`Spool::peek`]) and
//! moves the head past what the broker acknowledged ([`Spool::ack`]); segments wholly behind
//! the head are deleted. Past the bound the oldest segments are evicted (`bound.rs` says why the
//! oldest) and the drops are counted in the state file (`state.rs`) until a report of them has
//! been delivered ([`Spool::seal_overflow`], [`Spool::overflow_reported`]).
//!
//! What survives a SIGKILL at any instruction (and, given the fsyncs, a power cut):
//! - every record of every `append` that returned `Ok`;
//! - of an `append` cut short, the whole records already written (a torn last record is
//!   truncated on the next open); the caller never heard of them, and keeping them is harmless;
//! - every drop counted: the state naming the new head and the drop count is replaced (fsync,
//!   rename, fsync of the directory) before an evicted segment is unlinked, and a segment left
//!   behind by a crash in between lies wholly before the head and is deleted on open;
//! - the head as of the last `ack` that returned, or an earlier one: acknowledgements are not
//!   fsynced, so after a power cut (never after a SIGKILL alone) records may be sent again.
//!   Re-sent records are byte-identical (the spool stores the encoded record) and carry the same
//!   event id, so consumers drop them as duplicates.
//!
//! One process at a time: the spool holds an exclusive `flock` on `<dir>/lock`, released by
//! the kernel however the process ends.

pub mod bound;
pub mod frame;
pub mod ledger;
pub mod segment;
pub mod state;

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub use ledger::Overflow;
use state::State;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool damaged: {0}")]
    Damaged(String),
    #[error("spool {0} is in use by another process")]
    Busy(PathBuf),
}

impl SpoolError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        SpoolError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How large the spool may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of segment files, at most (a single batch larger than this keeps its newest part).
    pub max_bytes: u64,
    /// A segment takes no more records once it is this large: eviction frees about this much at
    /// a time, and acknowledged records wait about this long for their file to be deleted.
    pub segment_bytes: u64,
}

impl Limits {
    /// Segments of an eighth of the bound (at most 8 MiB): a full spool evicts about 1/8 of its
    /// backlog at a time, and opening a spool never reads one huge file.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(1, 8 << 20),
        }
    }
}

/// One record read from the spool, with where it lies (for [`Spool::ack`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub seq: u64,
    pub bytes: Vec<u8>,
    segment: u64,
    end: u64,
}

/// What an append dropped to stay within the bound (oldest spooled records, and possibly the
/// oldest records of the batch itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub records: u64,
    pub bytes: u64,
}

/// What opening found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opened {
    /// Records waiting for the broker.
    pub pending: u64,
    pub segments: usize,
    /// Bytes of torn records truncated (a crash in the middle of an append).
    pub torn_bytes: u64,
    /// The state file was unreadable: every record is sent again and unreported drops are
    /// lost. Only disk damage does this (the file is replaced by rename).
    pub state_lost: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    first_seq: u64,
    records: u64,
    bytes: u64,
}

impl Segment {
    fn end(&self) -> u64 {
        self.first_seq + self.records
    }
}

/// The next record to send: its sequence number and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    seq: u64,
    /// The segment `offset` is in (its first sequence number).
    segment: u64,
    offset: u64,
}

pub struct Spool {
    dir: PathBuf,
    limits: Limits,
    segments: VecDeque<Segment>,
    /// Append handle of the newest segment while it takes records.
    active: Option<File>,
    head: Head,
    next_seq: u64,
    open: Overflow,
    sealed: Option<Overflow>,
    _lock: File,
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, truncating a torn last record.
    pub fn open(dir: &Path, limits: Limits) -> Result<(Self, Opened), SpoolError> {
        std::fs::create_dir_all(dir).map_err(|e| SpoolError::io(dir, e))?;
        let lock = lock(dir)?;
        let mut opened = Opened::default();
        let stored = match state::load(dir) {
            Ok(stored) => stored,
            Err(err) => {
                opened.state_lost = Some(err.to_string());
                None
            }
        };
        let stored = stored.unwrap_or_default();
        let mut segments = VecDeque::new();
        let mut head_offset = None;
        for first_seq in segment::list(dir)? {
            let path = segment::path(dir, first_seq);
            let recovered = segment::recover(&path, stored.head.saturating_sub(first_seq))?;
            opened.torn_bytes += recovered.torn;
            let found = Segment {
                first_seq,
                records: recovered.records,
                bytes: recovered.bytes,
            };
            // Empty, or wholly acknowledged (or evicted by a run that crashed before the unlink).
            if found.records == 0 || found.end() <= stored.head {
                segment::remove(dir, first_seq)?;
                continue;
            }
            if (first_seq..found.end()).contains(&stored.head) {
                head_offset = recovered.offset_at.map(|offset| (first_seq, offset));
            }
            segments.push_back(found);
        }
        let next_seq = segments
            .back()
            .map_or(stored.head, |s| s.end().max(stored.head));
        let head = match (head_offset, segments.front()) {
            (Some((segment, offset)), _) => Head {
                seq: stored.head,
                segment,
                offset,
            },
            // The head fell between segments (records lost to damage): resume at the next one.
            (None, Some(front)) => Head {
                seq: front.first_seq,
                segment: front.first_seq,
                offset: 0,
            },
            (None, None) => Head {
                seq: next_seq,
                segment: next_seq,
                offset: 0,
            },
        };
        let active = match segments.back() {
            Some(last) if last.bytes < limits.segment_bytes => {
                Some(segment::reopen(dir, last.first_seq)?)
            }
            _ => None,
        };
        let spool = Spool {
            dir: dir.to_path_buf(),
            limits,
            segments,
            active,
            head,
            next_seq,
            open: stored.open,
            sealed: stored.sealed,
            _lock: lock,
        };
        opened.pending = spool.pending();
        opened.segments = spool.segments.len();
        Ok((spool, opened))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Records not yet acknowledged by the broker.
    pub fn pending(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.end().saturating_sub(s.first_seq.max(self.head.seq)))
            .sum()
    }

    /// Bytes of segment files, the quantity the bound limits.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Drops not yet reported (sealed and open).
    pub fn unreported(&self) -> u64 {
        self.open.records + self.sealed.map_or(0, |s| s.records)
    }

    /// Appends `records` in order and makes them durable (written and fdatasync'ed) before it
    /// returns. When the bound would be passed, the oldest segments are evicted first.
    pub fn append(&mut self, records: &[Vec<u8>], now_ms: i64) -> Result<Dropped, SpoolError> {
        if records.is_empty() {
            return Ok(Dropped::default());
        }
        let sizes: Vec<u64> = records.iter().map(|r| frame::framed_len(r.len())).collect();
        let first_seq = self.next_seq;
        self.next_seq += records.len() as u64;
        let sizes_now: Vec<u64> = self.segments.iter().map(|s| s.bytes).collect();
        let eviction = bound::plan(&sizes_now, &sizes, self.limits.max_bytes);
        let dropped = if eviction.is_none() {
            Dropped::default()
        } else {
            self.evict(eviction, first_seq, &sizes, now_ms)?
        };
        let kept = &records[eviction.skipped..];
        if kept.is_empty() {
            return Ok(dropped);
        }
        self.write(first_seq + eviction.skipped as u64, kept)?;
        Ok(dropped)
    }

    /// Deletes the oldest segments (and skips the batch's oldest records) as `eviction` says,
    /// counting what had not been acknowledged. The count and the new head are made durable
    /// before any file goes, so a crash can neither lose the count nor resurrect the records.
    fn evict(
        &mut self,
        eviction: bound::Eviction,
        batch_first: u64,
        batch_sizes: &[u64],
        now_ms: i64,
    ) -> Result<Dropped, SpoolError> {
        let mut dropped = Dropped::default();
        let (mut first, mut last) = (u64::MAX, 0);
        for seg in self.segments.iter().take(eviction.segments) {
            if seg.end() <= self.head.seq {
                continue; // acknowledged already, only not deleted yet
            }
            let from = seg.first_seq.max(self.head.seq);
            let acked_bytes = if self.head.segment == seg.first_seq {
                self.head.offset
            } else {
                0
            };
            dropped.records += seg.end() - from;
            dropped.bytes += seg.bytes - acked_bytes;
            first = first.min(from);
            last = last.max(seg.end() - 1);
        }
        if eviction.skipped > 0 {
            dropped.records += eviction.skipped as u64;
            dropped.bytes += batch_sizes[..eviction.skipped].iter().sum::<u64>();
            first = first.min(batch_first);
            last = last.max(batch_first + eviction.skipped as u64 - 1);
        }
        self.open
            .add(dropped.records, dropped.bytes, first, last, now_ms);
        let evicted: Vec<Segment> = self.segments.drain(..eviction.segments).collect();
        let resume = self
            .segments
            .front()
            .map_or(batch_first + eviction.skipped as u64, |s| s.first_seq);
        if self.head.seq < resume {
            self.head = Head {
                seq: resume,
                segment: resume,
                offset: 0,
            };
        }
        if self.segments.is_empty() {
            self.active = None;
        }
        self.store(true)?;
        for seg in evicted {
            segment::remove(&self.dir, seg.first_seq)?;
        }
        Ok(dropped)
    }

    /// Writes records numbered from `first_seq` in one write and one fdatasync.
    fn write(&mut self, first_seq: u64, records: &[Vec<u8>]) -> Result<(), SpoolError> {
        let continues = matches!(
            (self.segments.back(), &self.active),
            (Some(last), Some(_)) if last.end() == first_seq && last.bytes < self.limits.segment_bytes
        );
        if !continues {
            // With nothing pending, the head moves to the new segment's first record (past any
            // sequence numbers an append that failed or skipped records left unused).
            let idle = self.pending() == 0;
            self.active = Some(segment::create(&self.dir, first_seq)?);
            self.segments.push_back(Segment {
                first_seq,
                records: 0,
                bytes: 0,
            });
            if idle {
                self.head = Head {
                    seq: first_seq,
                    segment: first_seq,
                    offset: 0,
                };
            }
        }
        let mut buf = Vec::new();
        for record in records {
            frame::encode(record, &mut buf);
        }
        let last = *self.segments.back().expect("a segment to append to");
        let path = segment::path(&self.dir, last.first_seq);
        let file = self.active.as_mut().expect("an open segment");
        let written = file.write_all(&buf).and_then(|()| file.sync_data());
        if let Err(err) = written {
            // Whatever part was written is cut off again, and the next append starts a fresh
            // segment: the sequence numbers of this batch stay unused.
            let _ = file.set_len(last.bytes);
            self.active = None;
            return Err(SpoolError::io(&path, err));
        }
        let back = self.segments.back_mut().expect("a segment to append to");
        back.records += records.len() as u64;
        back.bytes += buf.len() as u64;
        if back.bytes >= self.limits.segment_bytes {
            self.active = None;
        }
        self.remove_acknowledged()?;
        Ok(())
    }

    /// Up to `max_records` records (about `max_bytes`, at least one) from the head, in order,
    /// without removing them.
    pub fn peek(&mut self, max_records: usize, max_bytes: u64) -> Result<Vec<Spooled>, SpoolError> {
        let mut out: Vec<Spooled> = Vec::new();
        let mut taken = 0u64;
        for seg in &self.segments {
            if seg.end() <= self.head.seq {
                continue;
            }
            if out.len() >= max_records || (!out.is_empty() && taken >= max_bytes) {
                break;
            }
            let (mut seq, offset) = if seg.first_seq == self.head.segment {
                (self.head.seq, self.head.offset)
            } else {
                (seg.first_seq, 0)
            };
            let path = segment::path(&self.dir, seg.first_seq);
            let room = max_bytes.saturating_sub(taken).max(1);
            for (bytes, end) in
                segment::read(&path, offset, seg.bytes, max_records - out.len(), room)?
            {
                taken += frame::framed_len(bytes.len());
                out.push(Spooled {
                    seq,
                    bytes,
                    segment: seg.first_seq,
                    end,
                });
                seq += 1;
            }
        }
        Ok(out)
    }

    /// The broker acknowledged `sent` (a run read by [`Spool::peek`]): the head moves past it
    /// and segments wholly behind the head are deleted. Records in `sent` the spool evicted
    /// while they were being sent reached the broker after all, so they are taken off the drop
    /// count.
    pub fn ack(&mut self, sent: &[Spooled]) -> Result<(), SpoolError> {
        let Some(last) = sent.last() else {
            return Ok(());
        };
        let evicted: Vec<&Spooled> = sent.iter().filter(|r| r.seq < self.head.seq).collect();
        if !evicted.is_empty() {
            let bytes = evicted
                .iter()
                .map(|r| frame::framed_len(r.bytes.len()))
                .sum();
            self.open.forgive(evicted.len() as u64, bytes);
        }
        if last.seq >= self.head.seq {
            self.head = Head {
                seq: last.seq + 1,
                segment: last.segment,
                offset: last.end,
            };
        }
        self.remove_acknowledged()?;
        self.store(false)
    }

    /// Deletes segments wholly behind the head that take no more records.
    fn remove_acknowledged(&mut self) -> Result<(), SpoolError> {
        while let Some(front) = self.segments.front().copied() {
            let newest = self.segments.len() == 1;
            let done = front.end() <= self.head.seq && !(newest && self.active.is_some());
            if !done {
                break;
            }
            segment::remove(&self.dir, front.first_seq)?;
            self.segments.pop_front();
            if let Some(next) = self.segments.front() {
                if self.head.seq <= next.first_seq {
                    self.head = Head {
                        seq: next.first_seq,
                        segment: next.first_seq,
                        offset: 0,
                    };
                }
            }
        }
        Ok(())
    }

    /// The drops to report now, if any: the report in flight if there is one (the same until it
    /// is delivered), else every drop counted so far, sealed into a report.
    pub fn seal_overflow(&mut self) -> Result<Option<Overflow>, SpoolError> {
        if self.sealed.is_none() && !self.open.is_empty() {
            self.sealed = Some(std::mem::take(&mut self.open));
            self.store(true)?;
        }
        Ok(self.sealed)
    }

    /// The sealed report reached the broker.
    pub fn overflow_reported(&mut self) -> Result<(), SpoolError> {
        if self.sealed.take().is_some() {
            self.store(true)?;
        }
        Ok(())
    }

    fn store(&self, durable: bool) -> Result<(), SpoolError> {
        let state = State {
            head: self.head.seq,
            open: self.open,
            sealed: self.sealed,
        };
        state::store(&self.dir, &state, durable)
    }
}

/// An exclusive lock on the spool directory, so two collectors never interleave their records.
fn lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join("lock");
    let file = File::create(&path).map_err(|e| SpoolError::io(&path, e))?;
    // SAFETY: flock(2) on a descriptor we own; no memory is involved.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::WouldBlock {
            return Err(SpoolError::Busy(dir.to_path_buf()));
        }
        return Err(SpoolError::io(&path, err));
    }
    Ok(file)
}
