//! Operators, not templates, grant authority; and the small things of the shadow flow (the live
//! file's mode, pid files, chatty commands). Against real files, processes and HTTP servers.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use presage_applier::hooks::{apply, Granted};
use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::authority::Allow;
use presage_template::Template;

const ORIGINAL: &str = "resources:\n  replicas: 3\n";

fn template(hook: &str) -> Template {
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {hook}\n"
    );
    presage_template::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// A directive with an id of its own: an input whose outcome a file's journal already holds
/// would get that outcome back instead of being applied.
fn directive(target: i64) -> ScalingDirective {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    ScalingDirective {
        event_id: format!("d-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        app: "shop".into(),
        template_version: "v1".into(),
        resource: "replicas".into(),
        target,
        ..Default::default()
    }
}

fn granted(allow: &str) -> Granted {
    let allow = Allow::parse(allow, "allow.yaml").unwrap_or_else(|e| panic!("{e}"));
    Granted::new(allow, PathBuf::from("/"))
}

fn apply_with(hook: &str, grant: &Granted) -> ApplyOutcome {
    let t = template(hook);
    apply(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &directive(7),
        grant,
        0,
    )
}

fn live_config(dir: &Path) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, ORIGINAL).unwrap();
    path
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A one-route HTTP server answering 200, reporting each request.
fn server() -> (String, mpsc::Receiver<String>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = tx.send(format!("{} {}", request.method(), request.url()));
            let _ = request.respond(tiny_http::Response::empty(200));
        }
    });
    (url, rx)
}

fn reason(outcome: &ApplyOutcome) -> String {
    outcome.reason.clone().unwrap_or_default()
}

#[test]
fn a_test_command_not_granted_is_rejected_and_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let marker = dir.path().join("ran");
    let hook = format!(
        "{{ name: cfg, kind: file, path: {path:?}, test: {{ command: [sh, -c, \"touch {}\"] }} }}",
        marker.display()
    );
    let before = names_in(dir.path());
    let grant = granted(&format!("paths: [\"{}/\"]", dir.path().display()));
    let outcome = apply_with(&hook, &grant);
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    let reason = reason(&outcome);
    assert!(reason.contains("`commands`"), "{reason}");
    assert!(
        reason.contains("configuration_hooks[0].test.command"),
        "{reason}"
    );
    assert!(!marker.exists(), "the command ran");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
    assert_eq!(names_in(dir.path()), before, "nothing written beside it");

    // The same hook, granted, runs its command.
    let grant = granted(&format!(
        "paths: [\"{}/\"]\ncommands: [sh]",
        dir.path().display()
    ));
    assert_eq!(apply_with(&hook, &grant).status, "applied");
    assert!(marker.exists());
}

#[test]
fn a_path_not_granted_is_rejected_and_nothing_is_written_there() {
    let granted_dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let path = other.path().join("config.yaml");
    let grant = granted(&format!("paths: [\"{}/\"]", granted_dir.path().display()));
    let outcome = apply_with(
        &format!("{{ name: cfg, kind: file, path: {path:?} }}"),
        &grant,
    );
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert!(reason(&outcome).contains("`paths`"), "{outcome:?}");
    assert!(
        names_in(other.path()).is_empty(),
        "{:?}",
        names_in(other.path())
    );

    // A `..` climbing out of the granted directory is refused as well.
    let climbing = granted_dir.path().join("..").join("escape.yaml");
    let outcome = apply_with(
        &format!("{{ name: cfg, kind: file, path: {climbing:?} }}"),
        &grant,
    );
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert!(!granted_dir
        .path()
        .parent()
        .unwrap()
        .join("escape.yaml")
        .exists());
}

#[test]
fn urls_not_granted_are_never_reached() {
    let (url, requests) = server();
    let nothing = Granted::nothing();
    let outcome = apply_with(
        &format!("{{ name: scale, kind: http, url: \"{url}/scale\" }}"),
        &nothing,
    );
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert!(reason(&outcome).contains("`urls`"), "{outcome:?}");

    // A file hook whose post-swap check calls a URL not granted: nothing is swapped either.
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let grant = granted(&format!("paths: [\"{}/\"]", dir.path().display()));
    let outcome = apply_with(
        &format!("{{ name: cfg, kind: file, path: {path:?}, test: {{ http: \"{url}/health\" }} }}"),
        &grant,
    );
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert!(reason(&outcome).contains("test.http"), "{outcome:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
    assert!(
        requests.recv_timeout(Duration::from_millis(300)).is_err(),
        "the server was reached"
    );

    // Granted: reached. (This server holds no configuration to read, so the outcome is
    // `failed`, not `rejected`; the http hook's whole flow is in tests/http_hook.rs.)
    let grant = granted(&format!("urls: [\"{url}/scale\"]"));
    let outcome = apply_with(
        &format!("{{ name: scale, kind: http, url: \"{url}/scale\", retry: {{ attempts: 1 }} }}"),
        &grant,
    );
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert!(
        reason(&outcome).contains("not a JSON configuration"),
        "{outcome:?}"
    );
    assert!(requests.recv_timeout(Duration::from_secs(5)).is_ok());
}

#[test]
fn credentials_in_a_hook_url_stay_out_of_the_outcome() {
    // A port nothing listens on: the POST fails, and its reason names the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://admin:hunter2@127.0.0.1:{port}/scale?token=s3cr3t");
    let grant = granted(&format!("urls: [\"http://127.0.0.1:{port}/scale\"]"));
    let outcome = apply_with(
        &format!("{{ name: scale, kind: http, url: \"{url}\", retry: {{ attempts: 1 }} }}"),
        &grant,
    );
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    let shown = format!("{outcome:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cr3t"),
        "{shown}"
    );
    assert!(
        shown.contains("127.0.0.1"),
        "the URL is still named: {shown}"
    );

    // Refused by the allow-list: not named with its credentials either.
    let outcome = apply_with(
        &format!("{{ name: scale, kind: http, url: \"{url}\" }}"),
        &Granted::nothing(),
    );
    let shown = format!("{outcome:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cr3t"),
        "{shown}"
    );
}

#[test]
fn a_0600_configuration_stays_0600_and_so_do_the_files_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let grant = granted(&format!("paths: [\"{}/\"]", dir.path().display()));
    let outcome = apply_with(
        &format!("{{ name: cfg, kind: file, path: {path:?} }}"),
        &grant,
    );
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("replicas: 7"));
    for name in names_in(dir.path()) {
        let mode = std::fs::metadata(dir.path().join(&name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        if name.ends_with("presage-lock") {
            continue; // holds nothing
        }
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
    let owner = |p: &Path| std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(p).unwrap());
    assert_eq!(owner(&path), owner(dir.path()), "the owner is kept");
}

#[test]
fn a_pid_file_holding_zero_a_negative_number_or_garbage_is_refused_before_the_swap() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let pid_file = dir.path().join("app.pid");
    let grant = granted(&format!("paths: [\"{}/\"]", dir.path().display()));
    let hook = format!(
        "{{ name: cfg, kind: file, path: {path:?}, reload: {{ signal: HUP, pid_file: {pid_file:?} }}, retry: {{ attempts: 1 }} }}"
    );
    for held in ["0\n", "-1\n", "-4242", "not a pid", ""] {
        std::fs::write(&pid_file, held).unwrap();
        let outcome = apply_with(&hook, &grant);
        assert_eq!(outcome.status, "failed", "{held:?}: {outcome:?}");
        assert!(reason(&outcome).contains("pid file"), "{outcome:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            ORIGINAL,
            "{held:?}: the live file was swapped"
        );
    }
}

#[test]
fn a_test_command_writing_a_mebibyte_to_stderr_is_not_stalled_by_its_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let grant = granted(&format!(
        "paths: [\"{}/\"]\ncommands: [sh]",
        dir.path().display()
    ));
    // Far more than a pipe holds (64 KiB), on both streams; the limit is long, so a stalled
    // command would end as a timeout, which the outcome would say.
    let chatty =
        "head -c 1048576 /dev/zero | tr '\\\\0' e >&2; head -c 1048576 /dev/zero | tr '\\\\0' o";
    let passing = format!(
        "{{ name: cfg, kind: file, path: {path:?}, test: {{ command: [sh, -c, \"{chatty}\"], within: 60s }} }}"
    );
    let outcome = apply_with(&passing, &grant);
    assert_eq!(outcome.status, "applied", "{outcome:?}");

    let failing = format!(
        "{{ name: cfg, kind: file, path: {path:?}, test: {{ command: [sh, -c, \"{chatty}; echo the end >&2; exit 4\"], within: 60s }}, retry: {{ attempts: 1 }} }}"
    );
    let outcome = apply_with(&failing, &grant);
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    let reason = reason(&outcome);
    assert!(!reason.contains("did not finish"), "{reason}");
    assert!(
        reason.contains("exit status: 4") && reason.ends_with("the end"),
        "{reason}"
    );
}
