//! `decode` refuses bad payloads with an error that says what is wrong, and never panics.

mod common;

use presage_events::{
    decode, encode, schema_name_of, CodecError, DerivedMetric, Forecast, RawSample,
};

/// A small deterministic generator, so "random" failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next_byte(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u8
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_byte()).collect()
    }
}

fn zigzag_varint(value: i64, out: &mut Vec<u8>) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn truncated_header_is_too_short() {
    let bytes = encode(&common::raw_sample()).unwrap();
    for len in 0..10 {
        assert_eq!(
            decode::<RawSample>(&bytes[..len]),
            Err(CodecError::TooShort { len }),
            "cut at {len}"
        );
    }
}

#[test]
fn truncated_datum_is_a_bad_datum() {
    let bytes = encode(&common::raw_sample()).unwrap();
    for len in 10..bytes.len() {
        match decode::<RawSample>(&bytes[..len]) {
            Err(CodecError::BadDatum { schema, .. }) => assert_eq!(schema, "presage.RawSample"),
            other => panic!("cut at {len}: {other:?}"),
        }
    }
}

#[test]
fn wrong_marker_is_refused() {
    let mut bytes = encode(&common::raw_sample()).unwrap();
    bytes[0] = 0x00;
    assert_eq!(
        decode::<RawSample>(&bytes),
        Err(CodecError::BadMarker {
            found: [0x00, 0x01]
        })
    );
    bytes[0] = 0xC3;
    bytes[1] = 0x02; // a future single-object version
    assert!(matches!(
        decode::<RawSample>(&bytes),
        Err(CodecError::BadMarker { .. })
    ));
}

#[test]
fn another_events_payload_names_the_schema_it_got() {
    let bytes = encode(&common::raw_sample()).unwrap();
    let err = decode::<Forecast>(&bytes).unwrap_err();
    assert_eq!(
        err,
        CodecError::WrongSchema {
            expected: "presage.Forecast",
            found: "presage.RawSample",
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("presage.RawSample") && message.contains("presage.Forecast"),
        "{message}"
    );
}

#[test]
fn unknown_fingerprint_is_refused_with_the_fingerprint() {
    let mut bytes = encode(&common::raw_sample()).unwrap();
    bytes[2..10].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let err = decode::<RawSample>(&bytes).unwrap_err();
    assert_eq!(
        err,
        CodecError::UnknownSchema {
            expected: "presage.RawSample",
            fingerprint: [1, 2, 3, 4, 5, 6, 7, 8],
        }
    );
    assert!(err.to_string().contains("0102030405060708"), "{err}");
    assert_eq!(schema_name_of(&bytes), None);
}

#[test]
fn random_garbage_is_refused() {
    let garbage = XorShift(0x9E37_79B9_7F4A_7C15).bytes(64);
    assert_ne!(garbage[..2], [0xC3, 0x01], "pick another seed");
    assert!(matches!(
        decode::<RawSample>(&garbage),
        Err(CodecError::BadMarker { .. })
    ));
    assert_eq!(schema_name_of(&garbage), None);
}

#[test]
fn garbage_behind_a_valid_header_is_a_bad_datum() {
    let header = encode(&common::raw_sample()).unwrap()[..10].to_vec();
    let mut payload = header.clone();
    payload.extend([0xFF; 16]); // a varint that never ends
    assert!(matches!(
        decode::<RawSample>(&payload),
        Err(CodecError::BadDatum { .. })
    ));
    // The header alone names the schema even though the datum is bad.
    assert_eq!(schema_name_of(&payload), Some("presage.RawSample"));

    let mut trailing = encode(&common::raw_sample()).unwrap();
    trailing.push(0);
    match decode::<RawSample>(&trailing) {
        Err(CodecError::BadDatum { reason, .. }) => {
            assert!(reason.contains("trailing"), "{reason}")
        }
        other => panic!("trailing byte: {other:?}"),
    }
}

#[test]
fn hostile_lengths_are_refused_without_allocating_them() {
    // An array that claims 536 million items: apache-avro would reserve ~30 GB for it and abort
    // the process. The payload is 90-odd bytes.
    let mut bytes = encode(&common::derived_metric_sparse()).unwrap();
    assert_eq!(bytes.pop(), Some(0), "the lineage array's end marker");
    zigzag_varint(536_000_000, &mut bytes);
    match decode::<DerivedMetric>(&bytes) {
        Err(CodecError::BadDatum { reason, .. }) => assert!(reason.contains("items"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // A first string (event_id) that claims 500 MB.
    let mut bytes = encode(&common::raw_sample()).unwrap()[..10].to_vec();
    zigzag_varint(500_000_000, &mut bytes);
    bytes.extend(b"abc");
    assert!(matches!(
        decode::<RawSample>(&bytes),
        Err(CodecError::BadDatum { .. })
    ));
}

#[test]
fn corrupted_payloads_never_panic() {
    let payloads = [
        encode(&common::raw_sample()).unwrap(),
        encode(&common::forecast()).unwrap(),
        encode(&common::apply_outcome()).unwrap(),
        encode(&common::dead_letter()).unwrap(),
    ];
    let mut rng = XorShift(42);
    for payload in &payloads {
        for _ in 0..500 {
            let mut bytes = payload.clone();
            let at = 10 + usize::from(rng.next_byte()) % (bytes.len() - 10);
            bytes[at] = rng.next_byte();
            // Any result is fine; reaching the next iteration is the test.
            let _ = decode::<RawSample>(&bytes);
            let _ = decode::<Forecast>(&bytes);
            let _ = decode::<presage_events::ApplyOutcome>(&bytes);
            let _ = decode::<presage_events::DeadLetter>(&bytes);
        }
        // Random bodies behind each valid header.
        for len in 0..200 {
            let mut bytes = payload[..10].to_vec();
            bytes.extend(rng.bytes(len));
            let _ = decode::<RawSample>(&bytes);
            let _ = decode::<Forecast>(&bytes);
            let _ = decode::<presage_events::ApplyOutcome>(&bytes);
            let _ = decode::<presage_events::DeadLetter>(&bytes);
        }
    }
}

#[test]
fn each_failure_has_its_own_error() {
    let good = encode(&common::raw_sample()).unwrap();
    let mut bad_marker = good.clone();
    bad_marker[0] = 0;
    let mut unknown = good.clone();
    unknown[2] ^= 0xFF;
    let mut bad_datum = good[..10].to_vec();
    bad_datum.push(0xFF);

    let errors = [
        decode::<RawSample>(&good[..5]).unwrap_err(),
        decode::<RawSample>(&bad_marker).unwrap_err(),
        decode::<Forecast>(&good).unwrap_err(),
        decode::<RawSample>(&unknown).unwrap_err(),
        decode::<RawSample>(&bad_datum).unwrap_err(),
    ];
    let kinds: Vec<_> = errors.iter().map(std::mem::discriminant).collect();
    let distinct: std::collections::HashSet<_> = kinds.iter().collect();
    assert_eq!(distinct.len(), kinds.len());
}
