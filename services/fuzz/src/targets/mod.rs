//! Every parser that reads input from outside the process, as a fuzz target: a generator of
//! inputs (random, built from the format's own vocabulary, and mutated valid examples) and a
//! run that feeds one input to the parser and checks what must hold whatever the input.

mod avro;
mod fragment;
mod grammar;
mod prometheus;
mod sources;
mod template;
mod trace;

use crate::rng::Rng;

/// One parser under fuzzing.
pub struct Target {
    pub name: &'static str,
    /// What it reads, for the listing.
    pub reads: &'static str,
    pub generate: fn(&mut Rng) -> Vec<u8>,
    /// Feeds one input; panics when something that must hold does not.
    pub run: fn(&[u8]),
}

/// Every target, in the order they are run and reported.
pub fn all() -> Vec<Target> {
    let mut out = avro::targets();
    out.extend(template::targets());
    out.extend(grammar::targets());
    out.extend([prometheus::target(), trace::target(), fragment::target()]);
    out.extend(sources::targets());
    out
}

/// The target of this name.
pub fn by_name(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}

/// Text from bytes as a service would get it from a record or a file: lossy, so that every
/// input reaches the parser.
pub(crate) fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

/// A string of `n` characters drawn from `alphabet`, with now and then any character.
pub(crate) fn random_text(rng: &mut Rng, alphabet: &[char], n: usize) -> String {
    (0..n)
        .map(|_| {
            if rng.one_in(40) {
                char::from_u32(rng.below(0x3_0000) as u32).unwrap_or('\u{fffd}')
            } else {
                *rng.pick(alphabet)
            }
        })
        .collect()
}
