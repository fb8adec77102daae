//! External signals end to end: the real collector reads a `json_http` weather API and an `ics`
//! calendar file, and the real recipe-processor joins the calendar's signals to each window of a
//! recipe over the weather: a derived metric carries `in_event` and `minutes_to_next_event`
//! under their aliases, what a `linear` forecast takes as regressors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presage_events::DerivedMetric;
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, Services};
use presage_integration::topics::TopicReader;
use presage_runner::templates::publish_templates;

/// `YYYYMMDDTHHMMSSZ`, an iCalendar UTC date-time, `offset_s` from now.
fn ics_time(offset_s: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = now + offset_s;
    let (days, secs) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn a_calendar_s_signals_are_joined_to_each_window_of_a_recipe_over_a_json_api() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let dir = tempfile::tempdir().unwrap();

    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v1/forecast",
        server.server_addr().to_ip().unwrap()
    );
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let body = r#"{"current":{"temperature_2m":31.5}}"#;
            let _ = request.respond(tiny_http::Response::from_string(body));
        }
    });
    // A sale in progress (from an hour ago for three hours) and a launch three hours ahead.
    let calendar = dir.path().join("events.ics");
    std::fs::write(
        &calendar,
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
             BEGIN:VEVENT\r\nUID:sale\r\nSUMMARY:Summer sale\r\nDTSTART:{}\r\nDTEND:{}\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:launch\r\nSUMMARY:Launch\r\nDTSTART:{}\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
             END:VCALENDAR\r\n",
            ics_time(-3600),
            ics_time(2 * 3600),
            ics_time(3 * 3600),
        ),
    )
    .unwrap();
    let template = dir.path().join("shop.yaml");
    std::fs::write(
        &template,
        format!(
            r#"
app: shop
dynamic_metadata:
  sources:
    - {{ id: weather, kind: json_http, url: "{url}", every: 500ms, values: {{ temperature_c: /current/temperature_2m }} }}
    - {{ id: events, kind: ics, path: "{}", every: 500ms }}
  windowing: {{ allowed_lateness: 0s, idle_timeout: 2s }}
  metric_recipes:
    - name: temperature
      from: weather.temperature_c
      window: {{ tumble: 2s }}
      join:
        - {{ signal: events.in_event, as: in_event }}
        - {{ signal: events.minutes_to_next_event, as: next_event_min }}
  prediction_algorithms:
    - {{ target: temperature, horizon: 10s, models: [linear], regressors: [in_event, next_event_min] }}
"#,
            calendar.display()
        ),
    )
    .unwrap();
    presage_template::load(&template).unwrap_or_else(|e| panic!("{e}"));
    publish_templates(kafka, std::slice::from_ref(&template)).unwrap();
    let mut services = Services::new(&dir.path().join("logs"));
    let allow = allow_templates(
        std::slice::from_ref(&template),
        dir.path(),
        &dir.path().join("allow.yaml"),
    );
    services.grant(&allow);
    services.start("collector", kafka, dir.path());
    services.start("recipe-processor", kafka, dir.path());

    let derived = TopicReader::open(kafka, &kafka.topics().derived());
    let mut windows: Vec<DerivedMetric> = Vec::new();
    let joined = derived.wait_until(&mut windows, Duration::from_secs(90), |seen| {
        seen.iter().any(|d| d.signals.len() == 2)
    });
    assert!(
        joined,
        "no window with both signals joined; saw {windows:?}\n{}",
        services.logs()
    );
    let window = windows.iter().find(|d| d.signals.len() == 2).unwrap();
    assert_eq!(
        (window.recipe.as_str(), window.value),
        ("temperature", 31.5)
    );
    assert_eq!(window.signals["in_event"], 1.0, "the sale is in progress");
    // The launch starts three hours after the calendar was written: a little under 180 minutes
    // by the time of the window.
    let next = window.signals["next_event_min"];
    assert!(next > 150.0 && next <= 180.0, "next_event_min {next}");
}
