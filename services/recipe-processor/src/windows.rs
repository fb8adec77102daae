//! Event-time windows aligned to the epoch: a tumbling window is a hop whose slide equals its
//! size. Pure arithmetic, so replay assigns every sample to the same windows.

/// Start times (ms) of every window of `size` sliding by `slide` that contains `ts`, oldest
/// first. Windows are `[start, start + size)`.
pub fn windows_containing(ts: i64, size: i64, slide: i64) -> Vec<i64> {
    if size <= 0 || slide <= 0 {
        return Vec::new();
    }
    let newest = ts.div_euclid(slide) * slide;
    let mut starts = Vec::new();
    let mut start = newest;
    while start > ts - size {
        starts.push(start);
        start -= slide;
    }
    starts.reverse();
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tumbling_window_holds_each_sample_once() {
        assert_eq!(windows_containing(1_500, 1_000, 1_000), vec![1_000]);
        assert_eq!(windows_containing(1_000, 1_000, 1_000), vec![1_000]);
        assert_eq!(windows_containing(999, 1_000, 1_000), vec![0]);
    }

    #[test]
    fn a_hopping_window_holds_each_sample_size_over_slide_times() {
        assert_eq!(
            windows_containing(7_500, 5_000, 1_000),
            vec![3_000, 4_000, 5_000, 6_000, 7_000]
        );
    }

    #[test]
    fn negative_times_align_to_the_epoch_too() {
        assert_eq!(windows_containing(-1, 1_000, 1_000), vec![-1_000]);
    }
}
