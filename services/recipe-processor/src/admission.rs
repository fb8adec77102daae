//! What a raw sample must be to be used: a finite number, with bounded labels, of a series its
//! app (and each recipe it feeds) still has room for. Pure: the processor asks, the shell
//! dead-letters what is refused.
//!
//! Memory is what the bounds protect. A window holds one row per sample, so the samples an app
//! can hold are bounded by its series, and a series is only as large as its labels. A refused
//! sample costs nothing: it is never stored, and no series is remembered for it.

use std::collections::BTreeMap;

use presage_events::RawSample;

/// Why a sample was not used. Each becomes a dead letter of its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    /// Its event time is far ahead of the time it was received (a broken clock).
    AheadOfClock,
    /// Its value is NaN or infinite: it would turn its whole window's value into one.
    NonFinite,
    /// Too many labels, or a label key or value too long.
    Labels,
    /// A new series past its app's or recipe's series limit.
    Series,
}

impl Refusal {
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::AheadOfClock => "ahead_of_clock",
            Refusal::NonFinite => "non_finite",
            Refusal::Labels => "label_limit",
            Refusal::Series => "series_limit",
        }
    }
}

/// Bounds on what one app may make the recipe-processor hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct series of one app in its open windows, over all its recipes.
    pub series_per_app: usize,
    /// Distinct series feeding one recipe of one app: lower than the app's, so one recipe whose
    /// labels explode leaves room for the app's other recipes.
    pub series_per_recipe: usize,
    pub labels_per_sample: usize,
    pub label_key_bytes: usize,
    pub label_value_bytes: usize,
    /// Bytes of all of one sample's label keys and values together: what a row of a window
    /// costs beyond its fixed columns (the series key holds them all once more).
    pub label_bytes_per_sample: usize,
}

impl Default for Limits {
    /// 10,000 series per app is ten times what a service's own scrape usually carries (a few
    /// hundred to a thousand series), and bounds an app's held rows to 10,000 per scrape
    /// interval of its longest window. Half of it per recipe. 64 labels, 256-byte keys and
    /// 4 KiB values are far past what exporters emit (Prometheus names are short identifiers;
    /// values are routes, codes, versions); 16 KiB for all of a sample's labels together keeps
    /// a row of a window under about 33 KiB however they are spread.
    fn default() -> Self {
        Self {
            series_per_app: 10_000,
            series_per_recipe: 5_000,
            labels_per_sample: 64,
            label_key_bytes: 256,
            label_value_bytes: 4 * 1024,
            label_bytes_per_sample: 16 * 1024,
        }
    }
}

/// The reason a sample's value or labels are refused, if they are.
pub fn check_sample(sample: &RawSample, limits: &Limits) -> Option<(Refusal, String)> {
    let series = || {
        format!(
            "{}.{} {}",
            sample.source,
            sample.metric,
            shown(&sample.labels)
        )
    };
    if !sample.value.is_finite() {
        return Some((
            Refusal::NonFinite,
            format!(
                "{} of app {} at {}: value {} is not a finite number",
                series(),
                sample.app,
                sample.event_time_ms,
                sample.value
            ),
        ));
    }
    if sample.labels.len() > limits.labels_per_sample {
        return Some((
            Refusal::Labels,
            format!(
                "{}.{} of app {}: {} labels, more than the {} a sample may have",
                sample.source,
                sample.metric,
                sample.app,
                sample.labels.len(),
                limits.labels_per_sample
            ),
        ));
    }
    let total: usize = sample.labels.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > limits.label_bytes_per_sample {
        return Some((
            Refusal::Labels,
            format!(
                "{}.{} of app {}: its labels are {total} bytes in all, more than {}",
                sample.source, sample.metric, sample.app, limits.label_bytes_per_sample
            ),
        ));
    }
    for (key, value) in &sample.labels {
        let (what, len, limit) = if key.len() > limits.label_key_bytes {
            ("key", key.len(), limits.label_key_bytes)
        } else if value.len() > limits.label_value_bytes {
            ("value", value.len(), limits.label_value_bytes)
        } else {
            continue;
        };
        return Some((
            Refusal::Labels,
            format!(
                "{}.{} of app {}: label {:?}'s {what} is {len} bytes, more than {limit}",
                sample.source,
                sample.metric,
                sample.app,
                clipped(key, 64)
            ),
        ));
    }
    None
}

/// Labels as they appear in a reason: Prometheus style, each value clipped, at most 8 shown.
pub fn shown(labels: &BTreeMap<String, String>) -> String {
    let mut text: Vec<String> = labels
        .iter()
        .take(8)
        .map(|(k, v)| format!("{}={:?}", clipped(k, 64), clipped(v, 64)))
        .collect();
    if labels.len() > 8 {
        text.push(format!("… {} more", labels.len() - 8));
    }
    format!("{{{}}}", text.join(","))
}

fn clipped(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A series' identity for counting: a 64-bit hash of source, metric and labels. Two series
/// sharing a hash would count as one, which only ever admits a series; at 10,000 series the
/// odds are about 1 in 10^11.
pub fn series_hash(hasher: &ahash::RandomState, sample: &RawSample) -> u64 {
    hasher.hash_one((&sample.source, &sample.metric, &sample.labels))
}

/// The distinct series seen recently, up to a limit. A series not seen for `horizon` (the
/// longest window plus the allowed lateness) is in no open window, and is forgotten at the next
/// sweep. Memory: one entry (hash, last seen) per admitted series, never more than `limit`.
#[derive(Debug, Default)]
pub struct SeriesBook {
    last_seen: std::collections::HashMap<u64, i64, ahash::RandomState>,
    /// No sweep before this event time: nothing could be forgotten earlier, or a sweep ran
    /// recently (so a full book costs at most one pass per eighth of the horizon).
    next_sweep: i64,
}

impl SeriesBook {
    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last_seen.is_empty()
    }

    /// Whether the series has room: it is known, or there is room for one more (after
    /// forgetting series older than `horizon` before `now`, if that can help).
    pub fn has_room(&mut self, series: u64, now: i64, horizon: i64, limit: usize) -> bool {
        if self.last_seen.contains_key(&series) || self.last_seen.len() < limit {
            return true;
        }
        if now < self.next_sweep {
            return false;
        }
        let forget_before = now.saturating_sub(horizon);
        self.last_seen.retain(|_, seen| *seen >= forget_before);
        let oldest = self.last_seen.values().min().copied().unwrap_or(now);
        self.next_sweep = oldest
            .saturating_add(horizon)
            .max(now.saturating_add(horizon / 8).max(now.saturating_add(1)));
        self.last_seen.len() < limit
    }

    /// Records a known series as seen at `ts`; false if the series is not known (one lookup:
    /// the path every sample of an admitted series takes).
    pub fn touch(&mut self, series: u64, ts: i64) -> bool {
        match self.last_seen.get_mut(&series) {
            Some(seen) => {
                *seen = (*seen).max(ts);
                true
            }
            None => false,
        }
    }

    /// Records the series as seen at `ts` (call only after [`Self::has_room`] said yes).
    pub fn note(&mut self, series: u64, ts: i64) {
        let seen = self.last_seen.entry(series).or_insert(ts);
        *seen = (*seen).max(ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(value: f64, labels: &[(&str, &str)]) -> RawSample {
        RawSample {
            event_id: "e".into(),
            app: "shop".into(),
            template_version: "v".into(),
            source: "api".into(),
            metric: "rps".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
            event_time_ms: 60_000,
            lineage: String::new(),
        }
    }

    #[test]
    fn non_finite_values_are_refused_with_the_series_and_value_named() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let (kind, reason) =
                check_sample(&sample(value, &[("code", "500")]), &Limits::default()).unwrap();
            assert_eq!(kind, Refusal::NonFinite);
            assert!(
                reason.contains("api.rps {code=\"500\"} of app shop at 60000"),
                "{reason}"
            );
            assert!(reason.contains(&format!("value {value}")), "{reason}");
        }
        assert_eq!(check_sample(&sample(-0.0, &[]), &Limits::default()), None);
    }

    #[test]
    fn label_count_and_lengths_are_bounded() {
        let limits = Limits {
            labels_per_sample: 2,
            label_key_bytes: 4,
            label_value_bytes: 8,
            ..Limits::default()
        };
        let ok = sample(1.0, &[("code", "12345678"), ("b", "")]);
        assert_eq!(check_sample(&ok, &limits), None);
        let many = sample(1.0, &[("a", ""), ("b", ""), ("c", "")]);
        let (kind, reason) = check_sample(&many, &limits).unwrap();
        assert_eq!(kind, Refusal::Labels);
        assert!(reason.contains("3 labels, more than the 2"), "{reason}");
        let long_key = sample(1.0, &[("codes", "")]);
        let (_, reason) = check_sample(&long_key, &limits).unwrap();
        assert!(
            reason.contains("label \"codes\"'s key is 5 bytes, more than 4"),
            "{reason}"
        );
        let long_value = sample(1.0, &[("code", "123456789")]);
        let (_, reason) = check_sample(&long_value, &limits).unwrap();
        assert!(reason.contains("value is 9 bytes, more than 8"), "{reason}");
        let total = Limits {
            label_bytes_per_sample: 12,
            ..limits
        };
        assert_eq!(
            check_sample(&sample(1.0, &[("code", "12345678")]), &total),
            None
        );
        let (kind, reason) =
            check_sample(&sample(1.0, &[("code", "12345678"), ("b", "")]), &total).unwrap();
        assert_eq!(kind, Refusal::Labels);
        assert!(
            reason.contains("labels are 13 bytes in all, more than 12"),
            "{reason}"
        );
    }

    #[test]
    fn a_full_book_refuses_new_series_keeps_known_ones_and_forgets_old_ones() {
        let mut book = SeriesBook::default();
        let horizon = 1_000;
        for series in 0..3 {
            assert!(book.has_room(series, 0, horizon, 3));
            book.note(series, 0);
        }
        assert!(!book.has_room(3, 10, horizon, 3), "full");
        assert!(
            book.has_room(1, 10, horizon, 3),
            "a known series still has room"
        );
        book.note(1, 500);
        // At 1,200, series 0 and 2 (last seen at 0) are past the horizon; 1 is not.
        assert!(book.has_room(3, 1_200, horizon, 3));
        book.note(3, 1_200);
        assert_eq!(book.len(), 2);
    }

    #[test]
    fn a_full_book_does_not_sweep_on_every_refused_series() {
        let mut book = SeriesBook::default();
        for series in 0..2 {
            book.note(series, 100);
        }
        assert!(!book.has_room(9, 200, 800, 2));
        // Nothing can be forgotten before 100 + 800: no sweep is due, the answer stays no.
        assert_eq!(book.next_sweep, 900);
        assert!(!book.has_room(9, 899, 800, 2));
        assert!(book.has_room(9, 901, 800, 2));
    }
}
