//! `presage completions SHELL`: the completion script for the whole CLI, generated from the clap
//! definitions at run time, so it offers exactly the subcommands and flags this binary has.

use std::io::Write;

use anyhow::Context;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
#[command(after_help = crate::examples::COMPLETIONS)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script of `presage` for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cli = crate::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cli, "presage", &mut script);
    script
}

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    // Generated into memory first: clap_complete panics when its writer fails, and a closed pipe
    // (`presage completions bash | head`) should be an error message, not a panic.
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script(args.shell))
        .and_then(|()| stdout.flush())
        .context("writing the completion script to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(shell: Shell) -> String {
        String::from_utf8(script(shell)).expect("scripts are UTF-8")
    }

    #[test]
    fn every_shell_gets_a_script_that_names_nested_subcommands() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let script = text(shell);
            for word in ["backtest", "explain", "directives", "publish"] {
                assert!(script.contains(word), "{shell}: no {word:?} in\n{script}");
            }
        }
    }

    #[test]
    fn flags_flattened_from_the_runner_are_completed() {
        // --brokers and --topic-prefix come from presage_runner::KafkaArgs, not from this crate.
        let script = text(Shell::Fish);
        for flag in ["brokers", "topic-prefix", "from-beginning", "max-slack"] {
            assert!(
                script.contains(&format!("-l {flag}")),
                "no --{flag} in\n{script}"
            );
        }
    }
}
