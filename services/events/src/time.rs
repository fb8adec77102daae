//! Event time against the clock of the process that received the event. Stages keep "the newest
//! time seen" (watermarks, the planner's last decision, the applier's newest directive): one
//! event stamped far in the future would hold that mark there and silently stall everything
//! after it, so a stage refuses (dead-letters) an event too far ahead of its receipt.

/// How far ahead of the receiving clock an event time may be: clocks drift, not by this much.
pub const MAX_AHEAD_MS: i64 = 300_000;

/// `Some(how far ahead)` when `event_ms` is more than [`MAX_AHEAD_MS`] after `received_ms`.
pub fn too_far_ahead(event_ms: i64, received_ms: i64) -> Option<i64> {
    let ahead = event_ms.saturating_sub(received_ms);
    (ahead > MAX_AHEAD_MS).then_some(ahead)
}

/// The refusal, in words, for the dead-letter topic.
pub fn ahead_reason(what: &str, event_ms: i64, ahead_ms: i64) -> String {
    format!(
        "{what} {event_ms} is {ahead_ms} ms ahead of the clock that received it (at most \
         {MAX_AHEAD_MS} ms): refused so it cannot hold back every later event"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_minutes_ahead_is_tolerated_and_more_is_not() {
        assert_eq!(too_far_ahead(1_300_000, 1_000_000), None);
        assert_eq!(too_far_ahead(1_300_001, 1_000_000), Some(300_001));
        assert_eq!(too_far_ahead(i64::MAX, i64::MIN), Some(i64::MAX));
        assert_eq!(too_far_ahead(0, 1_000_000), None, "the past is not refused");
    }
}
