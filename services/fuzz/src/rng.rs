//! A tiny seeded generator (SplitMix64): the same seed gives the same cases on every machine,
//! which is what makes a failure replayable, and it needs no dependency.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator for one case of one target, independent of the cases run before it, so a
    /// failing case replays alone from (seed, target, case).
    pub fn for_case(seed: u64, target: &str, case: u64) -> Self {
        let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
        for b in target.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        let mut rng = Rng(h ^ case.wrapping_mul(0xd1b5_4a32_d192_ed03));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `pick` for string slices, whose `&&str` would not coerce where a `&str` is wanted.
    pub fn pick_str<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    /// Small numbers most of the time, the edges of i64 sometimes: where arithmetic breaks.
    pub fn interesting_i64(&mut self) -> i64 {
        match self.below(8) {
            0 => *self.pick(&[0, 1, -1, i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1]),
            1 => self.next_u64() as i64,
            2 => (self.next_u64() as i64) >> self.below(64),
            _ => self.below(4_000_000_000_000) as i64 - 1_000_000_000_000,
        }
    }

    pub fn interesting_f64(&mut self) -> f64 {
        match self.below(6) {
            0 => *self.pick(&[
                0.0,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MAX,
                f64::MIN_POSITIVE,
                1e-300,
            ]),
            1 => f64::from_bits(self.next_u64()),
            _ => (self.below(2_000_001) as f64 - 1_000_000.0) / 100.0,
        }
    }
}
