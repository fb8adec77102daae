//! End to end: the real collector binary reads `promql` sources from a real Prometheus server
//! (Debian's, scraping an exporter this test serves) and publishes each result series to
//! `presage.metrics.raw` on a real broker, named `<source>.<metric>` with the series' labels; a
//! result with more series than `--max-scrape-series` is dead-lettered as `scrape_too_large`,
//! and nothing of it is published; a query Prometheus refuses is logged with its reason, at most
//! once a minute.

#[path = "../../services/collector/tests/promql_server/mod.rs"]
mod promql_server;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use presage_events::{DeadLetter, RawSample};
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, Services};
use presage_integration::topics::TopicReader;
use presage_runner::templates::publish_templates;
use promql_server::{Exporter, Prometheus};

const PAGE: &str = "# TYPE orders_total counter\n\
orders_total{shop=\"north\"} 10\n\
orders_total{shop=\"south\"} 32\n";

fn template(prometheus: &str) -> String {
    format!(
        r#"
app: shop
dynamic_metadata:
  sources:
    - {{ id: shops, kind: promql, url: "{prometheus}", query: 'orders_total', metric: orders, every: 1s }}
    - {{ id: total, kind: promql, url: "{prometheus}", query: 'sum(orders_total)', every: 1s }}
    - {{ id: everything, kind: promql, url: "{prometheus}", query: '{{job="exporter"}}', every: 1s }}
    - {{ id: broken, kind: promql, url: "{prometheus}", query: 'sum(orders_total', every: 1s }}
  metric_recipes:
    - {{ name: orders, from: shops.orders, aggregate: sum, window: {{ tumble: 5s }} }}
    - {{ name: total, from: total.total, aggregate: sum, window: {{ tumble: 5s }} }}
"#
    )
}

#[test]
fn the_collector_publishes_each_series_of_a_promql_query_and_refuses_a_result_too_large() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let dir = tempfile::tempdir().unwrap();
    let exporter = Exporter::start(PAGE);
    let prometheus = Prometheus::scraping(&[&exporter.addr], dir.path());
    prometheus.wait_for("the exporter's two shops to be scraped", |p| {
        p.series("orders_total") == 2
    });

    let path = dir.path().join("shop.yaml");
    std::fs::write(&path, template(&prometheus.base)).unwrap();
    publish_templates(kafka, std::slice::from_ref(&path)).unwrap();
    let mut services = Services::new(&dir.path().join("logs"));
    // The operator grants the Prometheus server; `everything` (the exporter's series and
    // Prometheus's own `up` and `scrape_*` for it) is more than two series.
    services.grant(&allow_templates(
        std::slice::from_ref(&path),
        dir.path(),
        &dir.path().join("allow.yaml"),
    ));
    services.set_env("collector", "PRESAGE_COLLECTOR_MAX_SCRAPE_SERIES", "2");
    services.start("collector", kafka, dir.path());
    let started = Instant::now();

    let raw = TopicReader::open(kafka, &kafka.topics().raw());
    let dlq = TopicReader::open(kafka, &kafka.topics().dlq());
    // By (source, metric), the label sets and values seen.
    let mut seen: BTreeMap<(String, String), BTreeSet<(String, u64)>> = BTreeMap::new();
    let mut refused: Option<DeadLetter> = None;
    let want = |seen: &BTreeMap<_, BTreeSet<(String, u64)>>| {
        let key = |s: &str, m: &str| (s.to_string(), m.to_string());
        seen.get(&key("shops", "orders")).is_some_and(|series| {
            series.contains(&("shop=north".into(), 10))
                && series.contains(&("shop=south".into(), 32))
        }) && seen
            .get(&key("total", "total"))
            .is_some_and(|series| series.contains(&(String::new(), 42)))
    };
    let deadline = Instant::now() + promql_server::PATIENCE;
    while Instant::now() < deadline && !(want(&seen) && refused.is_some()) {
        for sample in raw.poll::<RawSample>(Duration::from_millis(500)) {
            assert_eq!(sample.app, "shop");
            assert_ne!(
                sample.source, "everything",
                "a refused result is not published"
            );
            assert!(!sample.labels.contains_key("__name__"), "{sample:?}");
            let shop = sample
                .labels
                .get("shop")
                .map(|shop| format!("shop={shop}"))
                .unwrap_or_default();
            if sample.source == "shops" {
                assert_eq!(sample.labels["job"], "exporter", "{sample:?}");
            }
            seen.entry((sample.source, sample.metric))
                .or_default()
                .insert((shop, sample.value as u64));
        }
        for letter in dlq.poll::<DeadLetter>(Duration::from_millis(100)) {
            if letter.kind == "scrape_too_large" {
                refused = Some(letter);
            }
        }
    }
    assert!(
        want(&seen),
        "not every series of the queries was published; saw {seen:?}\n{}",
        services.logs()
    );
    let letter = refused.unwrap_or_else(|| {
        panic!(
            "no scrape_too_large dead letter for `everything`\n{}",
            services.logs()
        )
    });
    // The query Prometheus refuses fails at every read, and is logged with why: once, then
    // at most once a minute.
    let log = services.log_of("collector");
    let lines = log
        .lines()
        .filter(|line| line.contains("source read failed") && line.contains("broken"))
        .collect::<Vec<_>>();
    assert!(
        !lines.is_empty() && lines[0].contains("Prometheus refused the query (bad_data)"),
        "{log}"
    );
    let minutes = started.elapsed().as_secs() / 60;
    assert!(lines.len() as u64 <= 1 + minutes, "{lines:#?}");
    assert_eq!(letter.app, "shop");
    assert!(
        letter.reason.contains("source `everything`")
            && letter.reason.contains("more than --max-scrape-series (2)"),
        "{}",
        letter.reason
    );
}
