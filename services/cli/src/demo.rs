//! The demo workload: a Prometheus page whose `grid_demand_mw` gauge replays a real demand
//! trace (`timestamp,app,metric,value` CSV), one row every `seconds_per_row` of wall time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoSettings {
    /// Where the demo workload listens.
    #[arg(long = "demo-listen", default_value = "127.0.0.1:9464")]
    pub listen: String,
    /// The demand trace to replay.
    #[arg(long = "demo-data", default_value = "deploy/demo/taylor-demand.csv")]
    pub data: PathBuf,
    /// Wall-clock seconds each row of the trace is served for.
    #[arg(long = "demo-seconds-per-row", default_value_t = 1)]
    pub seconds_per_row: u64,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub settings: DemoSettings,
}

/// Reads the `value` column of a long-format trace.
pub fn read_trace(path: &Path) -> anyhow::Result<Vec<f64>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = headers
        .iter()
        .position(|h| h == "value")
        .with_context(|| format!("{}: no `value` column", path.display()))?;
    let mut values = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", path.display(), line + 2))?;
        let value = record
            .get(column)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| {
                format!(
                    "{}: row {}: value is not a number",
                    path.display(),
                    line + 2
                )
            })?;
        values.push(value);
    }
    if values.is_empty() {
        bail!("{}: no rows", path.display());
    }
    Ok(values)
}

/// The Prometheus page for the row in force at `now_secs`.
pub fn page(values: &[f64], now_secs: u64, seconds_per_row: u64) -> String {
    let row = (now_secs / seconds_per_row.max(1)) as usize % values.len();
    format!(
        "# HELP grid_demand_mw Electricity demand replayed from a recorded trace.\n# TYPE grid_demand_mw gauge\ngrid_demand_mw {}\n",
        values[row]
    )
}

pub struct DemoServer {
    server: Arc<tiny_http::Server>,
}

impl DemoServer {
    pub fn start(settings: &DemoSettings) -> anyhow::Result<Self> {
        let values = read_trace(&settings.data)?;
        let server = Arc::new(
            tiny_http::Server::http(&settings.listen)
                .map_err(|e| anyhow::anyhow!("listening on {}: {e}", settings.listen))?,
        );
        let serving = server.clone();
        let seconds_per_row = settings.seconds_per_row;
        std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let _ = request.respond(tiny_http::Response::from_string(page(
                    &values,
                    now,
                    seconds_per_row,
                )));
            }
        });
        Ok(Self { server })
    }

    pub fn address(&self) -> String {
        self.server
            .server_addr()
            .to_ip()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }
}

pub fn serve_forever(args: &DemoArgs) -> anyhow::Result<()> {
    let server = DemoServer::start(&args.settings)?;
    println!("demo workload: http://{}/metrics", server.address());
    let shutdown = presage_runner::Shutdown::on_signals()?;
    while !shutdown.requested() {
        shutdown.sleep(std::time::Duration::from_secs(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_serves_the_row_in_force() {
        let values = [10.0, 20.0, 30.0];
        assert!(page(&values, 0, 1).contains("grid_demand_mw 10\n"));
        assert!(page(&values, 4, 2).contains("grid_demand_mw 30\n"));
        assert!(page(&values, 7, 1).contains("grid_demand_mw 20\n"));
    }
}
