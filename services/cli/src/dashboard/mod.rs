//! The live web dashboard: every app's observed metric, forecast band and target over the last
//! hours, the newest directives with their reasons and outcomes (each opens its `explain`
//! chain), and dead letters by kind. One self-contained page (no outside resource: it works
//! offline) polling `/api/state`, served by `presage up` and by `presage dashboard` for any
//! cluster.
//!
//! `state.rs` folds events into bounded memory and `view.rs` turns it into the page's JSON (both
//! pure); `feed.rs` reads the topics and `server.rs` serves HTTP (the edges).

pub mod feed;
pub mod server;
pub mod state;
pub mod view;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context;
use presage_runner::{KafkaArgs, Shutdown};

use feed::Shared;
use state::{Limits, State};
use view::FeedStatus;

/// Where `presage dashboard` and `presage up` serve the dashboard unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9460";

/// How much the dashboard shows, shared by `presage dashboard` and `presage up`.
#[derive(Debug, Clone, clap::Args)]
pub struct ViewArgs {
    /// Hours of history shown per app (read back from the topics at start).
    #[arg(long = "dashboard-hours", value_name = "HOURS", default_value_t = 3.0)]
    pub hours: f64,
    /// At most this many points per series (the oldest leave first).
    #[arg(long = "dashboard-points", value_name = "N", default_value_t = 3_600)]
    pub points: usize,
    /// At most this many apps shown; records of further apps are counted, not kept.
    #[arg(long = "dashboard-apps", value_name = "N", default_value_t = 200)]
    pub apps: usize,
}

impl ViewArgs {
    pub fn limits(&self) -> anyhow::Result<Limits> {
        if !(self.hours.is_finite() && self.hours > 0.0 && self.hours <= 24.0 * 366.0) {
            anyhow::bail!(
                "--dashboard-hours {} is not a number of hours in (0, 8784]",
                self.hours
            );
        }
        if self.points < 2 {
            anyhow::bail!(
                "--dashboard-points {}: a line needs at least 2 points",
                self.points
            );
        }
        if self.apps == 0 {
            anyhow::bail!("--dashboard-apps 0 would show no app: give 1 or more");
        }
        Ok(Limits {
            span_ms: (self.hours * 3_600_000.0) as i64,
            points: self.points,
            apps: self.apps,
            ..Limits::default()
        })
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    presage dashboard --brokers kafka-1:9092,kafka-2:9092\n  \
    presage dashboard --brokers 127.0.0.1:9092 --listen 0.0.0.0:9460 --dashboard-hours 12\n\n\
    Then open http://127.0.0.1:9460/ in a browser.")]
pub struct DashboardArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Where to serve the page (it shows decisions and dead letters: keep it on a trusted
    /// network).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub view: ViewArgs,
}

/// `presage up --dashboard-listen`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Off,
    At(SocketAddr),
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("off") {
            return Ok(Listen::Off);
        }
        text.parse()
            .map(Listen::At)
            .map_err(|_| format!("{text:?} is neither an address (127.0.0.1:9460) nor `off`"))
    }
}

/// A running dashboard: stopped (its feed unassigned, its listener closed) when dropped.
pub struct Dashboard {
    address: SocketAddr,
    stop: Shutdown,
    workers: Vec<JoinHandle<()>>,
    feed: Option<JoinHandle<()>>,
}

impl Dashboard {
    /// Binds `listen` (failing if it cannot) and starts reading the topics of `kafka`.
    pub fn start(kafka: &KafkaArgs, listen: SocketAddr, limits: Limits) -> anyhow::Result<Self> {
        let shared = Shared {
            state: Arc::new(Mutex::new(State::new(limits))),
            status: Arc::new(Mutex::new(FeedStatus {
                phase: "starting".into(),
                ..FeedStatus::default()
            })),
            explains: Arc::default(),
        };
        let stop = Shutdown::default();
        let (address, workers) =
            server::serve(listen, kafka.clone(), shared.clone(), stop.clone())?;
        let (feed_kafka, feed_stop) = (kafka.clone(), stop.clone());
        let feed = std::thread::Builder::new()
            .name("dashboard-feed".into())
            .spawn(move || feed::run(&feed_kafka, &shared, &feed_stop));
        // Dropped on failure too, which stops the server's workers just started.
        let mut dashboard = Self {
            address,
            stop,
            workers,
            feed: None,
        };
        dashboard.feed = Some(feed.context("starting the dashboard's feed")?);
        Ok(dashboard)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop.request();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        // The feed stops between records, but a metadata request to a broker that is away
        // can take its full timeout: wait a little, then let it finish on its own.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        if let Some(feed) = self.feed.take() {
            while !feed.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            if feed.is_finished() {
                let _ = feed.join();
            }
        }
    }
}

pub fn dashboard(args: &DashboardArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    args.kafka.check_settings()?;
    let dashboard = Dashboard::start(&args.kafka, args.listen, args.view.limits()?)?;
    println!(
        "dashboard at {} (topics of {}; Ctrl-C stops it)",
        dashboard.url(),
        args.kafka.brokers
    );
    while !shutdown.requested() {
        shutdown.sleep(std::time::Duration::from_secs(1));
    }
    drop(dashboard);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_setting_is_an_address_or_off() {
        assert_eq!("off".parse::<Listen>(), Ok(Listen::Off));
        assert_eq!("OFF".parse::<Listen>(), Ok(Listen::Off));
        assert_eq!(
            "127.0.0.1:9460".parse::<Listen>(),
            Ok(Listen::At("127.0.0.1:9460".parse().unwrap()))
        );
        assert!("localhost".parse::<Listen>().is_err());
    }

    #[test]
    fn hours_become_the_span_and_nonsense_is_refused() {
        let view = |hours| ViewArgs {
            hours,
            points: 10,
            apps: 5,
        };
        let limits = view(1.5).limits().unwrap();
        assert_eq!(limits.span_ms, 5_400_000);
        assert_eq!((limits.points, limits.apps), (10, 5));
        for bad in [0.0, -1.0, f64::NAN, 1e9] {
            assert!(view(bad).limits().is_err(), "{bad}");
        }
        // Counts that would draw nothing are refused, not quietly raised.
        let points = ViewArgs {
            points: 1,
            ..view(1.0)
        }
        .limits()
        .unwrap_err();
        assert!(
            points.to_string().contains("--dashboard-points 1"),
            "{points}"
        );
        let apps = ViewArgs {
            apps: 0,
            ..view(1.0)
        }
        .limits()
        .unwrap_err();
        assert!(apps.to_string().contains("--dashboard-apps 0"), "{apps}");
    }

    #[test]
    fn a_dashboard_serves_its_page_and_state_before_any_broker_answers() {
        // Nothing listens on port 9: the feed waits, the page is served regardless.
        let kafka = KafkaArgs::for_brokers("127.0.0.1:9");
        let dashboard =
            Dashboard::start(&kafka, "127.0.0.1:0".parse().unwrap(), Limits::default()).unwrap();
        let get = |path: &str| -> (u16, String) {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(dashboard.address()).unwrap();
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).unwrap();
            let status = text[9..12].parse().unwrap();
            let body = text
                .split_once("\r\n\r\n")
                .map_or("", |(_, b)| b)
                .to_string();
            (status, body)
        };
        let (status, page) = get("/");
        assert_eq!(status, 200);
        assert!(page.contains("<svg") || page.contains("svg"), "{page}");
        let (status, body) = get("/api/state");
        assert_eq!(status, 200);
        let state: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(state["apps"], serde_json::json!([]));
        assert!(state["feed"]["phase"].is_string(), "{state}");
        assert_eq!(get("/api/explain/ab").0, 400);
        assert_eq!(get("/nothing").0, 404);
    }
}
