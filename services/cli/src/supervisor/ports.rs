//! Where each service `up` starts serves its `/metrics`, `/healthz` and `/readyz`: consecutive
//! ports from `--metrics-port-base`, in pipeline order, on the loopback interface. Pure.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::bail;

/// The default base: the collector on 9465, then recipe-processor, forecaster, planner and
/// applier. Not 9464: that is the demo workload's port, which the example templates scrape.
pub const DEFAULT_METRICS_PORT_BASE: u16 = 9465;

/// Each service's metrics address, in the order of `services`; `None` for all when `base` is 0
/// (off). Fails when the ports would run past 65535.
pub fn metrics_addresses(base: u16, services: &[&str]) -> anyhow::Result<Vec<Option<SocketAddr>>> {
    if base == 0 {
        return Ok(vec![None; services.len()]);
    }
    let last = u32::from(base) + services.len().saturating_sub(1) as u32;
    if last > u32::from(u16::MAX) {
        bail!(
            "--metrics-port-base {base}: the {} services need ports {base} to {last}, past 65535",
            services.len()
        );
    }
    Ok((0..services.len())
        .map(|i| {
            Some(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                base + i as u16, // within u16: checked above
            )))
        })
        .collect())
}

/// Fails when `other` (another listener `up` starts, named `what`) takes one of the services'
/// metrics ports on the same or an unspecified host.
pub fn check_no_overlap(
    addresses: &[Option<SocketAddr>],
    what: &str,
    other: SocketAddr,
) -> anyhow::Result<()> {
    let clash = addresses
        .iter()
        .flatten()
        .any(|a| a.port() == other.port() && (other.ip().is_unspecified() || other.ip() == a.ip()));
    if clash {
        bail!(
            "{what} listens on {other}, one of the services' metrics ports: choose another \
             --metrics-port-base (0 turns the services' endpoints off)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE: [&str; 5] = ["a", "b", "c", "d", "e"];

    #[test]
    fn services_get_consecutive_loopback_ports_from_the_base() {
        let ports: Vec<String> = metrics_addresses(9465, &FIVE)
            .unwrap()
            .into_iter()
            .map(|a| a.unwrap().to_string())
            .collect();
        assert_eq!(
            ports,
            [
                "127.0.0.1:9465",
                "127.0.0.1:9466",
                "127.0.0.1:9467",
                "127.0.0.1:9468",
                "127.0.0.1:9469"
            ]
        );
    }

    #[test]
    fn base_zero_turns_them_off_and_a_base_too_high_is_refused() {
        assert_eq!(metrics_addresses(0, &FIVE).unwrap(), vec![None; 5]);
        assert!(metrics_addresses(65_531, &FIVE).is_ok());
        let err = metrics_addresses(65_532, &FIVE).unwrap_err().to_string();
        assert!(err.contains("65532 to 65536"), "{err}");
    }

    #[test]
    fn another_listener_on_a_metrics_port_is_refused() {
        let addresses = metrics_addresses(9465, &FIVE).unwrap();
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(check_no_overlap(&addresses, "the demo", at("127.0.0.1:9464")).is_ok());
        assert!(check_no_overlap(&addresses, "the demo", at("127.0.0.1:9467")).is_err());
        assert!(check_no_overlap(&addresses, "the demo", at("0.0.0.0:9469")).is_err());
        assert!(check_no_overlap(&addresses, "the demo", at("10.0.0.1:9467")).is_ok());
        assert!(check_no_overlap(&[None; 5], "the demo", at("127.0.0.1:9467")).is_ok());
    }
}
