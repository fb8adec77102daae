//! The pipeline fixture shared by the end-to-end tests: a broker, a Prometheus page that replays
//! a slice of the real Taylor demand trace, the `grid-demand` example template pointed at them,
//! and a working directory for the application's configuration file.

#![allow(dead_code)]

pub mod applier;
pub mod planner_replay;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use presage_events::{event_id, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::data::{repo_file, trace_slice};
use presage_integration::services::{allow_templates, Services};
use presage_runner::templates::publish_templates;

/// Four half-hours of the Monday-morning ramp (06:00–07:30, 2000-06-05), in MW. Replayed as a
/// cycle one value per wall-clock second, so every one-second window holds one value and the
/// template's four-second season repeats exactly.
pub const SLICE_START: &str = "2000-06-05T06:00:00Z";
pub const SEASON: usize = 4;
pub const PER_UNIT: f64 = 2000.0;

pub struct Pipeline {
    pub broker: TestBroker,
    pub services: Services,
    pub workdir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub demand: Vec<f64>,
    _workload: Workload,
}

/// A Prometheus page replaying the slice, one value per wall-clock second.
pub struct Workload {
    pub url: String,
    pub demand: Vec<f64>,
    _server: Arc<tiny_http::Server>,
}

impl Workload {
    pub fn start() -> Self {
        let demand = trace_slice("taylor-demand.csv", SLICE_START, SEASON);
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("http server"));
        let url = format!(
            "http://{}/metrics",
            server.server_addr().to_ip().expect("ip address")
        );
        let serving = server.clone();
        let values = demand.clone();
        std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_millis() as u64;
                let second = now_ms / 1000;
                let value = values[second as usize % values.len()];
                // An explicit sample time (mid-second) pins each value to its window.
                let page = format!(
                    "# TYPE grid_demand_mw gauge\ngrid_demand_mw{{region=\"ew\"}} {value} {}\n",
                    second * 1000 + 500
                );
                let _ = request.respond(tiny_http::Response::from_string(page));
            }
        });
        Self {
            url,
            demand,
            _server: server,
        }
    }

    /// The `grid-demand` example template, scraping this workload and writing `config_path`.
    pub fn write_template(&self, dir: &Path, config_path: &Path) -> PathBuf {
        let template = std::fs::read_to_string(repo_file("templates/grid-demand.yaml"))
            .expect("example template")
            .replace("http://127.0.0.1:9464/metrics", &self.url)
            .replace(
                "var/grid-demand/config.yaml",
                &config_path.display().to_string(),
            );
        let template_path = dir.join("grid-demand.yaml");
        std::fs::write(&template_path, template).expect("write template");
        template_path
    }
}

/// The target the template's policy must set for demand expected at `at_ms`: the replayed value
/// in force that second, over `per_unit`, rounded up and clamped to [1, 40].
pub fn expected_target(demand: &[f64], at_ms: i64) -> i64 {
    let value = demand[(at_ms / 1000) as usize % demand.len()];
    ((value / PER_UNIT).ceil()).clamp(1.0, 40.0) as i64
}

pub fn replicas_in(config_path: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(config_path).ok()?;
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).ok()?;
    doc.get("resources")?.get("replicas")?.as_i64()
}

impl Pipeline {
    /// Everything but the services: broker, topics, workload page, published template.
    pub fn prepare() -> Self {
        let broker = TestBroker::start();
        let workdir = tempfile::tempdir().expect("workdir");
        let workload = Workload::start();
        let config_path = workdir.path().join("app/config.yaml");
        let template_path = workload.write_template(workdir.path(), &config_path);
        publish_templates(&broker.kafka, std::slice::from_ref(&template_path))
            .expect("publish template");
        let mut services = Services::new(&workdir.path().join("logs"));
        services.grant(&allow_templates(
            &[template_path],
            workdir.path(),
            &workdir.path().join("allow.yaml"),
        ));
        Self {
            broker,
            services,
            workdir,
            config_path,
            demand: workload.demand.clone(),
            _workload: workload,
        }
    }

    pub fn start(&mut self, services: &[&str]) {
        for service in services {
            self.services
                .start(service, &self.broker.kafka, self.workdir.path());
        }
    }

    pub fn expected_target(&self, at_ms: i64) -> i64 {
        expected_target(&self.demand, at_ms)
    }

    pub fn config_file(&self) -> &std::path::Path {
        &self.config_path
    }

    pub fn replicas_on_disk(&self) -> Option<i64> {
        replicas_in(&self.config_path)
    }
}

/// A directive for the `grid-demand` app as the planner would state it, for tests that drive the
/// applier directly.
pub fn directive(target: i64, tag: &str) -> ScalingDirective {
    ScalingDirective {
        event_id: event_id(&["test-directive", tag]),
        app: "grid-demand".into(),
        template_version: "test".into(),
        resource: "replicas".into(),
        target,
        previous_target: None,
        forecast_value: target as f64 * PER_UNIT,
        effective_at_ms: 0,
        issued_at_ms: 0,
        policy: "test".into(),
        reason: "sent by the test".into(),
        lineage: vec![],
        ..Default::default()
    }
}
