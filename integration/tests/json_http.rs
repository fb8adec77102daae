//! A `json_http` source read by the real collector binary on a real broker: a weather API
//! (Open-Meteo's response shape, served by the test) is read each second, and the values its
//! pointers pick reach `presage.metrics.raw` as samples of the source, labelled as the template
//! says, following the document as it changes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use presage_events::RawSample;
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, Services};
use presage_integration::topics::TopicReader;
use presage_runner::templates::publish_templates;

/// The temperature the API reports at its `n`th answer: 20.5 at first, then a degree warmer
/// every fifth answer.
fn temperature(n: usize) -> f64 {
    20.5 + (n / 5) as f64
}

/// Serves an Open-Meteo-shaped current-weather response; counts the answers.
fn weather_api() -> (String, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v1/forecast?latitude=40.69&longitude=-74.17&current=temperature_2m,wind_speed_10m",
        server.server_addr().to_ip().unwrap()
    );
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let body = format!(
                r#"{{"latitude":40.69,"longitude":-74.17,"name":"Newark",
                   "current":{{"time":"2026-07-01T12:00","temperature_2m":{},"wind_speed_10m":12.5}}}}"#,
                temperature(n)
            );
            let _ = request.respond(tiny_http::Response::from_string(body));
        }
    });
    (url, served)
}

#[test]
fn the_collector_publishes_the_values_a_json_api_holds_as_it_changes() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let dir = tempfile::tempdir().unwrap();
    let (url, served) = weather_api();
    let template = dir.path().join("weather.yaml");
    std::fs::write(
        &template,
        format!(
            r#"
app: weather-demand
dynamic_metadata:
  sources:
    - id: weather
      kind: json_http
      url: "{url}"
      every: 1s
      values: {{ temperature_c: /current/temperature_2m, wind_kmh: /current/wind_speed_10m }}
      labels: {{ city: /name }}
    # The same API, asked for a value it does not hold: a reading error at every read.
    - {{ id: gusts, kind: json_http, url: "{url}", every: 1s, values: {{ gusts_kmh: /current/wind_gusts_10m }} }}
  metric_recipes:
    - {{ name: temperature, from: weather.temperature_c, window: {{ tumble: 5s }} }}
"#
        ),
    )
    .unwrap();
    publish_templates(kafka, std::slice::from_ref(&template)).unwrap();
    let mut services = Services::new(&dir.path().join("logs"));
    // The operator grants the API's URL, as it would in production.
    let allow = allow_templates(
        std::slice::from_ref(&template),
        dir.path(),
        &dir.path().join("allow.yaml"),
    );
    services.grant(&allow);
    services.start("collector", kafka, dir.path());
    let raw = TopicReader::open(kafka, &kafka.topics().raw());

    // Until the API has warmed by a degree: samples of both values, each labelled Newark.
    let mut temperatures: Vec<f64> = Vec::new();
    let mut winds = 0;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    while Instant::now() < deadline && !temperatures.contains(&temperature(5)) {
        for sample in raw.poll::<RawSample>(Duration::from_millis(500)) {
            assert_eq!(
                (sample.app.as_str(), sample.source.as_str()),
                ("weather-demand", "weather")
            );
            assert_eq!(
                sample.labels.get("city").map(String::as_str),
                Some("Newark")
            );
            match sample.metric.as_str() {
                "temperature_c" => temperatures.push(sample.value),
                "wind_kmh" => {
                    assert_eq!(sample.value, 12.5);
                    winds += 1;
                }
                other => panic!("unexpected metric {other}"),
            }
        }
    }
    assert!(
        temperatures.contains(&temperature(0)) && temperatures.contains(&temperature(5)),
        "the readings did not follow the API from {} to {}: saw {temperatures:?} after {} answers\n{}",
        temperature(0),
        temperature(5),
        served.load(Ordering::SeqCst),
        services.logs()
    );
    assert!(winds > 0, "no wind_kmh samples");

    // The failing source is logged with the pointer it lacks, at most once a minute (it failed
    // at every read meanwhile), and the good one kept being read beside it.
    let log = services.log_of("collector");
    let lines = log
        .lines()
        .filter(|l| l.contains("/current/wind_gusts_10m is not in the response"))
        .count();
    let minutes = started.elapsed().as_secs() / 60;
    assert!(
        lines >= 1 && lines as u64 <= minutes + 2,
        "{lines} lines about the missing pointer in {minutes} min\n{log}"
    );
}
