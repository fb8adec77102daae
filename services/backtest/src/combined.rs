//! A combined policy's targets: at every instant the higher of a forecast policy's target and a
//! reactive policy's, as AWS pairs predictive scaling with dynamic scaling (the forecast puts
//! capacity in place ahead of a ramp it knows; the reactive part catches what it did not).

use crate::capacity::Action;

/// The higher of the two target timelines (each in time order, each target in force until the
/// next), starting from `initial` for a part that has decided nothing yet.
pub fn higher_of(initial: i64, forecast: &[Action], reactive: &[Action]) -> Vec<Action> {
    let (mut a, mut b) = (0, 0);
    let (mut from_forecast, mut from_reactive) = (initial, initial);
    let mut out: Vec<Action> = Vec::with_capacity(forecast.len() + reactive.len());
    while a < forecast.len() || b < reactive.len() {
        let next_a = forecast.get(a).map_or(i64::MAX, |x| x.at_ms);
        let next_b = reactive.get(b).map_or(i64::MAX, |x| x.at_ms);
        let at_ms = next_a.min(next_b);
        // Both parts' decisions at one instant count together, so no passing dip is emitted.
        while forecast.get(a).is_some_and(|x| x.at_ms == at_ms) {
            from_forecast = forecast[a].target;
            a += 1;
        }
        while reactive.get(b).is_some_and(|x| x.at_ms == at_ms) {
            from_reactive = reactive[b].target;
            b += 1;
        }
        let target = from_forecast.max(from_reactive);
        if out.last().map_or(target != initial, |l| l.target != target) {
            out.push(Action { at_ms, target });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(at_ms: i64, target: i64) -> Action {
        Action { at_ms, target }
    }

    #[test]
    fn the_higher_part_holds_at_every_instant() {
        let forecast = [act(0, 5), act(30, 2), act(60, 6)];
        let reactive = [act(10, 3), act(40, 4), act(50, 1)];
        // 0: 5 (f5 r1) · 30: 3 (f2 r3) · 40: 4 · 50: 2 · 60: 6
        assert_eq!(
            higher_of(1, &forecast, &reactive),
            [act(0, 5), act(30, 3), act(40, 4), act(50, 2), act(60, 6)]
        );
    }

    #[test]
    fn simultaneous_decisions_make_one_change() {
        // At 10 the forecast drops to 2 while the reactive part rises to 5: one change to 5.
        let forecast = [act(0, 4), act(10, 2)];
        let reactive = [act(10, 5)];
        assert_eq!(higher_of(1, &forecast, &reactive), [act(0, 4), act(10, 5)]);
    }
}
