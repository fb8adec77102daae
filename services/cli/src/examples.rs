//! The examples `--help` shows after the options (and the man pages under EXTRA), one constant
//! per command. Every line starting with `presage ` is parsed through the clap definition by the
//! tests below, so an example naming a flag that was renamed or removed fails the build's tests.
//! (`up` and `dashboard` keep theirs beside their arguments, and are held to the same check.)

pub const PRESAGE: &str = "Examples:
  presage up --demo
  presage validate templates/grid-demand.yaml
  presage tail directives --brokers 127.0.0.1:9092
  presage explain 3f2a9c1e --brokers 127.0.0.1:9092

`presage COMMAND --help` shows each command's options and examples.";

pub const VALIDATE: &str = "Examples:
  presage validate templates/grid-demand.yaml templates/checkout-api.yaml
  presage validate --allow deploy/allow.yaml templates/checkout-api.yaml

Every mistake is printed as file:line:column: message; the exit code is 1 when any template is
invalid.";

pub const COMPILE: &str = "Examples:
  presage compile templates/checkout-api.yaml
  presage compile templates/checkout-api.yaml --recipe p95_latency_s";

pub const TOPICS_CREATE: &str = "Examples:
  presage topics create --brokers 127.0.0.1:9092
  presage topics create --brokers kafka-1:9092 --topic-prefix staging- --pipeline my-topics.yaml
  presage topics create --brokers kafka-1:9093 -X security.protocol=SASL_SSL --kafka-properties client.properties

Topics that already exist are left alone: running it again is safe.";

pub const TEMPLATES_PUBLISH: &str = "Examples:
  presage templates publish --brokers 127.0.0.1:9092 templates/grid-demand.yaml
  presage templates publish --brokers kafka-1:9092 --topic-prefix staging- templates/checkout-api.yaml templates/grid-demand.yaml

Every file is first checked as `presage validate` checks it; if any fails, none is published.";

pub const RUN: &str = "Examples:
  presage run planner --brokers kafka-1:9092,kafka-2:9092
  presage run applier --brokers 127.0.0.1:9092 --allow deploy/allow.yaml
  presage run collector --brokers kafka-1:9093 --kafka-properties client.properties --allow deploy/allow.yaml

The service replaces this process, so signals reach it directly. It serves /metrics, /healthz and
/readyz when PRESAGE_METRICS_LISTEN is set (e.g. 127.0.0.1:9465).";

pub const TAIL: &str = "Examples:
  presage tail directives --brokers 127.0.0.1:9092
  presage tail directives --brokers kafka-1:9092 --app grid-demand --mode live --from-beginning

The last column, in brackets, is the start of the directive's id: `presage explain` takes it.";

pub const EXPLAIN: &str = "Examples:
  presage explain 3f2a9c1e --brokers 127.0.0.1:9092
  presage explain 3f2a9c1e --brokers kafka-1:9092 --topic-prefix staging- --timeout 300

The id (or its first 6 characters or more) is the bracketed last column of `presage tail
directives`.";

pub const BACKTEST: &str = "Examples:
  presage backtest --template templates/backtest/grid-ew.yaml --trace ../shared/data/taylor-demand.csv --warmup 14d
  presage backtest --template my-app.yaml --compare my-app-eager.yaml --brokers kafka-1:9092 --from 2026-10-01 --to 2026-11-01
  presage backtest --template my-app.yaml --trace trace.csv --max-under-provisioned 0.5% --max-slack 30%

The scorecard is printed and written to --json and --html (var/backtest/ by default); the exit
code is 1 when a live policy misses --max-under-provisioned or --max-slack.";

pub const COMPLETIONS: &str = "Examples:
  presage completions bash > ~/.local/share/bash-completion/completions/presage
  presage completions zsh > ~/.zfunc/_presage
  presage completions fish > ~/.config/fish/completions/presage.fish

For zsh, ~/.zfunc must be in fpath before compinit runs.";

pub const MAN: &str = "Examples:
  presage man | man -l -
  presage man --dir ~/.local/share/man/man1

With --dir, every page written is printed; then `man presage-up` opens one (when
~/.local/share/man is on the manual path).";

#[cfg(test)]
mod tests {
    use clap::Command;

    /// The words of an example as a shell would pass them, up to the first redirection, pipe or
    /// comment (examples are written without quotes, so whitespace is the only separator).
    fn words(line: &str) -> Vec<&str> {
        line.split_whitespace()
            .take_while(|w| !matches!(*w, ">" | ">>" | "|" | "#"))
            .collect()
    }

    /// Every example line of `cmd` and of its subcommands, with the subcommand path it is shown
    /// under (`["topics", "create"]`).
    fn examples(cmd: &Command, path: &[String], found: &mut Vec<(Vec<String>, String)>) {
        let help = [cmd.get_after_help(), cmd.get_after_long_help()];
        for text in help.into_iter().flatten() {
            for line in text.to_string().lines() {
                if line.trim_start().starts_with("presage ") {
                    found.push((path.to_vec(), line.trim().to_string()));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            let mut path = path.to_vec();
            path.push(sub.get_name().to_string());
            examples(sub, &path, found);
        }
    }

    fn all_examples() -> Vec<(Vec<String>, String)> {
        let mut found = Vec::new();
        examples(&crate::command(), &[], &mut found);
        found
    }

    /// The subcommand path an example line parses to, or clap's complaint.
    fn parse(line: &str) -> Result<Vec<String>, String> {
        let matches = crate::command()
            .try_get_matches_from(words(line))
            .map_err(|err| err.to_string())?;
        let mut path = Vec::new();
        let mut at = &matches;
        while let Some((name, sub)) = at.subcommand() {
            path.push(name.to_string());
            at = sub;
        }
        Ok(path)
    }

    #[test]
    fn every_example_parses_as_the_command_it_is_shown_under() {
        let examples = all_examples();
        for (shown_under, line) in &examples {
            match parse(line) {
                Ok(path) => assert!(
                    path.starts_with(shown_under),
                    "`{line}` runs {path:?}, but is shown under {shown_under:?}"
                ),
                Err(err) => {
                    panic!("the example `{line}` (under {shown_under:?}) does not parse:\n{err}")
                }
            }
        }
    }

    #[test]
    fn the_main_commands_show_examples() {
        let examples = all_examples();
        for command in [
            "validate",
            "compile",
            "topics create",
            "templates publish",
            "run",
            "up",
            "tail",
            "tail directives",
            "explain",
            "dashboard",
            "backtest",
            "completions",
            "man",
        ] {
            let path: Vec<String> = command.split(' ').map(String::from).collect();
            let count = examples.iter().filter(|(under, _)| *under == path).count();
            assert!(count >= 1, "`presage {command} --help` shows no example");
        }
    }

    #[test]
    fn an_example_with_a_flag_that_does_not_exist_is_caught() {
        // What the first test would report if a flag drifted.
        let err = parse("presage explain 3f2a9c1e --brokers 127.0.0.1:9092 --wait 30").unwrap_err();
        assert!(err.contains("--wait"), "{err}");
        let err = parse("presage tail directives --mode everything").unwrap_err();
        assert!(err.contains("everything"), "{err}");
    }

    #[test]
    fn examples_are_cut_at_redirections_and_pipes() {
        assert_eq!(
            words("presage completions bash > ~/x  # done"),
            ["presage", "completions", "bash"]
        );
        assert_eq!(words("presage man | man -l -"), ["presage", "man"]);
    }
}
