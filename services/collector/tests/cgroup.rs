//! `cgroup` sources against this machine's real cgroup v2: the test process's own cgroup (found
//! through /proc/self/cgroup and the cgroup2 mount), read through the collector's `Readers`
//! with the allow-list's grant, and two cgroups this test creates, one holding a process
//! burning CPU and one holding an idle one. No reading is held to a time: the busy cgroup is
//! waited for until it has used CPU, and the idle one's process never runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use presage_collector::cgroup;
use presage_collector::readers::Readers;
use presage_collector::{Refusal, SourceReader};
use presage_template::authority::Allow;
use presage_template::metric_names as names;
use presage_template::{CgroupSelector, Source, SourceKind};

fn mount() -> PathBuf {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    cgroup::cgroup2_mount(&mountinfo)
        .expect("this machine has no cgroup2 mount: cgroup sources need cgroup v2")
}

fn source(selector: CgroupSelector) -> Source {
    Source {
        id: "app".into(),
        kind: SourceKind::Cgroup,
        cgroup: Some(selector),
        ..Default::default()
    }
}

fn granting(paths: &[&Path]) -> Readers {
    let list: Vec<String> = paths
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    let allow = Allow::parse(&format!("paths: [{}]\n", list.join(", ")), "allow.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    Readers::new(allow, 10_000)
}

fn value(readings: &[presage_collector::Reading], metric: &str) -> Option<f64> {
    readings
        .iter()
        .find(|r| r.metric == metric)
        .map(|r| r.value)
}

/// Seconds since boot, from /proc/uptime.
fn uptime_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn the_test_process_s_own_cgroup_is_found_and_its_files_parse_within_physical_bounds() {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = cgroup::unified_path(&own).expect("/proc/self/cgroup has a 0:: line");
    let directory = cgroup::directory(&mount(), path);
    let stat = std::fs::read_to_string(directory.join("cpu.stat")).unwrap();
    let usage = cgroup::usage_usec(&stat).expect("usage_usec in cpu.stat");
    let cpus = cgroup::cpu_count(&std::fs::read_to_string("/proc/stat").unwrap());
    assert!(cpus >= 1);
    // No cgroup has used more CPU than every CPU since boot (a little slack for rounding).
    let bound = (uptime_seconds() + 1.0) * cpus as f64 * 1e6;
    assert!(
        usage > 0 && (usage as f64) < bound,
        "usage_usec {usage} of {} (bound {bound})",
        directory.display()
    );
    // Memory files exist only where the memory controller is on the v2 hierarchy.
    if let Ok(current) = std::fs::read_to_string(directory.join("memory.current")) {
        let used = cgroup::bytes(&current).expect("memory.current is bytes");
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let (total, _) = presage_collector::host::parse_meminfo(&meminfo).unwrap();
        assert!(
            used > 0 && used <= total,
            "memory.current {used} of {total}"
        );
    }
    let procs = std::fs::read_to_string(directory.join("cgroup.procs")).unwrap();
    assert!(
        cgroup::first_process(&procs).is_some(),
        "the cgroup holds this process"
    );
}

#[test]
fn a_pid_file_source_reads_its_process_s_cgroup_once_granted() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("app.pid");
    std::fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
    let source = source(CgroupSelector {
        pid_file: Some(pid_file.display().to_string()),
        ..Default::default()
    });

    // Not granted: refused, nothing read.
    let refused = Readers::without_urls().read(&source, 1_000).unwrap_err();
    assert_eq!(refused.refusal, Some(Refusal::NotGranted), "{refused}");
    assert!(
        refused.message.contains("allow-list rule `paths`"),
        "{refused}"
    );

    let mut readers = granting(&[&pid_file]);
    let first = readers
        .read(&source, 1_000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value(&first, names::CPU_UTILIZATION),
        None,
        "utilization needs two reads"
    );
    // Burn a little CPU here, in the cgroup being read, so the second read has time to divide.
    let mut x = 0u64;
    for i in 0..5_000_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    std::hint::black_box(x);
    let second = readers
        .read(&source, 2_000)
        .unwrap_or_else(|e| panic!("{e}"));
    let share = value(&second, names::CPU_UTILIZATION).expect("cpu_utilization on the second read");
    assert!((0.0..=1.0).contains(&share), "share {share}");
    // This process's network namespace has a /proc/<pid>/net/dev.
    let rx = value(&second, names::NETWORK_RECEIVE_BYTES_TOTAL).expect("network read");
    assert!(rx >= 0.0);
    for reading in &second {
        assert!(
            names::CGROUP.contains(&reading.metric.as_str()),
            "{reading:?}"
        );
        assert_eq!(reading.at_ms, 2_000);
    }
    if let Some(used) = value(&second, names::MEMORY_USED_BYTES) {
        let limit = value(&second, names::MEMORY_LIMIT_BYTES).expect("a limit beside the use");
        assert!(used > 0.0 && used <= limit, "{used} of {limit}");
    }
}

/// A child cgroup of this test's, removed (its processes killed first) when dropped.
struct TestCgroup {
    path: PathBuf,
    child: Child,
}

impl TestCgroup {
    /// Creates `name` under the cgroup2 mount and starts `sh -c script` in it. `None` where this
    /// process may not create cgroups (not root, or a read-only hierarchy).
    fn start(name: &str, script: &str) -> Option<TestCgroup> {
        let path = mount().join(format!("presage-test-{}-{name}", std::process::id()));
        if let Err(err) = std::fs::create_dir(&path) {
            eprintln!("cannot create {}: {err}", path.display());
            return None;
        }
        // The child moves itself before it starts its work, so all of its CPU time is counted.
        let procs = path.join("cgroup.procs");
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("echo $$ > {procs:?} && exec sh -c {script:?}"))
            .spawn()
            .unwrap();
        let cgroup = TestCgroup { path, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while cgroup::first_process(&std::fs::read_to_string(&procs).unwrap_or_default()).is_none()
        {
            assert!(
                Instant::now() < deadline,
                "the child never joined {}",
                procs.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(cgroup)
    }

    fn usage_usec(&self) -> u64 {
        cgroup::usage_usec(&std::fs::read_to_string(self.path.join("cpu.stat")).unwrap()).unwrap()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The kernel removes the last process a moment after its death is reaped.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_cgroup_burning_cpu_reads_higher_than_an_idle_one() {
    let Some(busy) = TestCgroup::start("busy", "while :; do :; done") else {
        eprintln!("skipped: this process cannot create cgroups (needs root on a writable cgroup2)");
        return;
    };
    let idle = TestCgroup::start("idle", "exec sleep 600").expect("created busy but not idle");
    let mut readers = granting(&[&busy.path, &idle.path]);
    let by_path = |cg: &TestCgroup| {
        source(CgroupSelector {
            path: Some(cg.path.display().to_string()),
            ..Default::default()
        })
    };
    let (busy_source, idle_source) = (by_path(&busy), by_path(&idle));
    // Ids differ by cgroup directory, so the two sources keep their own previous CPU time.
    readers.read(&busy_source, 0).unwrap();
    readers.read(&idle_source, 0).unwrap();
    let start = busy.usage_usec();
    // Until the busy process has had 100 ms of CPU, however long the machine takes to give it.
    let deadline = Instant::now() + Duration::from_secs(300);
    while busy.usage_usec() < start + 100_000 {
        assert!(Instant::now() < deadline, "the busy process never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    let busy_now = readers.read(&busy_source, 1).unwrap();
    let idle_now = readers.read(&idle_source, 1).unwrap();
    let busy_share = value(&busy_now, names::CPU_UTILIZATION).unwrap();
    let idle_share = value(&idle_now, names::CPU_UTILIZATION).unwrap();
    assert!(busy_share > 0.0 && busy_share <= 1.0, "busy {busy_share}");
    assert!(
        idle_share < busy_share,
        "idle {idle_share} is not below busy {busy_share}"
    );
    // A cgroup's processes are what a `path` source reads the network of.
    assert!(value(&busy_now, names::NETWORK_TRANSMIT_BYTES_TOTAL).is_some());
    assert!(idle.usage_usec() < busy.usage_usec());
}

#[test]
fn a_directory_that_is_not_a_cgroup_is_a_clear_failure() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(CgroupSelector {
        path: Some(dir.path().display().to_string()),
        ..Default::default()
    });
    let err = granting(&[dir.path()]).read(&source, 0).unwrap_err();
    assert_eq!(err.refusal, None);
    assert!(err.message.contains("cpu.stat"), "{err}");
}

#[test]
fn a_cgroup_source_the_allow_list_does_not_grant_is_named_for_its_dead_letter() {
    let template = presage_template::parse(
        "app: a\ndynamic_metadata:\n  sources:\n    - { id: app, kind: cgroup, cgroup: { pid_file: /run/a.pid } }\n",
        "a.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let refused = presage_collector::refusals::ungranted_sources(&template, &Allow::none());
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "app");
    assert_eq!(
        refused[0].1.at,
        "dynamic_metadata.sources[0].cgroup.pid_file"
    );
    let granted = Allow::parse("paths: [/run/a.pid]\n", "allow.yaml").unwrap();
    assert!(presage_collector::refusals::ungranted_sources(&template, &granted).is_empty());
}
