//! What a running service tells its operator: Prometheus metrics, liveness and readiness.
//!
//! One [`Telemetry`] per process ([`telemetry()`]): the metric families ([`Metrics`]), the
//! loops' readiness ([`Health`]) and the per-app decision series under their bound
//! ([`AppSeries`]). Recording is always on and cheap (atomics); the HTTP server runs only where
//! the operator asked for it (`--metrics-listen`, [`MetricsArgs::start`]).

mod apps;
mod catalog;
mod health;
mod server;

use std::net::SocketAddr;
use std::sync::OnceLock;

pub use crate::loop_metrics::count_delivered;
pub use apps::AppSeries;
pub use catalog::{labels, Counters, Gauges, Histograms, Labels, Metrics, EXPORTED};
pub use health::{Health, LoopHealth, Rebuilding};
pub use prometheus_client::metrics::{counter::Counter, histogram::Histogram};

/// The process's metrics, readiness and per-app series.
pub struct Telemetry {
    pub service: String,
    pub metrics: Metrics,
    pub health: Health,
    pub apps: AppSeries,
}

impl Telemetry {
    pub fn new(service: &str, app_metrics: bool, app_metrics_max: usize) -> Self {
        let metrics = Metrics::new();
        metrics
            .build_info
            .get_or_create(&labels([
                ("service", service),
                ("version", env!("CARGO_PKG_VERSION")),
            ]))
            .set(1.0);
        Self {
            service: service.to_string(),
            metrics,
            health: Health::default(),
            apps: AppSeries::new(app_metrics, app_metrics_max),
        }
    }

    /// `presage_ready` follows the loops' readiness at each scrape.
    fn refresh_readiness(&self) {
        let ready = self.health.readiness().0;
        self.metrics
            .ready
            .get_or_create(&labels([("service", &self.service)]))
            .set(f64::from(u8::from(ready)));
    }
}

static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();

/// The process's telemetry: set up by [`MetricsArgs::start`], or with defaults (per-app series
/// on, bounded, nothing served) by the first use.
pub fn telemetry() -> &'static Telemetry {
    TELEMETRY.get_or_init(|| Telemetry::new(&process_name(), true, DEFAULT_APP_METRICS_MAX))
}

fn process_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(|name| name.trim_start_matches("presage-").to_string())
        .unwrap_or_else(|| "presage".to_string())
}

/// How many apps get per-app series unless the operator says otherwise.
pub const DEFAULT_APP_METRICS_MAX: usize = 1_000;

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// The operator's settings for metrics and health endpoints, shared by every service.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    /// Serve /metrics (Prometheus, OpenMetrics text), /healthz and /readyz on this address,
    /// e.g. 0.0.0.0:9464. Off unless set.
    #[arg(long, env = "PRESAGE_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Export per-app decision series (observed value, forecast at the lead time, model score,
    /// targets).
    #[arg(long, env = "PRESAGE_APP_METRICS", value_enum, default_value = "on")]
    pub app_metrics: Switch,
    /// At most this many apps get per-app series; updates for others are counted in
    /// presage_app_series_refused_total.
    #[arg(long, env = "PRESAGE_APP_METRICS_MAX", default_value_t = DEFAULT_APP_METRICS_MAX)]
    pub app_metrics_max: usize,
}

impl MetricsArgs {
    /// Sets up the process's telemetry for `service` and, with `--metrics-listen`, serves it.
    pub fn start(&self, service: &str) -> anyhow::Result<&'static Telemetry> {
        let fresh = Telemetry::new(
            service,
            self.app_metrics == Switch::On,
            self.app_metrics_max,
        );
        if TELEMETRY.set(fresh).is_err() {
            tracing::warn!(
                service,
                "telemetry was used before it was set up: its settings keep their defaults"
            );
        }
        let telemetry = telemetry();
        if let Some(addr) = self.metrics_listen {
            let bound = server::serve(addr, telemetry)?;
            tracing::info!(service, listen = %bound, "serving /metrics, /healthz and /readyz");
        }
        Ok(telemetry)
    }
}
