//! The spool on a real file system: what goes in comes out in order, survives a restart (the
//! process ending at any point is a spool dropped without an acknowledgement), loses only a torn
//! record, and stays within its bound by dropping the oldest records, counted.

use std::path::Path;

use presage_collector::spool::{frame, Limits, Spool, SpoolError, Spooled};

fn record(n: u32) -> Vec<u8> {
    format!("sample-{n:05}").into_bytes()
}

fn records(range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    range.map(record).collect()
}

fn open(dir: &Path, max_bytes: u64) -> Spool {
    Spool::open(dir, Limits::new(max_bytes))
        .expect("open spool")
        .0
}

fn bytes_of(batch: &[Spooled]) -> Vec<Vec<u8>> {
    batch.iter().map(|r| r.bytes.clone()).collect()
}

/// Everything pending, in order, without acknowledging it.
fn all_pending(spool: &mut Spool) -> Vec<Vec<u8>> {
    bytes_of(&spool.peek(usize::MAX, u64::MAX).unwrap())
}

#[test]
fn records_come_out_in_order_and_stay_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = open(dir.path(), 1 << 20);
    spool.append(&records(0..3), 0).unwrap();
    spool.append(&records(3..5), 0).unwrap();
    let first = spool.peek(2, u64::MAX).unwrap();
    assert_eq!(bytes_of(&first), records(0..2));
    assert_eq!(
        bytes_of(&spool.peek(2, u64::MAX).unwrap()),
        records(0..2),
        "peeking again without an ack reads the same records"
    );
    spool.ack(&first).unwrap();
    assert_eq!(spool.pending(), 3);
    assert_eq!(all_pending(&mut spool), records(2..5));
}

#[test]
fn a_reopened_spool_resumes_after_the_last_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = open(dir.path(), 1 << 20);
        spool.append(&records(0..10), 0).unwrap();
        let sent = spool.peek(4, u64::MAX).unwrap();
        spool.ack(&sent).unwrap();
        // Read but not acknowledged when the process dies: must be sent again.
        let _in_flight = spool.peek(3, u64::MAX).unwrap();
    }
    let (mut spool, opened) = Spool::open(dir.path(), Limits::new(1 << 20)).unwrap();
    assert_eq!(opened.pending, 6);
    assert_eq!(opened.torn_bytes, 0);
    assert_eq!(all_pending(&mut spool), records(4..10));
    spool.append(&records(10..12), 0).unwrap();
    assert_eq!(all_pending(&mut spool), records(4..12));
}

#[test]
fn a_record_torn_by_a_crash_is_truncated_and_the_spool_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut spool = open(dir.path(), 1 << 20);
        spool.append(&records(0..3), 0).unwrap();
    }
    // A crash in the middle of the next append: its record only half written.
    let segment = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut torn = Vec::new();
    frame::encode(&record(3), &mut torn);
    torn.truncate(torn.len() - 4);
    let whole = std::fs::metadata(&segment).unwrap().len();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(&torn);
    std::fs::write(&segment, &bytes).unwrap();

    let (mut spool, opened) = Spool::open(dir.path(), Limits::new(1 << 20)).unwrap();
    assert_eq!(opened.torn_bytes, torn.len() as u64);
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), whole);
    assert_eq!(all_pending(&mut spool), records(0..3));
    spool.append(&records(3..5), 0).unwrap();
    assert_eq!(all_pending(&mut spool), records(0..5));
}

#[test]
fn acknowledged_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    // Records of 20 bytes framed; segments of 20 bytes: each append of two closes its segment.
    let mut spool = open(dir.path(), 160);
    for batch in 0..4 {
        spool.append(&records(batch * 2..batch * 2 + 2), 0).unwrap();
    }
    let segments = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "seg")
            })
            .count()
    };
    assert_eq!(segments(dir.path()), 4);
    let sent = spool.peek(5, u64::MAX).unwrap();
    spool.ack(&sent).unwrap();
    assert_eq!(
        segments(dir.path()),
        2,
        "the two segments wholly sent are gone"
    );
    let rest = spool.peek(usize::MAX, u64::MAX).unwrap();
    assert_eq!(bytes_of(&rest), records(5..8));
    spool.ack(&rest).unwrap();
    assert_eq!(spool.pending(), 0);
    drop(spool);
    let (_, opened) = Spool::open(dir.path(), Limits::new(160)).unwrap();
    assert_eq!((opened.pending, opened.segments), (0, 0));
}

#[test]
fn a_full_spool_drops_its_oldest_records_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let size = frame::framed_len(record(0).len());
    // Room for 20 records; segments of 2.5 records' worth (a segment closes once it passes that).
    let max = 20 * size;
    let mut spool = open(dir.path(), max);
    let mut dropped = 0;
    for n in 0..50 {
        dropped += spool
            .append(&[record(n)], 1_000 + i64::from(n))
            .unwrap()
            .records;
        assert!(
            spool.bytes() <= max,
            "{} bytes after record {n}",
            spool.bytes()
        );
    }
    let kept = all_pending(&mut spool);
    assert_eq!(
        kept.len() as u64 + dropped,
        50,
        "every record is kept or counted"
    );
    assert_eq!(
        kept,
        records(50 - kept.len() as u32..50),
        "the newest records are the ones kept"
    );
    assert!(
        kept.len() >= 15,
        "eviction frees a segment at a time, not the whole spool: {}",
        kept.len()
    );
    assert_eq!(spool.unreported(), dropped);

    let report = spool
        .seal_overflow()
        .unwrap()
        .expect("a report of the drops");
    assert_eq!(report.records, dropped);
    assert_eq!(report.bytes, dropped * size);
    assert_eq!((report.first_seq, report.last_seq), (0, dropped - 1));
    assert_eq!(report.first_at_ms, 1_000 + 20);
    // Until it is delivered, the same report comes back, across a restart too.
    assert_eq!(spool.seal_overflow().unwrap(), Some(report));
    drop(spool);
    let mut spool = open(dir.path(), max);
    assert_eq!(spool.seal_overflow().unwrap(), Some(report));
    spool.overflow_reported().unwrap();
    assert_eq!(spool.seal_overflow().unwrap(), None);
    drop(spool);
    let mut spool = open(dir.path(), max);
    assert_eq!(
        spool.seal_overflow().unwrap(),
        None,
        "a delivered report is not sent again"
    );
    assert_eq!(spool.unreported(), 0);
}

#[test]
fn drops_after_a_report_is_sealed_go_into_the_next_report() {
    let dir = tempfile::tempdir().unwrap();
    let size = frame::framed_len(record(0).len());
    let mut spool = open(dir.path(), 8 * size);
    for n in 0..20 {
        spool.append(&[record(n)], 0).unwrap();
    }
    let first = spool.seal_overflow().unwrap().unwrap();
    for n in 20..30 {
        spool.append(&[record(n)], 0).unwrap();
    }
    assert_eq!(
        spool.seal_overflow().unwrap(),
        Some(first),
        "the sealed report is unchanged"
    );
    spool.overflow_reported().unwrap();
    let second = spool.seal_overflow().unwrap().unwrap();
    assert!(second.first_seq > first.last_seq);
    let kept = all_pending(&mut spool).len() as u64;
    assert_eq!(first.records + second.records + kept, 30);
}

#[test]
fn records_evicted_while_being_sent_and_then_acknowledged_are_not_counted_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let size = frame::framed_len(record(0).len());
    let mut spool = open(dir.path(), 8 * size);
    spool.append(&records(0..4), 0).unwrap();
    let in_flight = spool.peek(4, u64::MAX).unwrap();
    // The broker is away; reading goes on and the full spool evicts the records in flight.
    for n in 4..16 {
        spool.append(&[record(n)], 0).unwrap();
    }
    let dropped_before = spool.unreported();
    assert!(dropped_before >= 4, "{dropped_before}");
    // The broker comes back and acknowledges the batch it was sent.
    spool.ack(&in_flight).unwrap();
    assert_eq!(spool.unreported(), dropped_before - 4);
    let kept = all_pending(&mut spool);
    assert_eq!(
        4 + kept.len() as u64 + spool.unreported(),
        16,
        "sent, kept or counted: {kept:?}"
    );
    assert_eq!(kept.last(), Some(&record(15)));
}

#[test]
fn a_batch_larger_than_the_whole_spool_keeps_its_newest_records() {
    let dir = tempfile::tempdir().unwrap();
    let size = frame::framed_len(record(0).len());
    let mut spool = open(dir.path(), 5 * size);
    spool.append(&records(0..2), 0).unwrap();
    let dropped = spool.append(&records(2..10), 7).unwrap();
    assert_eq!(
        dropped.records, 5,
        "the 2 spooled records and the batch's 3 oldest"
    );
    assert_eq!(all_pending(&mut spool), records(5..10));
    let report = spool.seal_overflow().unwrap().unwrap();
    assert_eq!(
        (report.records, report.first_seq, report.last_seq),
        (5, 0, 4)
    );
}

#[test]
fn a_second_process_cannot_open_a_spool_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path(), 1 << 20);
    match Spool::open(dir.path(), Limits::new(1 << 20)) {
        Err(SpoolError::Busy(_)) => {}
        other => panic!("expected Busy, got {:?}", other.map(|(_, o)| o)),
    }
}
