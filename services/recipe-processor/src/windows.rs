//! Event-time windows aligned to the epoch: a tumbling window is a hop whose slide equals its
//! size. Pure arithmetic, so replay assigns every sample to the same windows.

/// Start times (ms) of every window of `size` sliding by `slide` that contains `ts`, oldest
/// first. Windows are `[start, start + size)`.
pub fn windows_containing(ts: i64, size: i64, slide: i64) -> Vec<i64> {
    let mut starts: Vec<i64> = window_starts(ts, size, slide).collect();
    starts.reverse();
    starts
}

/// The same starts as [`windows_containing`], newest first, without allocating: this runs for
/// every sample and recipe.
pub fn window_starts(ts: i64, size: i64, slide: i64) -> impl Iterator<Item = i64> {
    // A time so near the edge of i64 that its window cannot be represented has no window.
    let newest = (size > 0 && slide > 0)
        .then(|| ts.checked_sub(ts.rem_euclid(slide)))
        .flatten();
    let oldest_end = ts.saturating_sub(size);
    std::iter::successors(newest, move |start| start.checked_sub(slide))
        .take_while(move |start| *start > oldest_end)
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
    fn extreme_timestamps_do_not_overflow() {
        assert_eq!(windows_containing(i64::MAX, 1_000, 1_000).len(), 1);
        assert!(windows_containing(i64::MIN + 5, 1_000, 1_000).is_empty());
    }

    #[test]
    fn negative_times_align_to_the_epoch_too() {
        assert_eq!(windows_containing(-1, 1_000, 1_000), vec![-1_000]);
    }
}
