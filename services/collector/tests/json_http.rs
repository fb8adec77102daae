//! `json_http` sources read through the collector's readers from real HTTP servers started by
//! the test: the values and labels the pointers pick, a document that changes between reads, a
//! pointer the document lacks, the series bound and the allow-list.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use presage_collector::readers::Readers;
use presage_collector::{Reading, Refusal, SourceReader};
use presage_template::authority::Allow;
use presage_template::{Source, SourceKind};

/// An Open-Meteo-shaped current-weather response, its temperature and wind set per read.
fn weather(temperature: f64, wind: f64) -> String {
    format!(
        r#"{{"latitude":40.69,"longitude":-74.17,"timezone":"America/New_York","name":"Newark",
           "current_units":{{"temperature_2m":"°C","wind_speed_10m":"km/h"}},
           "current":{{"time":"2026-07-01T12:00","interval":900,"temperature_2m":{temperature},"wind_speed_10m":{wind}}}}}"#
    )
}

/// Serves `bodies` in turn (the last one again once they run out); counts the requests.
fn serve(bodies: Vec<String>) -> (String, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", server.server_addr().to_ip().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let body = bodies[n.min(bodies.len() - 1)].clone();
            let header = "Content-Type: application/json".parse::<tiny_http::Header>();
            let _ = request
                .respond(tiny_http::Response::from_string(body).with_header(header.unwrap()));
        }
    });
    (origin, served)
}

fn granting(origin: &str, max_series: usize) -> Readers {
    let allow = Allow::parse(&format!("urls: [\"{origin}/\"]"), "allow.yaml").unwrap();
    Readers::new(allow, max_series)
}

fn pointers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn weather_source(url: String) -> Source {
    Source {
        id: "weather".into(),
        kind: SourceKind::JsonHttp,
        url: Some(url),
        timeout: Some("2s".parse().unwrap()),
        values: pointers(&[
            ("temperature_c", "/current/temperature_2m"),
            ("wind_kmh", "/current/wind_speed_10m"),
        ]),
        labels: pointers(&[("city", "/name")]),
        ..Default::default()
    }
}

/// (metric, value, city) of each reading.
fn seen(readings: &[Reading]) -> Vec<(String, f64, String)> {
    readings
        .iter()
        .map(|r| (r.metric.clone(), r.value, r.labels["city"].clone()))
        .collect()
}

#[test]
fn each_read_picks_the_values_the_document_holds_then() {
    let (origin, served) = serve(vec![weather(21.5, 12.0), weather(19.0, 30.5)]);
    let mut readers = granting(&origin, 100);
    let source = weather_source(format!("{origin}/v1/forecast?current=temperature_2m"));

    let first = readers.read(&source, 1_000).unwrap();
    assert_eq!(
        seen(&first),
        vec![
            ("temperature_c".into(), 21.5, "Newark".into()),
            ("wind_kmh".into(), 12.0, "Newark".into()),
        ]
    );
    assert!(first.iter().all(|r| r.at_ms == 1_000));

    let second = readers.read(&source, 61_000).unwrap();
    assert_eq!(
        seen(&second),
        vec![
            ("temperature_c".into(), 19.0, "Newark".into()),
            ("wind_kmh".into(), 30.5, "Newark".into()),
        ]
    );
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

#[test]
fn items_make_one_sample_per_station() {
    let body =
        r#"{"stations":[{"icao":"KEWR","obs":{"temp":3.5}},{"icao":"KJFK","obs":{"temp":-1.25}}]}"#;
    let (origin, _) = serve(vec![body.to_string()]);
    let source = Source {
        id: "stations".into(),
        kind: SourceKind::JsonHttp,
        url: Some(format!("{origin}/stations")),
        items: Some("/stations".into()),
        values: pointers(&[("temperature_c", "/obs/temp")]),
        labels: pointers(&[("station", "/icao")]),
        ..Default::default()
    };
    let readings = granting(&origin, 100).read(&source, 5).unwrap();
    let got: Vec<(&str, f64)> = readings
        .iter()
        .map(|r| (r.labels["station"].as_str(), r.value))
        .collect();
    assert_eq!(got, vec![("KEWR", 3.5), ("KJFK", -1.25)]);
}

#[test]
fn a_pointer_the_document_lacks_is_an_error_naming_the_source_and_the_pointer() {
    let (origin, _) = serve(vec![weather(21.5, 12.0)]);
    let mut source = weather_source(format!("{origin}/v1/forecast"));
    source
        .values
        .insert("gusts".into(), "/current/wind_gusts_10m".into());
    let err = granting(&origin, 100).read(&source, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "source weather: /current/wind_gusts_10m is not in the response"
    );
    assert_eq!(err.refusal, None, "a reading error, not a refusal");
}

#[test]
fn more_series_than_the_bound_are_refused_as_scrape_too_large() {
    let stations: Vec<String> = (0..6)
        .map(|i| format!("{{\"id\":\"s{i}\",\"t\":{i}}}"))
        .collect();
    let body = format!("{{\"stations\":[{}]}}", stations.join(","));
    let (origin, _) = serve(vec![body]);
    let source = Source {
        id: "stations".into(),
        kind: SourceKind::JsonHttp,
        url: Some(format!("{origin}/s")),
        items: Some("/stations".into()),
        values: pointers(&[("t", "/t")]),
        ..Default::default()
    };
    let err = granting(&origin, 5).read(&source, 0).unwrap_err();
    assert_eq!(
        err.refusal,
        Some(Refusal::TooManySeries { series: 6, max: 5 })
    );
    assert_eq!(granting(&origin, 6).read(&source, 0).unwrap().len(), 6);
}

#[test]
fn an_ungranted_url_is_refused_without_a_request() {
    let (origin, served) = serve(vec![weather(21.5, 12.0)]);
    let source = weather_source(format!("{origin}/v1/forecast"));
    let err = Readers::new(
        Allow::parse("urls: [\"http://127.0.0.1:1/\"]", "allow.yaml").unwrap(),
        100,
    )
    .read(&source, 0)
    .unwrap_err();
    assert_eq!(err.refusal, Some(Refusal::NotGranted), "{err}");
    assert_eq!(served.load(Ordering::SeqCst), 0, "the server was reached");
}

#[test]
fn an_api_key_in_the_url_stays_out_of_the_error() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::from_string("{}").with_status_code(401));
        }
    });
    let source = weather_source(format!("{origin}/v1/current?q=Newark&apikey=s3cr3t-k3y"));
    let err = granting(&origin, 100).read(&source, 0).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("s3cr3t-k3y"), "{message}");
}
