//! A real Prometheus server (Debian's `prometheus`, installed by `cargo xtask test`) scrapes the
//! five services of a running pipeline; what it stored is read back through its own HTTP query
//! API, the way a dashboard or an alert would see it.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Pipeline;

use presage_integration::services::ALL;

/// Long enough for warm forecasts and applied directives on a loaded two-core machine.
const PATIENCE: Duration = Duration::from_secs(180);

#[test]
fn prometheus_sees_every_service_ready_and_the_decision_and_health_series_move() {
    let mut pipeline = Pipeline::prepare();
    let mut targets = Vec::new();
    for service in ALL {
        let addr = format!("127.0.0.1:{}", free_port());
        pipeline
            .services
            .set_env(service, "PRESAGE_METRICS_LISTEN", &addr);
        targets.push((service, addr));
    }
    pipeline.start(&ALL);
    let prometheus = Prometheus::start(&targets, pipeline.workdir.path());
    let logs = || pipeline.services.logs();

    // Every service scraped, and every one ready: broker reached, templates loaded, partitions
    // assigned and rebuilt.
    prometheus.wait_for("every service to be scraped and ready", &logs, |p| {
        p.values("presage_ready == 1").len() == ALL.len() && p.values("up == 1").len() == ALL.len()
    });
    for (service, addr) in &targets {
        let status = ureq::get(&format!("http://{addr}/readyz"))
            .call()
            .map(|r| r.status())
            .unwrap_or_else(|e| panic!("{service} /readyz: {e}"));
        assert_eq!(status, 200, "{service} is ready");
    }

    // The decisions, per app: the observed demand, the forecast band at the lead time, the
    // model's score, the replicas target and whether it is held at max.
    let app = r#"app="grid-demand""#;
    prometheus.wait_for("the decision series of grid-demand", &logs, |p| {
        [
            format!(r#"presage_app_observed{{{app},metric="demand_mw"}}"#),
            format!(r#"presage_app_forecast{{{app},metric="demand_mw",bound="upper"}}"#),
            format!(r#"presage_app_forecast_mase{{{app},metric="demand_mw"}}"#),
            format!(r#"presage_app_target{{{app},resource="replicas"}}"#),
            format!(r#"presage_app_at_max{{{app},resource="replicas"}}"#),
        ]
        .iter()
        .all(|query| !p.values(query).is_empty())
    });
    let band = |bound: &str| {
        prometheus.values(&format!(
            r#"presage_app_forecast{{{app},metric="demand_mw",bound="{bound}"}}"#
        ))[0]
    };
    assert!(band("lower") <= band("mean") && band("mean") <= band("upper"));
    let target = prometheus.values(&format!(
        r#"presage_app_target{{{app},resource="replicas"}}"#
    ))[0];
    assert!(
        (1.0..=40.0).contains(&target),
        "replicas target {target} within the policy's bounds"
    );

    // They move: the replayed demand changes every second, so the observed value Prometheus
    // stored changed, and so did the records the stages passed on.
    prometheus.wait_for("the observed demand to change", &logs, |p| {
        !p.values(&format!("changes(presage_app_observed{{{app}}}[1m]) > 0"))
            .is_empty()
    });
    let derived_out = r#"sum(presage_records_out_total{stage="recipe-processor"})"#;
    let before = prometheus.values(derived_out)[0];
    prometheus.wait_for("the recipe-processor's output count to grow", &logs, |p| {
        p.values(derived_out)
            .first()
            .is_some_and(|now| *now > before)
    });

    // The pipeline's health, each from the stage that measures it.
    for (what, query) in [
        (
            "records read by the planner",
            r#"presage_records_in_total{stage="planner"} > 0"#,
        ),
        (
            "consumer lag per partition",
            r#"presage_consumer_lag{stage="forecaster"}"#,
        ),
        (
            "processing latency",
            r#"presage_processing_seconds_count{stage="recipe-processor"} > 0"#,
        ),
        (
            "delivery latency",
            r#"presage_delivery_seconds_count{stage="forecaster"} > 0"#,
        ),
        (
            "window close delay",
            "presage_window_close_delay_seconds_count > 0",
        ),
        (
            "sample-to-directive latency",
            r#"presage_sample_to_directive_seconds_count{mode="live"} > 0"#,
        ),
        ("refits", "presage_refits_total > 0"),
        ("refit durations", "presage_refit_seconds_count > 0"),
        ("the collector's spool", "presage_spool_records"),
        (
            "source reads",
            r#"presage_source_reads_total{kind="prometheus",result="ok"} > 0"#,
        ),
        (
            "apply outcomes",
            r#"presage_apply_outcomes_total{kind="file",status="applied"} > 0"#,
        ),
        (
            "hook latency",
            r#"presage_hook_seconds_count{kind="file"} > 0"#,
        ),
        (
            "the broker reachable",
            r#"presage_broker_reachable{stage="planner"} == 1"#,
        ),
        (
            "templates loaded",
            r#"presage_templates_loaded{stage="applier"} == 1"#,
        ),
    ] {
        prometheus.wait_for(what, &logs, |p| !p.values(query).is_empty());
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A Prometheus server of its own, scraping the services every second; killed when dropped.
struct Prometheus {
    child: Child,
    api: String,
}

impl Prometheus {
    fn start(targets: &[(&str, String)], dir: &Path) -> Self {
        let binary = Path::new("/usr/bin/prometheus");
        assert!(
            binary.is_file(),
            "{} is missing: install Debian's prometheus (`cargo xtask test` does)",
            binary.display()
        );
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for (service, addr) in targets {
            config.push_str(&format!(
                "  - job_name: {service}\n    static_configs: [{{ targets: [\"{addr}\"] }}]\n"
            ));
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("prometheus config");
        let listen = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("prometheus log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting prometheus");
        Self {
            child,
            api: format!("http://{listen}/api/v1/query"),
        }
    }

    /// The values of an instant query's vector (empty while Prometheus is not up yet).
    fn values(&self, query: &str) -> Vec<f64> {
        let Ok(response) = ureq::get(&self.api).query("query", query).call() else {
            return Vec::new();
        };
        let text = response.into_string().expect("Prometheus's answer");
        let body: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("Prometheus answered {query:?} with no JSON: {e}: {text}"));
        assert_eq!(body["status"], "success", "{query}: {body}");
        body["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sample| sample["value"][1].as_str()?.parse().ok())
            .collect()
    }

    fn wait_for(&self, what: &str, logs: &dyn Fn() -> String, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "Prometheus did not see {what} within {PATIENCE:?}\n{}",
                logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
