//! One application's CPU, memory and network from its cgroup v2 (a `cgroup` source), parsed
//! from the text of the kernel's files. Pure: `readers.rs` reads the files and hands the text
//! here, so every rule is tested on captured file texts.
//!
//! - CPU: `cpu.stat`'s `usage_usec` (every process of the cgroup, children included) between
//!   two reads, over the wall time between them and the host's CPU count: the cgroup's share
//!   of all the host's CPUs, the unit of the host source's `cpu_utilization`.
//! - Memory: `memory.current` used; `memory.max` the limit (`max`: none, so the host's memory).
//!   Both need the memory controller on the cgroup2 hierarchy (on a hybrid v1/v2 host they are
//!   absent, and only CPU and network are read).
//! - Network: `/proc/<pid>/net/dev` of a process in the cgroup. Linux counts bytes per network
//!   namespace, not per cgroup: a container with its own namespace gets its own traffic, a
//!   process sharing the host's namespace gets the host's.

use std::path::{Path, PathBuf};

use presage_template::metric_names as names;

use crate::Reading;

/// `usage_usec` of a `cpu.stat`: CPU time used by the cgroup since it was created.
pub fn usage_usec(cpu_stat: &str) -> Option<u64> {
    cpu_stat.lines().find_map(|line| {
        let (key, value) = line.split_once(char::is_whitespace)?;
        (key == "usage_usec").then(|| value.trim().parse().ok())?
    })
}

/// A cgroup's memory limit, from `memory.max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Bytes(u64),
    /// `max`: no limit of its own.
    Unlimited,
}

pub fn memory_max(text: &str) -> Option<Limit> {
    match text.trim() {
        "max" => Some(Limit::Unlimited),
        number => number.parse().ok().map(Limit::Bytes),
    }
}

/// `memory.current`, or any file holding one number of bytes.
pub fn bytes(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The cgroup v2 path of a process, from `/proc/<pid>/cgroup`: its `0::<path>` line (on a hybrid
/// host the v1 lines beside it name other hierarchies and are skipped).
/// A path that climbs (`/../..`, as a process in another cgroup namespace shows it) is refused:
/// joined to the mount it would leave the cgroup2 hierarchy.
pub fn unified_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::trim_end)
        .filter(|path| path.starts_with('/'))
        .filter(|path| !path.split('/').any(|segment| segment == ".."))
}

/// Where the cgroup2 hierarchy is mounted, from `/proc/self/mountinfo`: `/sys/fs/cgroup` on a
/// v2 host, `/sys/fs/cgroup/unified` on a hybrid one. `None` when the host has no cgroup v2.
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // `<id> <parent> <dev> <root> <mount point> <options> [optional...] - <fstype> ...`
        let (before, after) = line.split_once(" - ")?;
        (after.split_whitespace().next()? == "cgroup2")
            .then(|| before.split_whitespace().nth(4).map(unescape_octal))?
            .map(PathBuf::from)
    })
}

/// mountinfo writes a space, tab, newline and backslash in a path as `\040`, `\011`, `\012`, `\134`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match code {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup directory of a process: its unified path under the cgroup2 mount.
pub fn directory(mount: &Path, unified_path: &str) -> PathBuf {
    mount.join(unified_path.trim_start_matches('/'))
}

/// The pid a pid file holds (its first word: `echo $$ > app.pid` writes a newline after it).
pub fn pid(text: &str) -> Result<u32, String> {
    let word = text.split_whitespace().next().unwrap_or("");
    match word.parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!(
            "expected a process id, found {:?}",
            word.chars().take(32).collect::<String>()
        )),
    }
}

/// The first process of a cgroup, from `cgroup.procs`: whose network namespace is read.
pub fn first_process(cgroup_procs: &str) -> Option<u32> {
    cgroup_procs
        .lines()
        .find_map(|line| line.trim().parse().ok())
}

/// How many CPUs the host has: the `cpuN` lines of /proc/stat, the CPUs the host source's
/// `cpu` line sums over.
pub fn cpu_count(proc_stat: &str) -> usize {
    proc_stat
        .lines()
        .filter(|line| {
            line.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count()
}

/// CPU time of a cgroup at a moment of the collector's monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSample {
    pub usage_usec: u64,
    pub wall_usec: u64,
}

/// The cgroup's share of all `cpus` between two samples, in [0, 1] (clamped: usage and the
/// wall clock are read a few microseconds apart). `None` over no time, with no CPU count, or
/// when usage went backwards (the cgroup was removed and created again).
pub fn cpu_utilization(before: CpuSample, after: CpuSample, cpus: usize) -> Option<f64> {
    let used = after.usage_usec.checked_sub(before.usage_usec)?;
    let wall = after.wall_usec.checked_sub(before.wall_usec)?;
    if wall == 0 || cpus == 0 {
        return None;
    }
    Some((used as f64 / (wall as f64 * cpus as f64)).min(1.0))
}

/// What one read of a cgroup found; `None` where a file was absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub cpu_utilization: Option<f64>,
    pub memory_used: Option<u64>,
    pub memory_limit: Option<Limit>,
    /// (received, transmitted) bytes of the namespace, loopback excluded.
    pub network: Option<(u64, u64)>,
}

/// The readings of a snapshot; an unlimited cgroup's limit is `host_memory` (the most it can use).
pub fn readings(snapshot: &Snapshot, host_memory: Option<u64>, now_ms: i64) -> Vec<Reading> {
    let mut out = Vec::new();
    if let Some(share) = snapshot.cpu_utilization {
        out.push(Reading::new(names::CPU_UTILIZATION, share, now_ms));
    }
    if let Some(used) = snapshot.memory_used {
        out.push(Reading::new(names::MEMORY_USED_BYTES, used as f64, now_ms));
    }
    let limit = match snapshot.memory_limit {
        Some(Limit::Bytes(bytes)) => Some(bytes),
        Some(Limit::Unlimited) => host_memory,
        None => None,
    };
    if let Some(limit) = limit {
        out.push(Reading::new(
            names::MEMORY_LIMIT_BYTES,
            limit as f64,
            now_ms,
        ));
    }
    if let Some((rx, tx)) = snapshot.network {
        out.push(Reading::new(
            names::NETWORK_RECEIVE_BYTES_TOTAL,
            rx as f64,
            now_ms,
        ));
        out.push(Reading::new(
            names::NETWORK_TRANSMIT_BYTES_TOTAL,
            tx as f64,
            now_ms,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cpu.stat` of a systemd service on a v2 host (kernel 6.x).
    const CPU_STAT: &str = "usage_usec 3519263\nuser_usec 2381402\nsystem_usec 1137861\n\
        core_sched.force_idle_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n\
        nr_bursts 0\nburst_usec 0\n";

    #[test]
    fn cpu_usage_is_read_from_usage_usec_and_nothing_else() {
        assert_eq!(usage_usec(CPU_STAT), Some(3_519_263));
        assert_eq!(usage_usec("user_usec 5\nsystem_usec 6\n"), None);
        assert_eq!(usage_usec("usage_usec lots\n"), None);
    }

    #[test]
    fn utilization_is_cpu_time_over_wall_time_and_every_cpu() {
        let before = CpuSample {
            usage_usec: 1_000_000,
            wall_usec: 0,
        };
        // One CPU busy for the whole second on a 4-CPU host: a quarter of the host.
        let after = CpuSample {
            usage_usec: 2_000_000,
            wall_usec: 1_000_000,
        };
        assert_eq!(cpu_utilization(before, after, 4), Some(0.25));
        assert_eq!(cpu_utilization(before, after, 1), Some(1.0));
        assert_eq!(cpu_utilization(before, before, 4), None, "no time passed");
        assert_eq!(cpu_utilization(after, before, 4), None, "usage went back");
        assert_eq!(cpu_utilization(before, after, 0), None);
        let over = CpuSample {
            usage_usec: 1_000_100,
            wall_usec: 100,
        };
        assert_eq!(
            cpu_utilization(before, over, 1),
            Some(1.0),
            "clamped to the host"
        );
    }

    #[test]
    fn memory_max_is_bytes_or_no_limit() {
        assert_eq!(memory_max("536870912\n"), Some(Limit::Bytes(536_870_912)));
        assert_eq!(memory_max("max\n"), Some(Limit::Unlimited));
        assert_eq!(memory_max("lots\n"), None);
        assert_eq!(bytes("12345678\n"), Some(12_345_678));
    }

    #[test]
    fn the_unified_line_names_the_cgroup_on_v2_and_hybrid_hosts() {
        assert_eq!(
            unified_path("0::/system.slice/api.service\n"),
            Some("/system.slice/api.service")
        );
        let hybrid = "9:name=systemd:/\n4:memory:/process_api/14f\n1:cpu:/\n0::/\n";
        assert_eq!(unified_path(hybrid), Some("/"));
        assert_eq!(unified_path("4:memory:/x\n1:cpu:/\n"), None, "v1 only");
        assert_eq!(
            unified_path("0::/../../system.slice\n"),
            None,
            "another cgroup namespace's view climbs out of the mount"
        );
    }

    #[test]
    fn the_cgroup2_mount_is_found_on_v2_and_hybrid_hosts_with_escapes() {
        let v2 = "25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup2_mount(v2), Some(PathBuf::from("/sys/fs/cgroup")));
        let hybrid = "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n\
            31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
            40 30 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let spaced = "40 30 0:35 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount(spaced),
            Some(PathBuf::from("/mnt/my cgroups"))
        );
        assert_eq!(
            cgroup2_mount(&hybrid.lines().take(2).collect::<Vec<_>>().join("\n")),
            None
        );
        assert_eq!(
            directory(Path::new("/sys/fs/cgroup"), "/system.slice/a.service"),
            PathBuf::from("/sys/fs/cgroup/system.slice/a.service")
        );
        assert_eq!(
            directory(Path::new("/sys/fs/cgroup/unified"), "/"),
            PathBuf::from("/sys/fs/cgroup/unified/")
        );
    }

    #[test]
    fn pid_files_and_cgroup_procs_give_a_process() {
        assert_eq!(pid("4242\n"), Ok(4242));
        assert_eq!(pid("  17 extra\n"), Ok(17));
        assert!(pid("").unwrap_err().contains("expected a process id"));
        assert!(pid("0\n").is_err());
        assert!(pid("-5\n").is_err());
        assert_eq!(first_process("812\n813\n"), Some(812));
        assert_eq!(first_process(""), None, "an empty cgroup");
    }

    #[test]
    fn the_cpu_count_is_the_per_cpu_lines_of_proc_stat() {
        let stat =
            "cpu  10 0 10 70 0 0 0 0 0 0\ncpu0 5 0 5 35 0\ncpu1 5 0 5 35 0\nintr 1\nctxt 2\n";
        assert_eq!(cpu_count(stat), 2);
    }

    #[test]
    fn a_snapshot_becomes_the_cgroup_metrics_and_no_limit_reads_as_the_host_s_memory() {
        let snapshot = Snapshot {
            cpu_utilization: Some(0.5),
            memory_used: Some(100),
            memory_limit: Some(Limit::Unlimited),
            network: Some((7, 9)),
        };
        let got: Vec<(String, f64)> = readings(&snapshot, Some(4096), 5)
            .into_iter()
            .map(|r| (r.metric, r.value))
            .collect();
        let want: Vec<(String, f64)> = [
            (names::CPU_UTILIZATION, 0.5),
            (names::MEMORY_USED_BYTES, 100.0),
            (names::MEMORY_LIMIT_BYTES, 4096.0),
            (names::NETWORK_RECEIVE_BYTES_TOTAL, 7.0),
            (names::NETWORK_TRANSMIT_BYTES_TOTAL, 9.0),
        ]
        .into_iter()
        .map(|(m, v)| (m.to_string(), v))
        .collect();
        assert_eq!(got, want);
        for metric in got.iter().map(|(m, _)| m.as_str()) {
            assert!(names::CGROUP.contains(&metric), "{metric} is declared");
        }
        assert!(
            readings(&Snapshot::default(), Some(1), 5).is_empty(),
            "absent files read nothing"
        );
    }
}
