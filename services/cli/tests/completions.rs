//! `presage completions SHELL` and `presage man`, run as a user runs them: the scripts and pages
//! come out of the built binary and are handed to the real bash and groff.

mod common;

use std::path::Path;
use std::process::Command;

use common::{presage, text};

fn stdout_of(args: &[&str]) -> String {
    let output = presage(args);
    assert!(
        output.status.success(),
        "presage {args:?}: {}",
        text(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 on stdout")
}

/// What the bash completion function offers for `words`, the last one being completed.
fn bash_completes(script: &Path, words: &[&str]) -> Vec<String> {
    // The words go in as positional parameters, so nothing in them is shell syntax.
    let program = r#"source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _presage presage "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf '%s\n' "${COMPREPLY[@]}""#;
    let output = Command::new("bash")
        .arg("-c")
        .arg(program)
        .arg("bash")
        .arg(script)
        .args(words)
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_bash_script_names_the_subcommands_and_flags_and_bash_accepts_it() {
    let script = stdout_of(&["completions", "bash"]);
    for word in [
        "backtest",
        "explain",
        "directives",
        "--brokers",
        "--from-beginning",
    ] {
        assert!(script.contains(word), "no {word:?} in the bash script");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("presage.bash");
    std::fs::write(&file, &script).unwrap();
    let checked = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn bash_completes_subcommands_flags_and_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("presage.bash");
    std::fs::write(&file, stdout_of(&["completions", "bash"])).unwrap();
    assert_eq!(bash_completes(&file, &["presage", "back"]), ["backtest"]);
    assert_eq!(
        bash_completes(&file, &["presage", "explain", "--bro"]),
        ["--brokers"]
    );
    assert_eq!(
        bash_completes(&file, &["presage", "tail", "directives", "--mode", ""]),
        ["live", "shadow", "all"]
    );
}

#[test]
fn the_zsh_script_is_an_autoloadable_completion_function() {
    let script = stdout_of(&["completions", "zsh"]);
    assert!(script.starts_with("#compdef presage\n"), "{script}");
    assert!(script.contains("--brokers"), "{script}");
}

#[test]
fn every_shell_clap_complete_knows_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains("backtest"), "{shell}: {script}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_listing_the_shells() {
    let output = presage(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value 'tcsh'")
            && stderr.contains("bash, elvish, fish, powershell, zsh"),
        "{stderr}"
    );
}

#[test]
fn the_man_page_has_a_title_and_lists_the_subcommands() {
    let page = stdout_of(&["man"]);
    // Only the roff crate's definition of the apostrophe string may come before the title.
    let title = page
        .lines()
        .position(|line| line.starts_with(".TH presage 1 "))
        .unwrap_or_else(|| panic!("no .TH presage 1 in\n{page}"));
    assert!(
        page.lines()
            .take(title)
            .all(|line| line.starts_with(".ie ") || line.starts_with(".el ")),
        "{page}"
    );
    for sub in ["up", "backtest", "explain", "tail", "completions", "man"] {
        assert!(
            page.contains(&format!("\n.TP\npresage\\-{sub}(1)\n")),
            "{sub} not listed in\n{page}"
        );
    }
}

#[test]
fn man_dir_writes_a_page_per_subcommand_and_prints_each_path() {
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("share/man/man1");
    let printed = stdout_of(&["man", "--dir", man1.to_str().unwrap()]);
    for name in [
        "presage.1",
        "presage-up.1",
        "presage-topics-create.1",
        "presage-backtest.1",
    ] {
        let path = man1.join(name);
        assert!(path.is_file(), "{} not written", path.display());
        assert!(
            printed.lines().any(|line| Path::new(line) == path),
            "{} not printed in\n{printed}",
            path.display()
        );
    }
    let up = std::fs::read_to_string(man1.join("presage-up.1")).unwrap();
    assert!(up.contains("\n.TH presage-up 1 "), "{up}");
    assert!(up.contains("\\fB\\-\\-brokers\\fR"), "{up}");
    assert!(up.contains("PRESAGE_BROKERS"), "{up}");
}

#[test]
fn every_page_renders_with_groff_without_warnings() {
    let Ok(found) = Command::new("groff").arg("--version").output() else {
        eprintln!("skipped: groff is not installed");
        return;
    };
    assert!(found.status.success());
    let dir = tempfile::tempdir().unwrap();
    stdout_of(&["man", "--dir", dir.path().to_str().unwrap()]);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        // -ww: every warning groff knows, not only the default ones; -P-cbou: no bold or
        // underline overstrikes, so the text can be searched.
        let output = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stderr.is_empty(),
            "{}: {stderr}",
            path.display()
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("SYNOPSIS"), "{}: {text}", path.display());
    }
}

#[test]
fn man_page_examples_keep_each_command_on_one_line() {
    let Ok(_) = Command::new("groff").arg("--version").output() else {
        eprintln!("skipped: groff is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    stdout_of(&["man", "--dir", dir.path().to_str().unwrap()]);
    // ASCII output, so a line is compared as typed (no Unicode hyphens or bold overstrikes).
    let output = Command::new("groff")
        .args(["-man", "-Tascii", "-P-cbou"])
        .arg(dir.path().join("presage-backtest.1"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let example = "presage backtest --template my-app.yaml --trace trace.csv \
                   --max-under-provisioned 0.5% --max-slack 30%";
    assert!(
        text.lines().any(|line| line.trim() == example),
        "no line `{example}` in\n{text}"
    );
}

#[test]
fn help_shows_the_examples_of_the_main_commands() {
    let help = stdout_of(&["explain", "--help"]);
    assert!(
        help.contains("Examples:\n  presage explain 3f2a9c1e --brokers"),
        "{help}"
    );
    let help = stdout_of(&["topics", "create", "--help"]);
    assert!(help.contains("  presage topics create --brokers"), "{help}");
}
