//! `presage man`: roff man pages generated from the clap definitions, one for `presage` and, with
//! `--dir`, one per subcommand (`presage-up.1`, `presage-topics-create.1`, ...).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

#[derive(Debug, clap::Args)]
#[command(after_help = crate::examples::MAN)]
pub struct ManArgs {
    /// Write presage.1 and one page per subcommand into this directory (created if missing)
    /// instead of printing presage.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The command tree the pages describe. Without clap's `help` subcommand: it would be listed
/// with a page (`presage-help(1)`) that nobody needs and `--dir` would not write.
fn tree() -> clap::Command {
    let mut cli = crate::command().disable_help_subcommand(true);
    // Gives each subcommand its display name (`presage-topics-create`), which names its page.
    cli.build();
    cli
}

/// The page of one command. clap_mangen would put the `--help` examples under EXTRA as filled
/// text, running the command lines together and hyphenating their flags; they go under
/// EXAMPLES instead, each command on a line of its own.
fn render(cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let after_help = cmd
        .get_after_long_help()
        .or(cmd.get_after_help())
        .map(|text| text.to_string());
    let without = cmd
        .clone()
        .after_help(None::<&str>)
        .after_long_help(None::<&str>);
    // Every page carries the binary's version: clap gives only the root command one.
    Man::new(without)
        .source(format!("presage {}", env!("CARGO_PKG_VERSION")))
        .manual("Presage Manual")
        .render(out)?;
    match after_help {
        Some(text) => out.write_all(examples_section(&text).as_bytes()),
        None => Ok(()),
    }
}

/// `--help`'s text after the options as a roff EXAMPLES section: indented lines (the commands)
/// unfilled, the rest as paragraphs.
fn examples_section(after_help: &str) -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["EXAMPLES"]);
    let mut in_commands = false;
    for line in after_help.lines().filter(|l| l.trim() != "Examples:") {
        let command = line.starts_with("  ") && !line.trim().is_empty();
        if command && !in_commands {
            roff.control("RS", ["4"]).control("nf", []);
        } else if !command && in_commands {
            roff.control("fi", []).control("RE", []);
        }
        in_commands = command;
        if line.trim().is_empty() {
            roff.control("PP", []);
        } else {
            roff.text([roman(line.trim())]);
        }
    }
    if in_commands {
        roff.control("fi", []).control("RE", []);
    }
    roff.to_roff()
}

/// The page of `presage` itself.
pub fn page() -> Vec<u8> {
    let mut page = Vec::new();
    render(&tree(), &mut page).expect("rendering into memory cannot fail");
    page
}

/// Writes the page of `presage` and of every visible subcommand, at every depth, into `dir`;
/// returns the files written, parents before their subcommands.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    write_tree(&tree(), dir, &mut written)?;
    Ok(written)
}

fn write_tree(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    render(cmd, &mut page).expect("rendering into memory cannot fail");
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_tree(sub, dir, written)?;
    }
    Ok(())
}

pub fn man_command(args: &ManArgs) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match &args.dir {
        None => stdout.write_all(&page()),
        Some(dir) => {
            for path in write_pages(dir)? {
                writeln!(stdout, "{}", path.display())?;
            }
            Ok(())
        }
    }
    .and_then(|()| stdout.flush())
    .context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_text() -> String {
        String::from_utf8(page()).unwrap()
    }

    #[test]
    fn the_top_page_lists_every_subcommand_but_help() {
        let page = page_text();
        assert!(page.contains("\n.TH presage 1 "), "{page}");
        for sub in crate::command().get_subcommands() {
            let name = sub.get_name();
            let listed = page.contains(&format!("presage\\-{}(1)", name.replace('-', "\\-")));
            assert_eq!(listed, name != "help", "{name} in\n{page}");
        }
    }

    #[test]
    fn a_page_per_subcommand_at_every_depth_named_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_pages(&dir.path().join("man1")).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for expected in [
            "presage.1",
            "presage-up.1",
            "presage-topics.1",
            "presage-topics-create.1",
            "presage-tail-directives.1",
            "presage-man.1",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} not in {names:?}"
            );
        }
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    }

    #[test]
    fn every_page_names_the_binary_and_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let footer = format!(
            "\"presage {}\" \"Presage Manual\"",
            env!("CARGO_PKG_VERSION")
        );
        for path in write_pages(dir.path()).unwrap() {
            let page = std::fs::read_to_string(&path).unwrap();
            let title = page.lines().find(|l| l.starts_with(".TH ")).unwrap();
            assert!(title.ends_with(&footer), "{}: {title}", path.display());
        }
    }

    #[test]
    fn examples_become_an_examples_section_with_the_commands_unfilled() {
        let section = examples_section(crate::examples::TOPICS_CREATE);
        let lines: Vec<&str> = section.lines().collect();
        assert_eq!(lines[..3], [".SH EXAMPLES", ".RS 4", ".nf"], "{section}");
        assert_eq!(
            lines[3], "presage topics create \\-\\-brokers 127.0.0.1:9092",
            "{section}"
        );
        let fill = lines.iter().position(|l| *l == ".fi").unwrap();
        assert_eq!(lines[fill..fill + 3], [".fi", ".RE", ".PP"], "{section}");
        assert!(
            lines[fill + 3].starts_with("Topics that already exist"),
            "{section}"
        );
        assert!(!section.contains("Examples:"), "{section}");
    }

    #[test]
    fn a_command_without_examples_has_no_examples_section() {
        let demo = tree().find_subcommand("demo-workload").unwrap().clone();
        let mut page = Vec::new();
        render(&demo, &mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(
            !page.contains(".SH EXAMPLES") && !page.contains(".SH EXTRA"),
            "{page}"
        );
    }
}
