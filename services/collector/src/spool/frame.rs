//! One record as it lies in a segment file: `[length: u32 LE][CRC-32 of the bytes: u32 LE][bytes]`.
//! The CRC is what tells a whole record from one torn by a crash in the middle of a write (or
//! from the zeros a file system can leave at the end of a file after a power cut), so the spool
//! keeps every record before the damage and truncates the rest. Pure: bytes in, bytes out.

/// Bytes before a record's own bytes.
pub const HEADER: usize = 8;

/// No sample batch comes near this; a larger length in a header is damage, not a record, and
/// must not make the reader allocate it.
pub const MAX_RECORD: usize = 64 << 20;

/// Appends `bytes` framed to `out`.
pub fn encode(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The size on disk of a record of `len` bytes.
pub fn framed_len(len: usize) -> u64 {
    (HEADER + len) as u64
}

/// A record's header, read before its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: usize,
    pub crc: u32,
}

/// The header at the start of `bytes`; `None` if it cannot start a whole record. A zero length
/// is refused: a record is never empty, and zeros are what a torn file ends with.
pub fn header(bytes: &[u8; HEADER]) -> Option<Header> {
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    (len > 0 && len <= MAX_RECORD).then_some(Header { len, crc })
}

/// Whether `bytes` are the record `header` announced.
pub fn intact(header: Header, bytes: &[u8]) -> bool {
    bytes.len() == header.len && crc32fast::hash(bytes) == header.crc
}

/// The whole records at the start of `buf` and the offset where the last of them ends; what
/// lies past that offset is a torn tail.
pub fn scan(buf: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(head) = buf
        .get(at..at + HEADER)
        .and_then(|h| header(h.try_into().ok()?))
    {
        let Some(bytes) = buf.get(at + HEADER..at + HEADER + head.len) else {
            break;
        };
        if !intact(head, bytes) {
            break;
        }
        records.push(bytes);
        at += HEADER + head.len;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            encode(r, &mut out);
        }
        out
    }

    #[test]
    fn records_read_back_in_order() {
        let buf = framed(&[b"one", b"two", b"three"]);
        let (records, valid) = scan(&buf);
        assert_eq!(records, vec![&b"one"[..], b"two", b"three"]);
        assert_eq!(valid, buf.len());
        assert_eq!(
            framed_len(3) as usize + framed_len(3) as usize + framed_len(5) as usize,
            buf.len()
        );
    }

    #[test]
    fn a_record_cut_anywhere_is_a_torn_tail_and_the_records_before_it_stay() {
        let whole = framed(&[b"first", b"second"]);
        let first_end = framed_len(5) as usize;
        for cut in first_end..whole.len() {
            let (records, valid) = scan(&whole[..cut]);
            assert_eq!(records, vec![&b"first"[..]], "cut at {cut}");
            assert_eq!(valid, first_end, "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_bit_ends_the_valid_records() {
        let mut buf = framed(&[b"first", b"second", b"third"]);
        let second_byte = framed_len(5) as usize + HEADER + 2;
        buf[second_byte] ^= 0x10;
        let (records, valid) = scan(&buf);
        assert_eq!(records, vec![&b"first"[..]]);
        assert_eq!(valid, framed_len(5) as usize);
    }

    #[test]
    fn zeros_after_the_records_are_not_records() {
        let mut buf = framed(&[b"first"]);
        buf.extend_from_slice(&[0; 64]);
        let (records, valid) = scan(&buf);
        assert_eq!(records.len(), 1);
        assert_eq!(valid, framed_len(5) as usize);
    }

    #[test]
    fn an_absurd_length_is_refused_before_anything_is_allocated() {
        let mut bytes = [0u8; HEADER];
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(header(&bytes), None);
    }
}
