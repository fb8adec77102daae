//! The faults of a chaos run, decided up front from a seed: the same seed and length give the
//! same schedule, so a failing run can be replayed.

use std::time::Duration;

/// The stages that run as several instances in one consumer group.
pub const CONSUMING: &[&str] = &["recipe-processor", "forecaster", "planner", "applier"];
/// Every service; the collector runs as one instance (it does not consume).
pub const SERVICES: &[&str] = &[
    "collector",
    "recipe-processor",
    "forecaster",
    "planner",
    "applier",
];
/// Instances of each consuming stage at the start.
pub const INSTANCES: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL one instance, started again `restart_after` later.
    Kill {
        service: &'static str,
        instance: usize,
        restart_after: Duration,
    },
    /// Start one more instance of a consuming stage (the group rebalances)...
    AddInstance { service: &'static str },
    /// ...and stop it cleanly later (it rebalances again).
    RemoveInstance { service: &'static str },
    /// Stop the broker for `down`, then start it again on the same data and port.
    BrokerOutage { down: Duration },
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill { .. } => "sigkill",
            Fault::AddInstance { .. } => "instance_started",
            Fault::RemoveInstance { .. } => "instance_stopped",
            Fault::BrokerOutage { .. } => "broker_outage",
        }
    }
}

/// splitmix64: a seeded, reproducible stream of numbers. Written here rather than taken from a
/// crate because the schedule must not change when a dependency's algorithm does.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low).max(1)
    }
}

/// The schedule: (offset from the start of the load, fault), in time order. Every service is
/// killed at least `kills_each` times, the broker is away once for `outage` (in the first half
/// of the load, so the rest shows the recovery), and each consuming stage gains and loses an
/// extra instance once.
pub fn schedule(
    seed: u64,
    load: Duration,
    outage: Duration,
    kills_each: usize,
) -> Vec<(Duration, Fault)> {
    let mut rng = Seeded::new(seed);
    let load_ms = load.as_millis() as u64;
    let at = |rng: &mut Seeded, from: f64, to: f64| {
        Duration::from_millis(
            rng.between((load_ms as f64 * from) as u64, (load_ms as f64 * to) as u64),
        )
    };
    let mut faults = Vec::new();
    faults.push((
        at(&mut rng, 0.15, 0.35),
        Fault::BrokerOutage { down: outage },
    ));
    for &service in SERVICES {
        let instances = if service == "collector" { 1 } else { INSTANCES };
        for _ in 0..kills_each {
            let when = at(&mut rng, 0.05, 0.85);
            let instance = rng.between(0, instances as u64) as usize;
            let restart_after = Duration::from_millis(rng.between(500, 4_000));
            faults.push((
                when,
                Fault::Kill {
                    service,
                    instance,
                    restart_after,
                },
            ));
        }
    }
    for &service in CONSUMING {
        let added = at(&mut rng, 0.05, 0.6);
        let removed = added + Duration::from_millis(rng.between(load_ms / 10, load_ms / 4));
        faults.push((added, Fault::AddInstance { service }));
        faults.push((removed.min(load), Fault::RemoveInstance { service }));
    }
    faults.sort_by_key(|(when, _)| *when);
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let load = Duration::from_secs(180);
        let outage = Duration::from_secs(60);
        assert_eq!(schedule(7, load, outage, 3), schedule(7, load, outage, 3));
        assert_ne!(schedule(7, load, outage, 3), schedule(8, load, outage, 3));
    }

    #[test]
    fn every_service_is_killed_at_least_three_times_and_the_broker_goes_away_once() {
        let faults = schedule(42, Duration::from_secs(120), Duration::from_secs(60), 3);
        for service in SERVICES {
            let kills = faults
                .iter()
                .filter(|(_, f)| matches!(f, Fault::Kill { service: s, .. } if s == service))
                .count();
            assert_eq!(kills, 3, "{service}");
        }
        let outages: Vec<&Fault> = faults
            .iter()
            .map(|(_, f)| f)
            .filter(|f| matches!(f, Fault::BrokerOutage { .. }))
            .collect();
        assert_eq!(
            outages,
            vec![&Fault::BrokerOutage {
                down: Duration::from_secs(60)
            }]
        );
        for service in CONSUMING {
            let added = faults
                .iter()
                .position(|(_, f)| f == &Fault::AddInstance { service });
            let removed = faults
                .iter()
                .position(|(_, f)| f == &Fault::RemoveInstance { service });
            assert!(
                added < removed,
                "{service}: an extra instance is started before it stops"
            );
        }
        assert!(faults.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
        assert!(faults.iter().all(|(at, _)| *at <= Duration::from_secs(120)));
    }
}
