//! What the `promql` tests run against: Debian's Prometheus server (`/usr/bin/prometheus`) on a
//! free port with its own data directory, scraping an exporter the test serves with tiny_http,
//! or holding history `promtool tsdb create-blocks-from openmetrics` wrote into its data
//! directory before it started. Shared by the collector's, the CLI's and the integration tests
//! (included with `#[path]`), so the three start Prometheus the same way.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Prometheus starting, scraping and compacting on a loaded two-core machine.
pub const PATIENCE: Duration = Duration::from_secs(180);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// An exporter of the Prometheus text format on a free port: the page is what the test last
/// set; served until dropped.
pub struct Exporter {
    pub addr: String,
    page: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl Exporter {
    pub fn start(page: &str) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("exporter listens");
        let addr = server
            .server_addr()
            .to_ip()
            .expect("an IP address")
            .to_string();
        let page = Arc::new(Mutex::new(page.to_string()));
        let stop = Arc::new(AtomicBool::new(false));
        let (serving, stopping) = (page.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                if let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(100)) {
                    let body = serving.lock().unwrap().clone();
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4")
                            .unwrap();
                    let _ =
                        request.respond(tiny_http::Response::from_string(body).with_header(header));
                }
            }
        });
        Self { addr, page, stop }
    }

    pub fn set(&self, page: &str) {
        *self.page.lock().unwrap() = page.to_string();
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A Prometheus server of its own; killed when dropped.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`, what a `promql` source's `url` names.
    pub base: String,
    pub log: PathBuf,
}

impl Prometheus {
    /// Scrapes `targets` (host:port, `/metrics`) every second, storing into `dir/tsdb`.
    pub fn scraping(targets: &[&str], dir: &Path) -> Self {
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: [",
        );
        let quoted: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        config.push_str(&quoted.join(", "));
        config.push_str("]\n");
        Self::start(&config, dir)
    }

    /// Holds the series of `openmetrics` (an OpenMetrics text file, `# EOF` last), backfilled
    /// into `dir/tsdb` with promtool before the server starts; scrapes nothing.
    pub fn with_history(openmetrics: &str, dir: &Path) -> Self {
        let file = dir.join("history.om");
        std::fs::write(&file, openmetrics).expect("the OpenMetrics file");
        let tsdb = dir.join("tsdb");
        std::fs::create_dir_all(&tsdb).expect("the data dir");
        let promtool = binary("/usr/bin/promtool");
        let output = Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(&tsdb)
            .output()
            .expect("running promtool");
        assert!(
            output.status.success(),
            "promtool could not backfill: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Self::start("global:\n  scrape_interval: 1m\nscrape_configs: []\n", dir)
    }

    fn start(config: &str, dir: &Path) -> Self {
        let binary = binary("/usr/bin/prometheus");
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("prometheus config");
        let listen = format!("127.0.0.1:{}", free_port());
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).expect("prometheus log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            // Backfilled history may be years old: kept, not expired at start.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address={listen}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("starting prometheus");
        let prometheus = Self {
            child,
            base: format!("http://{listen}"),
            log,
        };
        prometheus.wait_for("Prometheus to be ready", |p| {
            ureq::get(&format!("{}/-/ready", p.base))
                .call()
                .is_ok_and(|r| r.status() == 200)
        });
        prometheus
    }

    /// An instant query's answer, as JSON (`None` while Prometheus does not answer).
    pub fn query(&self, query: &str) -> Option<serde_json::Value> {
        let response = ureq::get(&format!("{}/api/v1/query", self.base))
            .query("query", query)
            .call()
            .ok()?;
        serde_json::from_str(&response.into_string().ok()?).ok()
    }

    /// How many series an instant query gives now.
    pub fn series(&self, query: &str) -> usize {
        self.query(query)
            .and_then(|answer| answer["data"]["result"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// Polls `done` until it holds, failing with Prometheus's log after [`PATIENCE`].
    pub fn wait_for(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "gave up waiting for {what} after {PATIENCE:?}; Prometheus's log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary(path: &str) -> &Path {
    let binary = Path::new(path);
    assert!(
        binary.is_file(),
        "{path} is missing: install Debian's prometheus (`cargo xtask test` does)"
    );
    binary
}
