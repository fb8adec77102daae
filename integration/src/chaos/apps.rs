//! The chaos run's applications: each replays a real demand trace from `../shared/data` at
//! accelerated time (one row per second of wall time, each app from its own offset), served as a
//! Prometheus page, with a template that scrapes it, forecasts it and scales a file-hook
//! configuration whose test command fails intermittently.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::data::shared_data;

/// Wall-clock milliseconds each trace row is served for.
pub const ROW_MS: u64 = 1_000;
/// The derived metric's window: a window closes when event time passes its end plus the
/// lateness below, or when the partition has been quiet for the idle timeout.
pub const WINDOW_MS: i64 = 2_000;
pub const RECIPE: &str = "demand";
pub const HOOK: &str = "config";
pub const MIN_REPLICAS: i64 = 1;
pub const MAX_REPLICAS: i64 = 40;
pub const BOOTSTRAP_REPLICAS: i64 = 4;

/// One application: its id, its trace (values in row order) and where it starts in it.
pub struct App {
    pub id: String,
    values: Arc<Vec<f64>>,
    offset: usize,
}

impl App {
    /// The value served `elapsed_ms` after the start.
    pub fn value_at(&self, elapsed_ms: u64) -> f64 {
        let row = (elapsed_ms / ROW_MS) as usize + self.offset;
        self.values[row % self.values.len()]
    }

    /// A unit of capacity serves this much: the trace's peak needs about 30 units.
    fn per_unit(&self) -> f64 {
        let peak = self.values.iter().copied().fold(0.0_f64, f64::max);
        (peak / 30.0).max(1.0)
    }

    /// The app's template: scrape every 500 ms, 2 s windows, forecasts 4 s ahead, one replicas
    /// policy, a file hook in `apps/<id>/config.yaml` (relative to the services' working
    /// directory) whose test fails on every fourth call.
    pub fn template(&self, feed_port: u16, outage_secs: u64) -> String {
        // Windows stay open longer than the broker outage: samples the collector spools while
        // the broker is away arrive in time for their windows.
        let lateness = outage_secs + 40;
        format!(
            r#"app: {id}
bootstrap:
  resources: {{ replicas: {BOOTSTRAP_REPLICAS} }}
dynamic_metadata:
  sources:
    - {{ id: load, kind: prometheus, url: "http://127.0.0.1:{feed_port}/apps/{id}/metrics", every: 500ms, timeout: 1s }}
  windowing: {{ allowed_lateness: {lateness}s, idle_timeout: 5s }}
  metric_recipes:
    - {{ name: {RECIPE}, from: load.demand, aggregate: avg, window: {{ tumble: 2s }} }}
  prediction_algorithms:
    - {{ target: {RECIPE}, horizon: 6s, models: [seasonal_naive, ets], seasonality: [48s], interval: 0.9, refit: 20s, history: 5m }}
  scaling_policies:
    - {{ resource: replicas, metric: {RECIPE}, per_unit: {per_unit:.1}, use: upper, lead_time: 2s, min: {MIN_REPLICAS}, max: {MAX_REPLICAS} }}
  configuration_hooks:
    - name: {HOOK}
      kind: file
      path: apps/{id}/config.yaml
      test: {{ command: [sh, -c, "n=$(cat hook-test-calls 2>/dev/null || echo 0); echo $((n+1)) > hook-test-calls; [ $((n % 4)) -ne 3 ]"], within: 5s }}
  validation_rules:
    - "resources.replicas >= {MIN_REPLICAS} && resources.replicas <= {MAX_REPLICAS}"
"#,
            id = self.id,
            per_unit = self.per_unit(),
        )
    }
}

/// `count` apps over the traces of `../shared/data`: England and Wales demand and each New York
/// airport's departures, in turn, each app from its own offset.
pub fn apps(count: usize) -> anyhow::Result<Vec<App>> {
    let mut traces: Vec<Arc<Vec<f64>>> = Vec::new();
    for (file, app) in [
        ("taylor-demand.csv", "grid-ew"),
        ("nyc-departures-15m.csv", "airport-ewr"),
        ("nyc-departures-15m.csv", "airport-jfk"),
        ("nyc-departures-15m.csv", "airport-lga"),
    ] {
        traces.push(Arc::new(read_series(&shared_data(file), app)?));
    }
    Ok((0..count)
        .map(|i| App {
            id: format!("chaos-{i:02}"),
            values: traces[i % traces.len()].clone(),
            offset: i * 97,
        })
        .collect())
}

fn read_series(path: &Path, app: &str) -> anyhow::Result<Vec<f64>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let mut values = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", path.display()))?;
        if &record[1] == app {
            values.push(record[3].parse::<f64>().with_context(|| {
                format!("{}: value {:?} is not a number", path.display(), &record[3])
            })?);
        }
    }
    anyhow::ensure!(!values.is_empty(), "{}: no rows for {app}", path.display());
    Ok(values)
}

/// Serves every app's page (`/apps/<id>/metrics`) on a thread until the process ends.
pub fn serve(apps: Arc<Vec<App>>) -> anyhow::Result<u16> {
    let server = tiny_http::Server::http("127.0.0.1:0")
        .map_err(|e| anyhow::anyhow!("starting the chaos feed: {e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .context("the chaos feed has no IP address")?
        .port();
    let started = Instant::now();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let id = request
                .url()
                .strip_prefix("/apps/")
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .map(str::to_string);
            let app = id.and_then(|id| apps.iter().find(|a| a.id == id));
            let response = match app {
                Some(app) => {
                    let value = app.value_at(started.elapsed().as_millis() as u64);
                    tiny_http::Response::from_string(format!(
                        "# TYPE demand gauge\ndemand {value}\n"
                    ))
                }
                None => tiny_http::Response::from_string("no such app\n").with_status_code(404),
            };
            let _ = request.respond(response);
        }
    });
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_apps_replay_real_traces_from_their_own_offsets() {
        let apps = apps(20).unwrap();
        assert_eq!(apps.len(), 20);
        assert_eq!(apps[7].id, "chaos-07");
        // grid-ew's first row is 22262 MW (taylor-demand.csv, 2000-06-05T00:00:00Z)
        assert_eq!(apps[0].value_at(0), 22262.0);
        assert_eq!(apps[0].value_at(999), 22262.0);
        assert_eq!(apps[0].value_at(1_000), 21756.0);
        assert_ne!(apps[4].value_at(0), apps[0].value_at(0), "another offset");
    }

    #[test]
    fn every_template_is_valid() {
        for app in apps(20).unwrap() {
            let text = app.template(40_000, 60);
            presage_template::parse(&text, &format!("{}.yaml", app.id))
                .unwrap_or_else(|e| panic!("{}: {e}", app.id));
        }
    }
}
