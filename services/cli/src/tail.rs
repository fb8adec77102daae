//! `presage tail directives`: the planner's decisions as they are published, one line each,
//! until Ctrl-C. Reads by assignment (no group, no commits), so it never disturbs the applier.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use presage_events::{decode, ResourceTarget, ScalingDirective};
use presage_runner::{KafkaArgs, Shutdown};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::Message;

use crate::rfc3339::rfc3339;
use crate::scan;

/// Characters of a reason kept on a tail line.
const REASON_CHARS: usize = 60;

#[derive(Debug, clap::Subcommand)]
pub enum TailCommand {
    /// Print each planner directive on one line as it is published, until Ctrl-C.
    #[command(after_help = crate::examples::TAIL)]
    Directives(TailDirectivesArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeFilter {
    Live,
    Shadow,
    All,
}

impl ModeFilter {
    pub fn accepts(self, mode: &str) -> bool {
        match self {
            ModeFilter::Live => mode == "live",
            ModeFilter::Shadow => mode == "shadow",
            ModeFilter::All => true,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct TailDirectivesArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Start from the oldest directive kept, not from the next one published.
    #[arg(long)]
    pub from_beginning: bool,
    /// Only this app's directives.
    #[arg(long)]
    pub app: Option<String>,
    /// Only live directives (those the applier applies), only shadow ones, or all.
    #[arg(long, value_enum, default_value_t = ModeFilter::All)]
    pub mode: ModeFilter,
}

impl TailDirectivesArgs {
    fn accepts(&self, directive: &ScalingDirective) -> bool {
        self.mode.accepts(&directive.mode)
            && self.app.as_ref().is_none_or(|app| *app == directive.app)
    }
}

pub fn tail(command: TailCommand) -> anyhow::Result<()> {
    match command {
        TailCommand::Directives(args) => tail_directives(&args),
    }
}

fn tail_directives(args: &TailDirectivesArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    let topic = args.kafka.topics().directives();
    let consumer = scan::consumer(&args.kafka, "tail")?;
    scan::assign_all(&consumer, &topic, args.from_beginning)?;
    eprintln!(
        "tailing {topic} from {} (Ctrl-C to stop)",
        if args.from_beginning {
            "the beginning"
        } else {
            "now"
        }
    );
    let mut out = std::io::stdout();
    while !shutdown.requested() {
        match consumer.poll(Duration::from_millis(200)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(err)) => {
                // Brokers come and go; librdkafka reconnects by itself.
                eprintln!("warning: reading {topic}: {err}");
                shutdown.sleep(Duration::from_secs(1));
            }
            Some(Ok(message)) => {
                let Some(payload) = message.payload() else {
                    continue;
                };
                match decode::<ScalingDirective>(payload) {
                    Ok(directive) if args.accepts(&directive) => {
                        // A closed pipe (`| head`) ends the tail quietly.
                        if writeln!(out, "{}", directive_line(&directive)).is_err()
                            || out.flush().is_err()
                        {
                            return Ok(());
                        }
                    }
                    Ok(_) => {}
                    Err(err) => eprintln!(
                        "{topic} {}@{}: not a directive: {err}",
                        message.partition(),
                        message.offset()
                    ),
                }
            }
        }
    }
    let _ = consumer.unassign();
    Ok(())
}

/// A directive's targets; an older directive without `targets` has only its top-level one.
pub fn targets_of(directive: &ScalingDirective) -> Vec<ResourceTarget> {
    if !directive.targets.is_empty() {
        return directive.targets.clone();
    }
    vec![ResourceTarget {
        resource: directive.resource.clone(),
        target: directive.target,
        previous_target: directive.previous_target,
        forecast_value: directive.forecast_value,
        policy: directive.policy.clone(),
        reason: directive.reason.clone(),
        at_max: false,
    }]
}

/// `replicas=14 (was 12) AT MAX`: the target, what it was when that differs, and whether it
/// is held at the policy's max.
pub fn target_text(target: &ResourceTarget) -> String {
    let mut text = format!("{}={}", target.resource, target.target);
    if let Some(previous) = target.previous_target.filter(|p| *p != target.target) {
        text.push_str(&format!(" (was {previous})"));
    }
    if target.at_max {
        text.push_str(" AT MAX");
    }
    text
}

/// `mstl MASE 0.42`, `naive cold`, `fallback`: what the decision was made from.
pub fn model_text(directive: &ScalingDirective) -> String {
    if directive.fallback {
        return "fallback".into();
    }
    if directive.model.is_empty() {
        return "no model".into();
    }
    let mut text = directive.model.clone();
    match directive.model_score {
        Some(score) => text.push_str(&format!(" MASE {score:.2}")),
        None if !directive.cold_start => text.push_str(" unscored"),
        None => {}
    }
    if directive.cold_start {
        text.push_str(" cold");
    }
    text
}

/// The first 8 characters of an event id.
pub fn short_id(id: &str) -> &str {
    id.char_indices().nth(8).map_or(id, |(at, _)| &id[..at])
}

/// Whitespace (newlines included) collapsed to single spaces, cut at a word boundary to at
/// most `max` characters, with ` …` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut = flat
        .char_indices()
        .nth(max)
        .map_or(flat.len(), |(at, _)| at);
    let head = &flat[..cut];
    let head = match head.rfind(' ') {
        // Cut inside a word: drop the partial word.
        Some(space) if space > 0 && !flat[cut..].starts_with(' ') => &head[..space],
        _ => head,
    };
    format!("{} …", head.trim_end_matches([';', ',', ':']))
}

/// One line for one directive: event time, app, mode, every target, model and score, a
/// shortened reason and the id's first 8 characters.
pub fn directive_line(directive: &ScalingDirective) -> String {
    let flat = |text: &str| {
        if text.is_empty() {
            "-".to_string()
        } else {
            text.split_whitespace().collect::<Vec<_>>().join("_")
        }
    };
    let targets = targets_of(directive);
    let mut line = format!(
        "{} {} {}",
        rfc3339(directive.issued_at_ms),
        flat(&directive.app),
        flat(&directive.mode)
    );
    for target in &targets {
        line.push(' ');
        line.push_str(&shorten(&target_text(target), usize::MAX));
    }
    line.push_str(" · ");
    line.push_str(&shorten(&model_text(directive), REASON_CHARS));
    // A plan: how many steps, and the first (the rest are in `presage explain`).
    if let Some(first) = directive.plan.iter().min_by_key(|s| s.due_at_ms) {
        let targets: Vec<String> = first
            .targets
            .iter()
            .map(|t| format!("{}={}", t.resource, t.target))
            .collect();
        line.push_str(&format!(
            " · plan {} step(s), first {} at {}",
            directive.plan.len(),
            targets.join(","),
            rfc3339(first.due_at_ms)
        ));
    }
    let reason = targets
        .first()
        .map(|t| t.reason.as_str())
        .filter(|r| !r.trim().is_empty())
        .unwrap_or(&directive.reason);
    let reason = shorten(reason, REASON_CHARS);
    if !reason.is_empty() {
        line.push_str(" · ");
        line.push_str(&reason);
    }
    line.push_str(&format!(" [{}]", short_id(&directive.event_id)));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-28T00:51:30Z.
    const ISSUED: i64 = 1_795_827_090_000;

    fn target(resource: &str, target: i64, previous: Option<i64>) -> ResourceTarget {
        ResourceTarget {
            resource: resource.into(),
            target,
            previous_target: previous,
            forecast_value: 27_100.0,
            policy: format!("scaling_policies[0] target_tracking {resource}<-demand"),
            reason: String::new(),
            at_max: false,
        }
    }

    fn directive() -> ScalingDirective {
        ScalingDirective {
            event_id: "3f2a9c1e0b7d4a5f9e8c7b6a5d4c3b2a".into(),
            app: "grid-demand".into(),
            template_version: "v1".into(),
            issued_at_ms: ISSUED,
            mode: "live".into(),
            targets: vec![
                ResourceTarget {
                    reason: "upper forecast 27100.0 at +300s / 2000 per unit = 14 units".into(),
                    ..target("replicas", 14, Some(12))
                },
                target("memory_mb", 2048, Some(2048)),
            ],
            resource: "replicas".into(),
            target: 14,
            forecast_id: "f".repeat(32),
            model: "mstl".into(),
            model_score: Some(0.4213),
            ..Default::default()
        }
    }

    #[test]
    fn a_directive_is_one_line_with_every_target_the_model_and_a_short_reason() {
        assert_eq!(
            directive_line(&directive()),
            "2026-11-28T00:51:30Z grid-demand live replicas=14 (was 12) memory_mb=2048 \
             · mstl MASE 0.42 · upper forecast 27100.0 at +300s / 2000 per unit = 14 units \
             [3f2a9c1e]"
        );
    }

    #[test]
    fn a_plan_is_counted_with_its_first_step_on_the_line() {
        let mut d = directive();
        d.plan = [(3, 20), (1, 18)]
            .into_iter()
            .map(|(hours, target)| presage_events::PlannedStep {
                due_at_ms: ISSUED + hours * 3_600_000,
                effective_at_ms: ISSUED + hours * 3_600_000 + 300_000,
                targets: vec![presage_events::PlannedTarget {
                    resource: "replicas".into(),
                    target,
                    forecast_value: 0.0,
                }],
            })
            .collect();
        let line = directive_line(&d);
        assert!(
            line.contains(" · plan 2 step(s), first replicas=18 at 2026-11-28T01:51:30Z · "),
            "{line}"
        );
    }

    #[test]
    fn a_target_held_at_max_says_so_and_a_first_target_has_no_was() {
        let mut d = directive();
        d.targets[0].at_max = true;
        d.targets[0].target = 40;
        d.targets[1].previous_target = None;
        let line = directive_line(&d);
        assert!(
            line.contains(" replicas=40 (was 12) AT MAX memory_mb=2048 · "),
            "{line}"
        );
    }

    #[test]
    fn a_cold_start_and_an_unscored_model_are_named() {
        let mut d = directive();
        d.model = "naive".into();
        d.model_score = None;
        d.cold_start = true;
        assert!(directive_line(&d).contains(" · naive cold · "));
        d.cold_start = false;
        assert!(directive_line(&d).contains(" · naive unscored · "));
        d.model_score = Some(1.5);
        d.cold_start = true;
        assert!(directive_line(&d).contains(" · naive MASE 1.50 cold · "));
    }

    #[test]
    fn a_fallback_directive_says_fallback() {
        let mut d = directive();
        d.fallback = true;
        d.model = String::new();
        d.targets[0].reason =
            "fell back (no forecast yet): observed 100.0 with 20% headroom = 120.0".into();
        let line = directive_line(&d);
        assert!(
            line.contains(" · fallback · fell back (no forecast yet): observed 100.0 with"),
            "{line}"
        );
    }

    #[test]
    fn an_older_directive_without_targets_shows_its_top_level_target() {
        let d = ScalingDirective {
            event_id: "abc".into(),
            app: "shop".into(),
            mode: "shadow".into(),
            resource: "replicas".into(),
            target: 7,
            previous_target: Some(5),
            reason: "replicas = 7: mean forecast 650.0 at +60s / 100 per unit = 7 units".into(),
            issued_at_ms: 60_000,
            ..Default::default()
        };
        assert_eq!(
            directive_line(&d),
            "1970-01-01T00:01:00Z shop shadow replicas=7 (was 5) · no model \
             · replicas = 7: mean forecast 650.0 at +60s / 100 per unit = 7 … [abc]"
        );
    }

    #[test]
    fn a_long_or_multiline_reason_stays_on_one_short_line() {
        let mut d = directive();
        d.targets[0].reason = format!("line one\nline two {}", "word ".repeat(40));
        let line = directive_line(&d);
        assert!(!line.contains('\n'), "{line}");
        let reason = line.split(" · ").nth(2).unwrap();
        assert!(reason.starts_with("line one line two word"), "{line}");
        assert!(reason.ends_with("word … [3f2a9c1e]"), "{line}");
        assert!(reason.chars().count() <= REASON_CHARS + 13, "{line}");
    }

    #[test]
    fn shorten_cuts_at_a_word_and_keeps_short_text() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("one two three", 9), "one two …");
        assert_eq!(shorten("a; b", 2), "a …");
        assert_eq!(shorten("unbroken", 4), "unbr …");
    }

    #[test]
    fn the_mode_filter_accepts_what_it_names() {
        assert!(ModeFilter::All.accepts("backtest"));
        assert!(ModeFilter::Live.accepts("live") && !ModeFilter::Live.accepts("shadow"));
        assert!(ModeFilter::Shadow.accepts("shadow") && !ModeFilter::Shadow.accepts("live"));
    }
}
