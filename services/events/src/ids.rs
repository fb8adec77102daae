//! Deterministic event ids.
//!
//! An event's id is derived from its inputs, never from a clock or a random source: a replayed
//! input then yields the same id, and consumers that drop ids they have already handled make
//! processing effectively-once on any broker.

use sha2::{Digest, Sha256};

/// Hex characters kept from the digest: 128 bits, ample against accidental collisions and
/// short enough to read in logs.
const ID_HEX_LEN: usize = 32;

/// A deterministic id for `parts`: SHA-256 over the parts joined by a 0 byte, as lowercase hex,
/// first 32 characters.
///
/// The 0-byte separator keeps `["ab", "c"]` and `["a", "bc"]` apart. It cannot keep apart parts
/// that themselves contain a 0 byte (`["a\0b"]` and `["a", "b"]`), nor `[]` and `[""]`; ids are
/// built from names, numbers and other ids, which do not.
pub fn event_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    hex::encode(&digest[..ID_HEX_LEN / 2])
}

/// Labels as one unambiguous string, for ids and series keys: each pair is written
/// `<key bytes>:<key>=<value bytes>:<value>`, pairs joined by `,`, in the order given (callers
/// pass a `BTreeMap`, so sorted by key). The byte lengths say where each key and value end, so
/// no label text can forge a boundary: `{a="1,b=2"}` is `1:a=5:1,b=2` and `{a="1",b="2"}` is
/// `1:a=1:1,1:b=1:2`. No labels encode as "", so ids of unlabelled series are what they were
/// before labels were encoded this way.
pub fn labels_key<K: AsRef<str>, V: AsRef<str>>(
    labels: impl IntoIterator<Item = (K, V)>,
) -> String {
    let mut out = String::new();
    write_labels_key(&mut out, labels);
    out
}

/// [`labels_key`] appended to `out`: for callers on a per-sample path that reuse one buffer.
pub fn write_labels_key<K: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    labels: impl IntoIterator<Item = (K, V)>,
) {
    use std::fmt::Write;
    for (i, (key, value)) in labels.into_iter().enumerate() {
        let (key, value) = (key.as_ref(), value.as_ref());
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{}:{key}={}:{value}", key.len(), value.len());
    }
}

/// The pairs of a [`labels_key`], or `None` if `text` is not one.
pub fn parse_labels_key(text: &str) -> Option<Vec<(String, String)>> {
    /// `<n>:<n bytes>` at the start of `rest`: the text and what follows it.
    fn counted(rest: &str) -> Option<(&str, &str)> {
        let (len, rest) = rest.split_once(':')?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let len: usize = len.parse().ok()?;
        Some((rest.get(..len)?, rest.get(len..)?))
    }
    let mut pairs = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if !pairs.is_empty() {
            rest = rest.strip_prefix(',')?;
        }
        let (key, after) = counted(rest)?;
        let (value, after) = counted(after.strip_prefix('=')?)?;
        pairs.push((key.to_string(), value.to_string()));
        rest = after;
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_that_join_to_the_same_text_get_different_keys() {
        let one = map(&[("a", "1,b=2")]);
        let two = map(&[("a", "1"), ("b", "2")]);
        assert_ne!(labels_key(&one), labels_key(&two));
        assert_eq!(labels_key(&one), "1:a=5:1,b=2");
        assert_eq!(labels_key(&two), "1:a=1:1,1:b=1:2");
        // A key holding what looks like a length and separator cannot forge one either.
        let three = map(&[("a=1:1,1:b", "2")]);
        assert_ne!(labels_key(&three), labels_key(&two));
    }

    #[test]
    fn every_small_label_set_over_the_separator_characters_has_its_own_key() {
        // Every map of up to two labels whose keys and values are up to two characters from
        // an alphabet of the encoding's own punctuation and digits: no two share a key, and
        // each parses back.
        let alphabet = ['a', '1', ',', '=', ':'];
        let mut texts = vec![String::new()];
        for c in alphabet {
            texts.push(c.to_string());
            for d in alphabet {
                texts.push(format!("{c}{d}"));
            }
        }
        let pairs: Vec<(&String, &String)> = texts
            .iter()
            .flat_map(|k| texts.iter().map(move |v| (k, v)))
            .collect();
        let mut maps: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
        for (i, (k1, v1)) in pairs.iter().enumerate() {
            maps.push(BTreeMap::from([((*k1).clone(), (*v1).clone())]));
            // Second labels from a stride of the pairs: all of them would be 1.3 M maps.
            for (k2, v2) in pairs.iter().skip(i % 7).step_by(7) {
                if k1 != k2 {
                    maps.push(BTreeMap::from([
                        ((*k1).clone(), (*v1).clone()),
                        ((*k2).clone(), (*v2).clone()),
                    ]));
                }
            }
        }
        let mut seen = std::collections::HashMap::new();
        for map in &maps {
            let key = labels_key(map);
            if let Some(other) = seen.insert(key.clone(), map) {
                assert_eq!(other, map, "{key:?} is the key of two label sets");
            }
            let parsed: BTreeMap<String, String> = parse_labels_key(&key)
                .expect("parses")
                .into_iter()
                .collect();
            assert_eq!(&parsed, map);
        }
        assert!(seen.len() > 50_000, "{} label sets", seen.len());
    }

    #[test]
    fn no_labels_is_the_empty_string() {
        assert_eq!(labels_key(BTreeMap::<String, String>::new()), "");
    }

    #[test]
    fn a_key_parses_back_to_its_labels_and_anything_else_is_refused() {
        for pairs in [
            vec![],
            vec![("a", "1,b=2")],
            vec![("a", "1"), ("b", "2")],
            vec![("", ""), ("é", "=:,")],
        ] {
            let labels = map(&pairs);
            let parsed = parse_labels_key(&labels_key(&labels)).expect("parses");
            assert_eq!(parsed.into_iter().collect::<BTreeMap<_, _>>(), labels);
        }
        for bad in [
            "a=1",
            "1:a",
            "1:a=",
            "1:a=2:1",
            "1:a=1:1,",
            "x:a=1:1",
            "1:a=1:1;1:b=1:2",
            "+1:a=1:1",
        ] {
            assert_eq!(parse_labels_key(bad), None, "{bad:?}");
        }
        // A length that cuts a multi-byte character is refused, not a panic.
        assert_eq!(parse_labels_key("1:é=1:x"), None);
    }
}
