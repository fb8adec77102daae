//! Headless Chromium, run as a command: the page's DOM after its scripts ran, and a screenshot.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::png::Image;

/// Virtual time the page gets to fetch its state and draw (it polls every 2 s).
const BUDGET_MS: &str = "8000";
const LIMIT: Duration = Duration::from_secs(90);

/// Chromium: `PRESAGE_CHROMIUM`, else Debian's `/usr/bin/chromium`. A missing browser fails the
/// test with how to get one; it never passes without looking.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("PRESAGE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "{} is missing: install Debian's `chromium` package (cargo xtask test does) or set \
         PRESAGE_CHROMIUM",
        path.display()
    );
    path
}

/// Flags that work headless, as root, offline, with nothing of the user's profile.
fn command(chromium: &Path, profile: &Path) -> Command {
    let mut command = Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={BUDGET_MS}"))
        .stdin(Stdio::null());
    command
}

/// The page's DOM once its scripts have run.
pub fn dump_dom(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = command(chromium, profile.path());
    command.arg("--dump-dom").arg(url);
    let (stdout, stderr) = run(command);
    assert!(
        stdout.contains("</html>"),
        "chromium printed no DOM:\n{stderr}"
    );
    stdout
}

/// A screenshot of the page, saved at `file`.
pub fn screenshot(chromium: &Path, url: &str, file: &Path) {
    let _ = std::fs::remove_file(file);
    let profile = tempfile::tempdir().unwrap();
    let mut command = command(chromium, profile.path());
    command
        .arg("--window-size=1400,1100")
        .arg(format!("--screenshot={}", file.display()))
        .arg(url);
    let (_, stderr) = run(command);
    assert!(file.is_file(), "chromium saved no screenshot:\n{stderr}");
}

/// Runs Chromium to its end, killed past [`LIMIT`]; its stdout and stderr.
fn run(mut command: Command) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = command
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("running chromium");
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {LIMIT:?}:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default(),
    )
}

/// Where a colour is in an image: how many pixels, in how many distinct columns and rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stroke {
    pub pixels: usize,
    pub columns: usize,
    pub rows: usize,
}

/// The pixels within a few levels of `colour` (the core of an anti-aliased line keeps it).
pub fn stroke(image: &Image, colour: [u8; 3]) -> Stroke {
    let near = |p: [u8; 3]| (0..3).all(|i| p[i].abs_diff(colour[i]) <= 6);
    let (mut pixels, mut columns, mut rows) = (0, BTreeSet::new(), BTreeSet::new());
    for y in 0..image.height {
        for x in 0..image.width {
            if near(image.pixel(x, y)) {
                pixels += 1;
                columns.insert(x);
                rows.insert(y);
            }
        }
    }
    Stroke {
        pixels,
        columns: columns.len(),
        rows: rows.len(),
    }
}
