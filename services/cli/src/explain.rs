//! `presage explain DIRECTIVE_ID`: why a directive says what it says. Follows its links back
//! through the topics: directive → policy rule(s) → forecast → derived windows → raw sample
//! offsets → template version, and prints the chain.
//!
//! [`collect`] does the reading (each topic scanned by assignment from its beginning to the end
//! it had when the scan began); [`render_chain`] is a pure function of what was read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use presage_events::{decode, DerivedMetric, Forecast, ScalingDirective, TemplateVersion};
use presage_runner::{KafkaArgs, Topics};

use crate::rfc3339::{offset_secs, rfc3339};
use crate::scan::{self, Record};
use crate::tail::{model_text, target_text, targets_of};

/// The shortest id prefix accepted, as with git.
pub const MIN_PREFIX: usize = 6;

/// The id given names no one directive: too short, none, or several. The asker's to correct
/// (the dashboard answers 404), unlike a failure to read the topics.
#[derive(Debug)]
pub struct Unresolved(String);

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unresolved {}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The directive's event id, or a prefix of it (at least 6 characters).
    pub directive_id: String,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Give up reading any one topic to its end after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

/// One link of the chain: the event, or the id looked for and how much was searched.
#[derive(Debug, Clone, PartialEq)]
pub enum Link<T> {
    Found(T),
    Missing { id: String, records_read: u64 },
}

/// Everything `explain` read about one directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// Topic names (with the prefix in use).
    pub topics: Topics,
    pub directive: ScalingDirective,
    /// `None` when the directive names no forecast (a fallback decided on the observed metric).
    pub forecast: Option<Link<Forecast>>,
    /// In the order the forecast's (or the directive's) lineage names them.
    pub derived: Vec<Link<DerivedMetric>>,
    /// Low and high watermark of each raw partition, when they could be read.
    pub raw_watermarks: BTreeMap<i32, (i64, i64)>,
    /// The directive's template version.
    pub template: Link<TemplateVersion>,
    /// The app's newest version in the templates topic, when the directive's is not there.
    pub latest_template: Option<TemplateVersion>,
}

/// The forecast a directive was decided from: `forecast_id`, or for a directive from before
/// that field, the first id of its lineage. `None` for a fallback.
pub fn forecast_id_of(directive: &ScalingDirective) -> Option<String> {
    if directive.fallback {
        return None;
    }
    if !directive.forecast_id.is_empty() {
        return Some(directive.forecast_id.clone());
    }
    directive.lineage.first().cloned()
}

/// The derived windows behind a directive: the forecast's lineage when the forecast was found;
/// otherwise what the directive's own lineage names (a fallback's observed window, or the ids
/// after the forecast's).
pub fn derived_ids_of(directive: &ScalingDirective, forecast: Option<&Forecast>) -> Vec<String> {
    match forecast {
        Some(forecast) => forecast.lineage.clone(),
        None if forecast_id_of(directive).is_none() => directive.lineage.clone(),
        None => directive.lineage.iter().skip(1).cloned().collect(),
    }
}

pub fn explain(args: &ExplainArgs) -> anyhow::Result<()> {
    let chain = collect(
        &args.kafka,
        &args.directive_id,
        Duration::from_secs(args.timeout),
    )?;
    print!("{}", render_chain(&chain));
    Ok(())
}

/// Reads the chain of the directive whose id starts with `prefix`.
pub fn collect(kafka: &KafkaArgs, prefix: &str, limit: Duration) -> anyhow::Result<Chain> {
    let topics = kafka.topics();
    let directive = find_directive(kafka, &topics.directives(), prefix, limit)?;

    let forecast = match forecast_id_of(&directive) {
        None => None,
        Some(id) => {
            let mut found = None;
            let read =
                scan::scan_to_end(kafka, &topics.forecasts(), limit, |record| {
                    match decoded::<Forecast>(record) {
                        Some(forecast) if forecast.event_id == id => {
                            found = Some(forecast);
                            false
                        }
                        _ => true,
                    }
                })?;
            Some(match found {
                Some(forecast) => Link::Found(forecast),
                None => Link::Missing {
                    id,
                    records_read: read,
                },
            })
        }
    };
    let found_forecast = match &forecast {
        Some(Link::Found(forecast)) => Some(forecast),
        _ => None,
    };

    let wanted = derived_ids_of(&directive, found_forecast);
    let mut derived_found: BTreeMap<String, DerivedMetric> = BTreeMap::new();
    let mut derived_read = 0;
    if !wanted.is_empty() {
        let mut missing: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
        derived_read = scan::scan_to_end(kafka, &topics.derived(), limit, |record| {
            if let Some(metric) = decoded::<DerivedMetric>(record) {
                if missing.remove(metric.event_id.as_str()) {
                    derived_found.insert(metric.event_id.clone(), metric);
                }
            }
            !missing.is_empty()
        })?;
    }
    let derived: Vec<Link<DerivedMetric>> = wanted
        .iter()
        .map(|id| match derived_found.get(id) {
            Some(metric) => Link::Found(metric.clone()),
            None => Link::Missing {
                id: id.clone(),
                records_read: derived_read,
            },
        })
        .collect();
    // Only a courtesy (is the range still kept?): a failure leaves it unknown.
    let raw_watermarks = if derived_found.is_empty() {
        BTreeMap::new()
    } else {
        scan::watermarks(kafka, &topics.raw()).unwrap_or_default()
    };

    let mut template = None;
    let mut latest = None;
    let templates_read = scan::scan_to_end(kafka, &topics.templates(), limit, |record| {
        if let Some(version) = decoded::<TemplateVersion>(record) {
            if version.app == directive.app {
                if version.template_version == directive.template_version {
                    template = Some(version.clone());
                }
                latest = Some(version);
            }
        }
        true
    })?;
    let template = match template {
        Some(version) => Link::Found(version),
        None => Link::Missing {
            id: directive.template_version.clone(),
            records_read: templates_read,
        },
    };
    let latest_template = match template {
        Link::Found(_) => None,
        Link::Missing { .. } => latest,
    };

    Ok(Chain {
        topics,
        directive,
        forecast,
        derived,
        raw_watermarks,
        template,
        latest_template,
    })
}

fn decoded<E: presage_events::Event>(record: Record<'_>) -> Option<E> {
    decode::<E>(record.payload?).ok()
}

/// The one directive whose id starts with `prefix`: none or several is an error that says so.
fn find_directive(
    kafka: &KafkaArgs,
    topic: &str,
    prefix: &str,
    limit: Duration,
) -> anyhow::Result<ScalingDirective> {
    let prefix = prefix.trim();
    if prefix.chars().count() < MIN_PREFIX {
        return Err(Unresolved(format!(
            "give at least {MIN_PREFIX} characters of the directive id (got {prefix:?})"
        ))
        .into());
    }
    let mut matches: BTreeMap<String, ScalingDirective> = BTreeMap::new();
    let mut undecodable = 0u64;
    let read = scan::scan_to_end(kafka, topic, limit, |record| {
        match record.payload.map(decode::<ScalingDirective>) {
            Some(Ok(directive)) => {
                let id = &directive.event_id;
                if id.len() >= prefix.len()
                    && id.is_char_boundary(prefix.len())
                    && id[..prefix.len()].eq_ignore_ascii_case(prefix)
                {
                    matches.entry(id.clone()).or_insert(directive);
                }
            }
            Some(Err(_)) => undecodable += 1,
            None => {}
        }
        true
    })?;
    let skipped = if undecodable > 0 {
        format!(", {undecodable} of them not directives this version can read")
    } else {
        String::new()
    };
    match matches.len() {
        0 => Err(Unresolved(format!(
            "no directive with id {prefix}… in {topic} ({read} records read{skipped})"
        ))
        .into()),
        1 => Ok(matches.into_values().next().expect("one match")),
        n => {
            let mut message = format!(
                "{n} directives in {topic} have ids starting with {prefix}: give more of the id"
            );
            for directive in matches.values() {
                let _ = write!(
                    message,
                    "\n  {}",
                    crate::tail::directive_line(directive).replacen(
                        &format!("[{}]", crate::tail::short_id(&directive.event_id)),
                        &format!("[{}]", directive.event_id),
                        1
                    )
                );
            }
            Err(Unresolved(message).into())
        }
    }
}

/// A number as people read it: whole numbers without decimals, others to 3 decimals.
fn num(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    if value.abs() < 0.001 {
        return format!("{value:.3e}");
    }
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn score(score: Option<f64>) -> String {
    score.map_or_else(|| "unscored".to_string(), |s| format!("MASE {s:.2}"))
}

/// The template's definition of `scaling_policies[N]`, named at the start of a rule string, as
/// one line of flow YAML.
pub fn rule_definition(template_body: &str, rule: &str) -> Option<String> {
    let index: usize = rule
        .strip_prefix("scaling_policies[")?
        .split_once(']')?
        .0
        .parse()
        .ok()?;
    // The body comes from the topic: held to the template's bounds before yaml_serde reads it.
    presage_template::check_yaml_bounds(template_body, "template").ok()?;
    let doc: yaml_serde::Value = yaml_serde::from_str(template_body).ok()?;
    let policy = doc
        .get("dynamic_metadata")?
        .get("scaling_policies")?
        .get(index)?;
    Some(flow_yaml(policy))
}

fn flow_yaml(value: &yaml_serde::Value) -> String {
    use yaml_serde::Value;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
            if plain {
                s.clone()
            } else {
                format!("{s:?}")
            }
        }
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(flow_yaml).collect::<Vec<_>>().join(", ")
        ),
        Value::Mapping(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", flow_yaml(k), flow_yaml(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, flow_yaml(&tagged.value)),
    }
}

/// The chain as text: one section per link, each naming its topic.
pub fn render_chain(chain: &Chain) -> String {
    let mut out = String::new();
    let d = &chain.directive;
    let t = &chain.topics;
    let targets = targets_of(d);
    let template_body = match &chain.template {
        Link::Found(version) => Some(version.body.as_str()),
        Link::Missing { .. } => None,
    };

    // Directive.
    let _ = writeln!(out, "directive {}  ({})", d.event_id, t.directives());
    let _ = writeln!(out, "  app         {}", d.app);
    let _ = writeln!(out, "  mode        {}", d.mode);
    let _ = writeln!(
        out,
        "  targets     {}",
        targets
            .iter()
            .map(target_text)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "  issued      {}", rfc3339(d.issued_at_ms));
    let _ = writeln!(
        out,
        "  effective   {} ({} after issue)",
        rfc3339(d.effective_at_ms),
        offset_secs(d.effective_at_ms - d.issued_at_ms)
    );
    let _ = writeln!(out, "  decided on  {}", model_text(d));
    let _ = writeln!(out, "  reason      {}", d.reason);
    // The plan: targets scheduled for later instants, until a newer directive supersedes them.
    for (i, step) in d.plan.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}  due {} for {}: {}",
            if i == 0 { "plan      " } else { "          " },
            rfc3339(step.due_at_ms),
            rfc3339(step.effective_at_ms),
            step.targets
                .iter()
                .map(|t| format!(
                    "{}={} (forecast {})",
                    t.resource,
                    t.target,
                    num(t.forecast_value)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // Policy rules.
    let _ = writeln!(out, "\npolicy rule(s)");
    for target in &targets {
        let _ = writeln!(out, "  {}: {}", target.resource, target.policy);
        let _ = writeln!(
            out,
            "    {} → target {}",
            if target.reason.is_empty() {
                "(no reason given)"
            } else {
                &target.reason
            },
            target_text(target)
        );
        if let Some(rule) = template_body.and_then(|body| rule_definition(body, &target.policy)) {
            let _ = writeln!(out, "    as written: {rule}");
        }
    }

    // Forecast.
    match &chain.forecast {
        None => {
            let _ = writeln!(
                out,
                "\nforecast: none (the policy fell back to the observed metric)"
            );
        }
        Some(Link::Missing { id, records_read }) => {
            let _ = writeln!(
                out,
                "\nforecast {id}  ({}): not found ({records_read} records read; expired or never published)",
                t.forecasts()
            );
        }
        Some(Link::Found(f)) => render_forecast(&mut out, f, d, t),
    }

    // Derived windows.
    let _ = writeln!(out, "\nderived windows  ({})", t.derived());
    if chain.derived.is_empty() {
        let _ = writeln!(out, "  none named in the lineage");
    }
    for (n, link) in chain.derived.iter().enumerate() {
        match link {
            Link::Found(m) => {
                let labels = if m.labels.is_empty() {
                    String::new()
                } else {
                    format!(
                        " {{{}}}",
                        m.labels
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                };
                let _ = writeln!(
                    out,
                    "  {}. {}  recipe {}{labels}  window {} .. {}  value {}  samples {}",
                    n + 1,
                    m.event_id,
                    m.recipe,
                    rfc3339(m.window_start_ms),
                    rfc3339(m.window_end_ms),
                    num(m.value),
                    m.sample_count
                );
                if !m.signals.is_empty() {
                    let _ = writeln!(
                        out,
                        "     signals {}",
                        m.signals
                            .iter()
                            .map(|(k, v)| format!("{k}={}", num(*v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            Link::Missing { id, records_read } => {
                let _ = writeln!(
                    out,
                    "  {}. {id}  not found ({records_read} records read; expired or never published)",
                    n + 1
                );
            }
        }
    }

    // Raw sample ranges.
    let _ = writeln!(out, "\nraw samples  ({})", t.raw());
    let found: Vec<&DerivedMetric> = chain
        .derived
        .iter()
        .filter_map(|link| match link {
            Link::Found(m) => Some(m),
            Link::Missing { .. } => None,
        })
        .collect();
    if found.is_empty() {
        let _ = writeln!(out, "  unknown (no derived window found)");
    }
    for m in found {
        let kept = chain
            .raw_watermarks
            .get(&m.raw_partition)
            .map(|&(low, high)| {
                format!(
                    "; {}",
                    kept(m.raw_first_offset, m.raw_last_offset, low, high)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} window {}: partition {} offsets {}..{} (inclusive, {} offsets{kept})",
            m.recipe,
            rfc3339(m.window_start_ms),
            m.raw_partition,
            m.raw_first_offset,
            m.raw_last_offset,
            (m.raw_last_offset - m.raw_first_offset + 1).max(0)
        );
    }

    // Template version.
    match &chain.template {
        Link::Found(v) => {
            let _ = writeln!(
                out,
                "\ntemplate version {}  ({})",
                v.template_version,
                t.templates()
            );
            let _ = writeln!(out, "  app         {}", v.app);
            let _ = writeln!(out, "  published   {}", rfc3339(v.published_at_ms));
            let _ = writeln!(out, "  from        {} ({})", v.source_path, v.lineage);
        }
        Link::Missing { id, records_read } => {
            let _ = writeln!(
                out,
                "\ntemplate version {id}  ({}): not found ({records_read} records read)",
                t.templates()
            );
            match &chain.latest_template {
                Some(latest) => {
                    let _ = writeln!(
                        out,
                        "  the topic is compacted: {}'s version there now is {}, published {}",
                        latest.app,
                        latest.template_version,
                        rfc3339(latest.published_at_ms)
                    );
                }
                None => {
                    let _ = writeln!(out, "  no template of app {} is published", d.app);
                }
            }
        }
    }
    out
}

/// Whether the raw offsets `first..=last` are still in a partition holding `low..high`.
fn kept(first: i64, last: i64, low: i64, high: i64) -> String {
    let holds = if low >= high {
        "the partition is empty".to_string()
    } else {
        format!("the partition holds {low}..{}", high - 1)
    };
    if low <= first && last < high {
        "still kept".into()
    } else if last < low {
        format!("expired: {holds}")
    } else if first >= high {
        format!("not in the partition: {holds}")
    } else {
        format!("partly kept: {holds}")
    }
}

fn render_forecast(out: &mut String, f: &Forecast, d: &ScalingDirective, t: &Topics) {
    let _ = writeln!(out, "\nforecast {}  ({})", f.event_id, t.forecasts());
    let _ = writeln!(out, "  metric      {}", f.metric);
    if !f.labels.is_empty() {
        let labels: Vec<String> = f.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  group       {}", labels.join(", "));
    }
    if !f.constraints.is_empty() {
        let _ = writeln!(out, "  bounds      {}", f.constraints.join(", "));
    }
    let _ = writeln!(
        out,
        "  model       {} ({}{})",
        f.model,
        score(f.score),
        if f.cold_start { ", cold start" } else { "" }
    );
    if !f.candidates.is_empty() {
        let candidates = f
            .candidates
            .iter()
            .map(|c| match (c.mase, c.note.is_empty()) {
                (Some(mase), _) => format!("{} {mase:.2}", c.model),
                (None, true) => format!("{} unscored", c.model),
                (None, false) => format!("{} unscored ({})", c.model, c.note),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "  candidates  {candidates}");
    }
    let _ = writeln!(
        out,
        "  cold start  {}",
        if f.cold_start { "yes" } else { "no" }
    );
    let _ = writeln!(
        out,
        "  interval    {}% ({})",
        num(f.interval_level * 100.0),
        if f.interval_method.is_empty() {
            "method not recorded"
        } else {
            &f.interval_method
        }
    );
    let _ = writeln!(out, "  issued      {}", rfc3339(f.issued_at_ms));
    let _ = writeln!(
        out,
        "  fitted at   {} ({} history points, {} filled)",
        rfc3339(f.fitted_at_ms),
        f.history_points,
        f.filled_points
    );
    if !f.periods_ms.is_empty() {
        let _ = writeln!(
            out,
            "  seasons     {}",
            f.periods_ms
                .iter()
                .map(|p| offset_secs(*p).trim_start_matches('+').to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if f.points.is_empty() {
        let _ = writeln!(out, "  points      none");
        return;
    }
    // The point the planner used is the first at or after effective_at; show it between its
    // neighbours.
    let used = f
        .points
        .iter()
        .position(|p| p.at_ms >= d.effective_at_ms)
        .unwrap_or(f.points.len() - 1);
    let from = used.saturating_sub(1);
    let to = (used + 1).min(f.points.len() - 1);
    let _ = writeln!(
        out,
        "  points near effective_at (step {}, {} points):",
        offset_secs(f.step_ms).trim_start_matches('+'),
        f.points.len()
    );
    for (i, p) in f.points.iter().enumerate().take(to + 1).skip(from) {
        let _ = writeln!(
            out,
            "  {} {}  point {}  lower {}  upper {}{}",
            if i == used { "=>" } else { "  " },
            rfc3339(p.at_ms),
            num(p.point),
            num(p.lower),
            num(p.upper),
            if i == used { "  (effective_at)" } else { "" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_events::{ForecastPoint, ModelScore, ResourceTarget};

    const T0: i64 = 1_795_827_090_000; // 2026-11-28T00:51:30Z

    const BODY: &str = "app: grid-demand\ndynamic_metadata:\n  scaling_policies:\n    \
        - { resource: replicas, metric: demand_mw, per_unit: 2000, use: upper, lead_time: 1s, min: 1, max: 40 }\n";

    fn derived(tag: &str, start: i64, value: f64, first: i64) -> DerivedMetric {
        DerivedMetric {
            event_id: format!("{tag}{}", "0".repeat(32 - tag.len())),
            app: "grid-demand".into(),
            template_version: "tv1".into(),
            recipe: "demand_mw".into(),
            window_start_ms: start,
            window_end_ms: start + 1000,
            value,
            sample_count: 5,
            raw_partition: 2,
            raw_first_offset: first,
            raw_last_offset: first + 4,
            ..Default::default()
        }
    }

    fn chain() -> Chain {
        let d1 = derived("d1", T0 - 2000, 24_000.0, 100);
        let d2 = derived("d2", T0 - 1000, 25_500.5, 105);
        let forecast = Forecast {
            event_id: "f00d".repeat(8),
            app: "grid-demand".into(),
            template_version: "tv1".into(),
            metric: "demand_mw".into(),
            model: "ets".into(),
            issued_at_ms: T0,
            step_ms: 1000,
            interval_level: 0.9,
            points: vec![
                ForecastPoint {
                    at_ms: T0 + 1000,
                    point: 26_000.0,
                    lower: 25_000.0,
                    upper: 27_100.0,
                },
                ForecastPoint {
                    at_ms: T0 + 2000,
                    point: 26_500.0,
                    lower: 25_200.0,
                    upper: 27_800.0,
                },
            ],
            lineage: vec![d1.event_id.clone(), d2.event_id.clone()],
            fitted_at_ms: T0 - 1000,
            score: Some(0.4213),
            candidates: vec![
                ModelScore {
                    model: "ets".into(),
                    mase: Some(0.4213),
                    note: String::new(),
                },
                ModelScore {
                    model: "seasonal_naive".into(),
                    mase: None,
                    note: "not enough history".into(),
                },
            ],
            cold_start: false,
            interval_method: "conformal".into(),
            periods_ms: vec![4000],
            history_points: 60,
            filled_points: 2,
            ..Default::default()
        };
        let directive = ScalingDirective {
            event_id: "3f2a9c1e".repeat(4),
            app: "grid-demand".into(),
            template_version: "tv1".into(),
            resource: "replicas".into(),
            target: 14,
            previous_target: Some(12),
            forecast_value: 27_100.0,
            effective_at_ms: T0 + 1000,
            issued_at_ms: T0,
            policy: "scaling_policies[0] target_tracking replicas<-demand_mw".into(),
            reason: "replicas = 14: upper forecast 27100.0 at +1s / 2000 per unit = 14 units (model ets, MASE 0.42)".into(),
            lineage: vec![forecast.event_id.clone(), d2.event_id.clone()],
            mode: "live".into(),
            targets: vec![ResourceTarget {
                resource: "replicas".into(),
                target: 14,
                previous_target: Some(12),
                forecast_value: 27_100.0,
                policy: "scaling_policies[0] target_tracking replicas<-demand_mw".into(),
                reason: "upper forecast 27100.0 at +1s / 2000 per unit = 14 units".into(),
                at_max: false,
            }],
            forecast_id: forecast.event_id.clone(),
            model: "ets".into(),
            model_score: Some(0.4213),
            cold_start: false,
            fallback: false,
            plan: Vec::new(),
        };
        Chain {
            topics: Topics::default(),
            directive,
            forecast: Some(Link::Found(forecast)),
            derived: vec![Link::Found(d1), Link::Found(d2)],
            raw_watermarks: BTreeMap::from([(2, (0, 500))]),
            template: Link::Found(TemplateVersion {
                event_id: "t".into(),
                app: "grid-demand".into(),
                template_version: "tv1".into(),
                source_path: "templates/grid-demand.yaml".into(),
                body: BODY.into(),
                published_at_ms: T0 - 3_600_000,
                lineage: "file:templates/grid-demand.yaml".into(),
            }),
            latest_template: None,
        }
    }

    #[test]
    fn the_whole_chain_names_every_link_in_order() {
        let text = render_chain(&chain());
        let expected = [
            "directive 3f2a9c1e3f2a9c1e3f2a9c1e3f2a9c1e  (presage.directives)",
            "  targets     replicas=14 (was 12)",
            "  issued      2026-11-28T00:51:30Z",
            "  effective   2026-11-28T00:51:31Z (+1s after issue)",
            "  decided on  ets MASE 0.42",
            "policy rule(s)",
            "  replicas: scaling_policies[0] target_tracking replicas<-demand_mw",
            "    upper forecast 27100.0 at +1s / 2000 per unit = 14 units → target replicas=14 (was 12)",
            "    as written: { resource: replicas, metric: demand_mw, per_unit: 2000, use: upper, lead_time: 1s, min: 1, max: 40 }",
            "forecast f00df00df00df00df00df00df00df00d  (presage.forecasts)",
            "  model       ets (MASE 0.42)",
            "  candidates  ets 0.42, seasonal_naive unscored (not enough history)",
            "  cold start  no",
            "  interval    90% (conformal)",
            "  fitted at   2026-11-28T00:51:29Z (60 history points, 2 filled)",
            "  seasons     4s",
            "  points near effective_at (step 1s, 2 points):",
            "  => 2026-11-28T00:51:31Z  point 26000  lower 25000  upper 27100  (effective_at)",
            "     2026-11-28T00:51:32Z  point 26500  lower 25200  upper 27800",
            "derived windows  (presage.metrics.derived)",
            "  1. d1000000000000000000000000000000  recipe demand_mw  window 2026-11-28T00:51:28Z .. 2026-11-28T00:51:29Z  value 24000  samples 5",
            "  2. d2000000000000000000000000000000  recipe demand_mw  window 2026-11-28T00:51:29Z .. 2026-11-28T00:51:30Z  value 25500.5  samples 5",
            "raw samples  (presage.metrics.raw)",
            "  demand_mw window 2026-11-28T00:51:28Z: partition 2 offsets 100..104 (inclusive, 5 offsets; still kept)",
            "  demand_mw window 2026-11-28T00:51:29Z: partition 2 offsets 105..109 (inclusive, 5 offsets; still kept)",
            "template version tv1  (presage.templates)",
            "  published   2026-11-27T23:51:30Z",
            "  from        templates/grid-demand.yaml (file:templates/grid-demand.yaml)",
        ];
        let mut rest = text.as_str();
        for line in expected {
            let at = rest
                .find(&format!("{line}\n"))
                .unwrap_or_else(|| panic!("missing, or out of order: {line:?}\n{text}"));
            rest = &rest[at + line.len()..];
        }
    }

    #[test]
    fn a_plan_lists_each_step_with_its_due_and_effective_instants() {
        let mut c = chain();
        c.directive.plan = vec![presage_events::PlannedStep {
            due_at_ms: T0 + 3_600_000,
            effective_at_ms: T0 + 3_601_000,
            targets: vec![presage_events::PlannedTarget {
                resource: "replicas".into(),
                target: 18,
                forecast_value: 35_000.0,
            }],
        }];
        let text = render_chain(&c);
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("plan"))
            .unwrap_or_else(|| panic!("no plan line: {text}"));
        assert!(
            line.contains(&format!("due {}", rfc3339(T0 + 3_600_000))),
            "{line}"
        );
        assert!(
            line.contains(&format!("for {}", rfc3339(T0 + 3_601_000))),
            "{line}"
        );
        assert!(line.contains("replicas=18 (forecast 35000)"), "{line}");
        assert!(
            !render_chain(&chain()).contains("\n  plan"),
            "no plan, no plan line"
        );
    }

    #[test]
    fn missing_links_say_what_was_searched_and_a_compacted_template_names_the_newer_one() {
        let mut c = chain();
        c.forecast = Some(Link::Missing {
            id: "f00d".repeat(8),
            records_read: 41,
        });
        c.derived = vec![Link::Missing {
            id: "d2".into(),
            records_read: 900,
        }];
        c.template = Link::Missing {
            id: "tv1".into(),
            records_read: 3,
        };
        c.latest_template = Some(TemplateVersion {
            event_id: "t2".into(),
            app: "grid-demand".into(),
            template_version: "tv2".into(),
            source_path: "x.yaml".into(),
            body: String::new(),
            published_at_ms: T0,
            lineage: String::new(),
        });
        let text = render_chain(&c);
        for line in [
            "forecast f00df00df00df00df00df00df00df00d  (presage.forecasts): not found (41 records read; expired or never published)",
            "  1. d2  not found (900 records read; expired or never published)",
            "  unknown (no derived window found)",
            "template version tv1  (presage.templates): not found (3 records read)",
            "  the topic is compacted: grid-demand's version there now is tv2, published 2026-11-28T00:51:30Z",
        ] {
            assert!(text.contains(line), "missing {line:?}\n{text}");
        }
        // Without the template, the rule's definition is unknown.
        assert!(!text.contains("as written"), "{text}");
    }

    #[test]
    fn a_fallback_has_no_forecast_and_its_lineage_is_the_observed_window() {
        let mut c = chain();
        c.directive.fallback = true;
        c.directive.forecast_id = String::new();
        c.directive.lineage = vec!["obs".into()];
        assert_eq!(forecast_id_of(&c.directive), None);
        assert_eq!(derived_ids_of(&c.directive, None), vec!["obs".to_string()]);
        c.forecast = None;
        let text = render_chain(&c);
        assert!(text.contains("  decided on  fallback\n"), "{text}");
        assert!(
            text.contains("forecast: none (the policy fell back to the observed metric)"),
            "{text}"
        );
    }

    #[test]
    fn a_groups_forecast_shows_its_labels_and_the_constraints_on_its_bounds() {
        let mut c = chain();
        let text = render_chain(&c);
        assert!(
            !text.contains("  group ") && !text.contains("  bounds "),
            "{text}"
        );
        let Some(Link::Found(forecast)) = c.forecast.as_mut() else {
            panic!("the chain has its forecast");
        };
        forecast.labels = [("zone".to_string(), "eu".to_string())].into();
        forecast.constraints = vec!["non_negative".into(), "integer".into()];
        let text = render_chain(&c);
        assert!(text.contains("  group       zone=eu\n"), "{text}");
        assert!(
            text.contains("  bounds      non_negative, integer\n"),
            "{text}"
        );
    }

    #[test]
    fn an_older_directive_names_its_forecast_first_in_its_lineage() {
        let mut d = chain().directive;
        d.forecast_id = String::new();
        d.lineage = vec!["fc".into(), "w1".into(), "w2".into()];
        assert_eq!(forecast_id_of(&d), Some("fc".to_string()));
        assert_eq!(derived_ids_of(&d, None), vec!["w1", "w2"]);
        let forecast = Forecast {
            lineage: vec!["w3".into()],
            ..Default::default()
        };
        assert_eq!(derived_ids_of(&d, Some(&forecast)), vec!["w3"]);
    }

    #[test]
    fn raw_ranges_say_whether_the_samples_are_still_kept() {
        let mut c = chain();
        c.raw_watermarks = BTreeMap::from([(2, (103, 500))]);
        let text = render_chain(&c);
        assert!(
            text.contains(
                "offsets 100..104 (inclusive, 5 offsets; partly kept: the partition holds 103..499)"
            ),
            "{text}"
        );
        c.raw_watermarks = BTreeMap::from([(2, (200, 500))]);
        let text = render_chain(&c);
        assert!(
            text.contains(
                "offsets 105..109 (inclusive, 5 offsets; expired: the partition holds 200..499)"
            ),
            "{text}"
        );
        c.raw_watermarks = BTreeMap::from([(2, (0, 0))]);
        let text = render_chain(&c);
        assert!(
            text.contains("offsets 105..109 (inclusive, 5 offsets; not in the partition: the partition is empty)"),
            "{text}"
        );
    }

    #[test]
    fn numbers_print_without_noise() {
        assert_eq!(num(25_000.0), "25000");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(0.0001), "1.000e-4");
    }
}
