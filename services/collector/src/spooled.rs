//! A record to produce as the spool stores it. The spool keeps the record exactly as it was
//! first encoded (topic, key, event id, Avro payload, timestamp), so a record sent again after
//! a broker outage or a crash is byte-identical to its first send. Pure.

use presage_runner::Outgoing;

/// Bumped if the layout ever changes; a record of another version is refused, not misread.
const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spooled record unreadable: {0}")]
pub struct Unreadable(String);

/// `[version][topic][key][event id][payload][timestamp]`, each field a u32 LE length and its
/// bytes, the timestamp a presence byte and an i64 LE.
pub fn encode(record: &Outgoing) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        32 + record.topic.len() + record.key.len() + record.event_id.len() + record.payload.len(),
    );
    out.push(VERSION);
    for field in [
        record.topic.as_bytes(),
        record.key.as_bytes(),
        record.event_id.as_bytes(),
        &record.payload,
    ] {
        out.extend_from_slice(&(field.len() as u32).to_le_bytes());
        out.extend_from_slice(field);
    }
    match record.timestamp_ms {
        Some(ms) => {
            out.push(1);
            out.extend_from_slice(&ms.to_le_bytes());
        }
        None => out.push(0),
    }
    out
}

pub fn decode(bytes: &[u8]) -> Result<Outgoing, Unreadable> {
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8], Unreadable> {
        if rest.len() < n {
            return Err(Unreadable(format!(
                "{n} bytes expected, {} left",
                rest.len()
            )));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let version = take(1)?[0];
    if version != VERSION {
        return Err(Unreadable(format!("version {version}, expected {VERSION}")));
    }
    let mut field = || -> Result<Vec<u8>, Unreadable> {
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        Ok(take(len)?.to_vec())
    };
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|e| Unreadable(e.to_string()));
    let topic = text(field()?)?;
    let key = text(field()?)?;
    let event_id = text(field()?)?;
    let payload = field()?;
    let timestamp_ms = match take(1)?[0] {
        0 => None,
        1 => Some(i64::from_le_bytes(take(8)?.try_into().expect("8 bytes"))),
        other => return Err(Unreadable(format!("timestamp flag {other}"))),
    };
    if !rest.is_empty() {
        return Err(Unreadable(format!("{} trailing bytes", rest.len())));
    }
    Ok(Outgoing {
        topic,
        key,
        event_id,
        payload,
        timestamp_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(timestamp_ms: Option<i64>) -> Outgoing {
        Outgoing {
            topic: "presage.metrics.raw".into(),
            key: "shop".into(),
            event_id: "raw-0123abcd".into(),
            payload: vec![0xC3, 0x01, 0, 255, 7],
            timestamp_ms,
        }
    }

    #[test]
    fn a_record_reads_back_exactly_as_it_was_spooled() {
        for ts in [Some(1_700_000_000_123), Some(-1), None] {
            let original = record(ts);
            assert_eq!(decode(&encode(&original)), Ok(original));
        }
    }

    #[test]
    fn a_cut_or_foreign_record_is_refused() {
        let bytes = encode(&record(Some(5)));
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut other_version = bytes;
        other_version[0] = 2;
        assert!(decode(&other_version).unwrap_err().0.contains("version 2"));
    }
}
