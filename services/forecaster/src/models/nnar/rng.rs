//! splitmix64: the ensemble's initial weights, row subsamples and bootstrap draws. Written here
//! (a dozen lines) rather than taken from `rand` because the forecast must be a pure function
//! of the history, bit for bit, across versions of any dependency: `rand` does not promise a
//! stable stream for its generators' conveniences (ranges, shuffles).

pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-half_width, half_width).
    pub fn symmetric(&mut self, half_width: f64) -> f64 {
        (2.0 * self.unit() - 1.0) * half_width
    }

    /// Uniform in 0..n (n > 0); the modulo bias is below 2^-40 for any n this model sees.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_splitmix64s_reference_stream() {
        // First outputs for seed 0 of the reference C implementation (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut r = SplitMix64::new(7);
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(5) < 5);
            assert!(r.symmetric(0.5).abs() <= 0.5);
        }
    }
}
