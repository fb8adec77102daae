//! Mutations of a valid input, the way corruption and hostility change bytes: flipped bits,
//! truncation, splices of another valid input, inserted and repeated runs, and numbers made
//! huge (an Avro length or count, a YAML repetition). Each mutation keeps most of the input, so
//! the parser gets past its first check and the deeper paths are reached.

use crate::rng::Rng;

/// Bytes that, written over an Avro varint, ask for a huge or negative length or count.
const HUGE_VARINTS: &[&[u8]] = &[
    &[0xfe, 0xff, 0xff, 0xff, 0x0f],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
    ],
    &[0x7f],
    &[0x01],
];

/// Applies 1 to 4 mutations; `other` is a second valid input to splice from.
pub fn bytes(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, &mut out, other);
    }
    out
}

fn mutate_once(rng: &mut Rng, out: &mut Vec<u8>, other: &[u8]) {
    let at = rng.below(out.len() + 1);
    match rng.below(8) {
        0 if !out.is_empty() => {
            let i = rng.below(out.len());
            out[i] ^= 1 << rng.below(8);
        }
        1 => out.truncate(at),
        2 => {
            // Our prefix, then the other input from some point on.
            let from = rng.below(other.len() + 1);
            out.truncate(at);
            out.extend_from_slice(&other[from..]);
        }
        3 => {
            let huge = rng.pick(HUGE_VARINTS);
            let end = (at + huge.len()).min(out.len());
            out.splice(at..end, huge.iter().copied());
        }
        4 => {
            let n = 1 + rng.below(8);
            let noise = rng.bytes(n);
            out.splice(at..at, noise);
        }
        5 if !out.is_empty() => {
            // Repeat a run, as a list with its items written many times.
            let start = rng.below(out.len());
            let len = 1 + rng.below((out.len() - start).min(64));
            let run = out[start..start + len].to_vec();
            for _ in 0..1 + rng.below(16) {
                out.splice(at..at, run.iter().copied());
            }
        }
        6 if !out.is_empty() => {
            let start = rng.below(out.len());
            let len = rng.below((out.len() - start).min(32) + 1);
            out.drain(start..start + len);
        }
        _ if !out.is_empty() => {
            let i = rng.below(out.len());
            out[i] = *rng.pick(&[0, 0xff, 0x7f, 0x80, b'"', b'\n', b'{', b'[', b'*', b'&']);
        }
        _ => out.push(rng.byte()),
    }
}

/// Text mutations that respect lines, for line-oriented formats (YAML, CSV, Prometheus):
/// lines dropped, repeated, swapped, indented or with a token from `vocabulary` put in.
pub fn lines(rng: &mut Rng, text: &str, vocabulary: &[&str]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + rng.below(4) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = rng.below(lines.len());
        match rng.below(7) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let line = lines[i].clone();
                lines.insert(i, line);
            }
            2 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3 => lines[i].insert_str(0, rng.pick_str(&["  ", "\t", "- ", "? ", "    "])),
            4 => {
                let line = &mut lines[i];
                let at = char_boundary(line, rng.below(line.len() + 1));
                line.insert_str(at, rng.pick_str(vocabulary));
            }
            5 => {
                let line = &mut lines[i];
                let at = char_boundary(line, rng.below(line.len() + 1));
                line.truncate(at);
            }
            _ => {
                let extra = rng.pick(vocabulary).to_string();
                lines.insert(i, extra);
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn char_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}
