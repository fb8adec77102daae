//! `presage backtest --prometheus URL --from --to`: the history of each template's `promql`
//! sources, read from a Prometheus server with `/api/v1/query_range` and made into raw samples
//! exactly as the live collector names them (`presage_collector::promql` parses both answers,
//! `to_raw_samples` makes both samples), so the template's recipes select them unchanged.
//!
//! The server is the operator's, named on the command line: it stands in for every source's
//! `url` (a template's URL would point at production, or need the collector's allow-list).

use std::time::Duration;

use anyhow::{bail, Context};
use presage_collector::promql::{self, endpoint, range_chunks, seconds};
use presage_collector::refusals::DEFAULT_MAX_SCRAPE_SERIES;
use presage_collector::to_raw_samples;
use presage_events::{redact_text, redact_url, RawSample};
use presage_template::{Source, SourceKind, Template};

/// The step of a source without `every`: the collector's default interval.
const DEFAULT_EVERY_MS: i64 = 15_000;

/// One range request may take this long (a long range of a heavy query).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What was read: the samples, and how many sources and requests it took.
#[derive(Debug, Default)]
pub struct Read {
    pub samples: Vec<RawSample>,
    pub sources: usize,
    pub requests: usize,
}

/// Every `promql` source of `templates` (each app's source once), evaluated at
/// `from_ms + k * every` for every such time before `to_ms`.
pub fn read_history(
    base: &str,
    templates: &[Template],
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<Read> {
    let sources = promql_sources(templates)?;
    if sources.is_empty() {
        bail!(
            "--prometheus reads the templates' promql sources, and none has one: expected a \
             source like {{ id: api, kind: promql, url: ..., query: 'sum(rate(x[1m]))' }}"
        );
    }
    let mut read = Read {
        sources: sources.len(),
        ..Read::default()
    };
    for (app, source) in sources {
        let step_ms = source
            .every
            .map_or(DEFAULT_EVERY_MS, |d| d.as_millis_i64())
            .max(1);
        let query = source.query.as_deref().unwrap_or_default();
        let what = format!("promql source `{}` of app {app}", source.id);
        for (start, end) in range_chunks(from_ms, to_ms - 1, step_ms) {
            let readings = query_range(base, query, source.metric_name(), start, end, step_ms)
                .with_context(|| what.clone())?;
            read.requests += 1;
            read.samples
                .extend(to_raw_samples(app, "", &source.id, readings));
        }
    }
    Ok(read)
}

/// The `promql` sources to read, by app, each once. One trace feeds every template set, so a
/// source two templates read differently (query, metric or step) is refused before any request.
fn promql_sources(templates: &[Template]) -> anyhow::Result<Vec<(&str, &Source)>> {
    let mut sources: Vec<(&str, &Source)> = Vec::new();
    for template in templates {
        let app = template.app.as_str();
        for source in &template.dynamic_metadata.sources {
            if source.kind != SourceKind::Promql {
                continue;
            }
            let asks = |s: &Source| (s.query.clone(), s.metric_name().to_string(), s.every);
            match sources.iter().find(|(a, s)| *a == app && s.id == source.id) {
                Some((_, first)) if asks(first) != asks(source) => bail!(
                    "promql source `{}` of app {app} is read two ways by the templates compared \
                     (query, metric or every differ): give it another id in one of them",
                    source.id
                ),
                Some(_) => {}
                None => sources.push((app, source)),
            }
        }
    }
    Ok(sources)
}

fn query_range(
    base: &str,
    query: &str,
    metric: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> anyhow::Result<Vec<presage_collector::Reading>> {
    let url = endpoint(base, "query_range");
    let shown = redact_url(&url);
    let body = match presage_runner::https::agent()
        .get(&url)
        .timeout(REQUEST_TIMEOUT)
        .query("query", query)
        .query("start", &seconds(start_ms))
        .query("end", &seconds(end_ms))
        .query("step", &seconds(step_ms))
        .call()
    {
        Ok(response) => response.into_string(),
        // A refused query comes with its reason as JSON.
        Err(ureq::Error::Status(_, response)) => response.into_string(),
        Err(e) => bail!("{}", redact_text(&format!("GET {shown}: {e}"))),
    }
    .map_err(|e| anyhow::anyhow!("{}", redact_text(&format!("reading {shown}: {e}"))))?;
    promql::parse_range(&body, metric, DEFAULT_MAX_SCRAPE_SERIES)
        .map_err(|e| anyhow::anyhow!("{}", redact_text(&format!("GET {shown}: {e}"))))
}
