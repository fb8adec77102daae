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
