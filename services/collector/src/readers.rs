//! The collector's I/O edge: one reader per source kind (HTTP and /proc). Kept in the library so
//! it can be tested against real HTTP servers; what to make of the bytes is decided by the pure
//! parsers beside it.

use std::time::{Duration, Instant};

use crate::refusals::{series_lines, DEFAULT_MAX_SCRAPE_SERIES};
use crate::{
    calendar, cgroup, host, prometheus, promql, Reading, Refusal, SourceError, SourceReader,
};
use presage_events::{redact_text, redact_url};
use presage_template::authority::Allow;
use presage_template::metric_names as names;
use presage_template::{Source, SourceKind, Zone};

/// Reads every kind of source; keeps the previous CPU snapshot to turn jiffies into a share.
/// Reaches only the URLs its allow-list grants, and reads a Prometheus page only when it has
/// at most `max_scrape_series` series.
pub struct Readers {
    last_cpu: Option<host::CpuTimes>,
    allow: Allow,
    max_scrape_series: usize,
    /// `kafka_lag` sources, read on the collector's own cluster; `None` reads none.
    lag: Option<crate::lag::LagReader>,
    /// `cgroup` sources: the previous CPU time of each.
    cgroups: CgroupReads,
}

impl Readers {
    pub fn new(allow: Allow, max_scrape_series: usize) -> Self {
        Self {
            last_cpu: None,
            allow,
            max_scrape_series,
            lag: None,
            cgroups: CgroupReads::default(),
        }
    }

    /// `kafka_lag` sources are read on this cluster.
    pub fn with_lag(mut self, kafka: presage_runner::KafkaArgs) -> Self {
        self.lag = Some(crate::lag::LagReader::new(kafka));
        self
    }

    /// No URL granted; the default scrape bound. Host and calendar sources need no grant.
    pub fn without_urls() -> Self {
        Self::new(Allow::none(), DEFAULT_MAX_SCRAPE_SERIES)
    }

    /// The source's URL, if it has one and the allow-list grants it.
    fn granted_url<'s>(&self, source: &'s Source) -> Result<&'s str, SourceError> {
        let url = source
            .url
            .as_deref()
            .ok_or_else(|| failed(source, "no url"))?;
        self.allow.permits_url(url).map_err(|why| SourceError {
            refusal: Some(Refusal::NotGranted),
            ..failed(source, format!("{why} (allow-list rule `urls`)"))
        })?;
        Ok(url)
    }
}

fn failed(source: &Source, message: impl Into<String>) -> SourceError {
    SourceError {
        source_id: source.id.clone(),
        message: message.into(),
        refusal: None,
    }
}

fn timeout_of(source: &Source) -> Duration {
    let every = source.every.map(|d| d.as_millis()).unwrap_or(15_000);
    let timeout = source
        .timeout
        .map(|d| d.as_millis())
        .unwrap_or(every.min(5_000));
    Duration::from_millis(timeout.max(1))
}

impl SourceReader for Readers {
    fn read_in(
        &mut self,
        source: &Source,
        zone: Zone,
        now_ms: i64,
    ) -> Result<Vec<Reading>, SourceError> {
        match source.kind {
            SourceKind::Calendar => Ok(calendar::readings(zone, now_ms)),
            SourceKind::KafkaLag => {
                let Some(lag) = self.lag.as_mut() else {
                    return Err(failed(
                        source,
                        "kafka_lag needs the collector's Kafka settings",
                    ));
                };
                let group = source.group.as_deref().unwrap_or_default();
                let max = self.max_scrape_series;
                lag.read(group, &source.topics, timeout_of(source), now_ms, max)
                    .map_err(|failure| match failure {
                        crate::lag::LagFailure::TooManyPartitions { partitions, max } => SourceError {
                            refusal: Some(Refusal::TooManySeries { series: partitions, max }),
                            ..failed(
                                source,
                                format!("{partitions} partitions, more than --max-scrape-series ({max}): not read"),
                            )
                        },
                        crate::lag::LagFailure::Failed(err) => failed(source, format!("{err:#}")),
                    })
            }
            SourceKind::Host => self.read_host(source, now_ms),
            SourceKind::Cgroup => self.read_cgroup(source, now_ms),
            SourceKind::Promql => self.read_promql(source, now_ms),
            SourceKind::JsonHttp => self.read_json_http(source, now_ms),
            SourceKind::Ics => self.read_ics(source, zone, now_ms),
            SourceKind::Prometheus => {
                let url = self.granted_url(source)?;
                let shown = redact_url(url);
                // ureq's own messages quote the URL whole, credentials included.
                let body = presage_runner::https::agent()
                    .get(url)
                    .timeout(timeout_of(source))
                    .call()
                    .map_err(|e| failed(source, redact_text(&format!("GET {shown}: {e}"))))?
                    .into_string()
                    .map_err(|e| failed(source, redact_text(&format!("reading {shown}: {e}"))))?;
                let series = series_lines(&body);
                if series > self.max_scrape_series {
                    return Err(SourceError {
                        refusal: Some(Refusal::TooManySeries {
                            series,
                            max: self.max_scrape_series,
                        }),
                        ..failed(
                            source,
                            format!(
                                "GET {shown}: {series} series, more than --max-scrape-series ({}): the page is refused whole",
                                self.max_scrape_series
                            ),
                        )
                    });
                }
                let (readings, errors) = prometheus::parse_text(&body, now_ms);
                for error in errors {
                    tracing::warn!(source = %source.id, line = error.line, message = %error.message, "skipped malformed metric line");
                }
                Ok(readings)
            }
            SourceKind::HttpProbe => {
                let url = self.granted_url(source)?;
                let started = Instant::now();
                let status = match presage_runner::https::agent()
                    .get(url)
                    .timeout(timeout_of(source))
                    .call()
                {
                    Ok(response) => response.status(),
                    Err(ureq::Error::Status(code, _)) => code,
                    Err(err) => {
                        tracing::warn!(source = %source.id, error = %redact_text(&err.to_string()), "probe failed");
                        return Ok(vec![Reading::new(names::UP, 0.0, now_ms)]);
                    }
                };
                let latency = started.elapsed().as_secs_f64() * 1000.0;
                Ok(vec![
                    Reading::new(names::UP, 1.0, now_ms),
                    Reading::new(names::STATUS_CODE, f64::from(status), now_ms),
                    Reading::new(names::LATENCY_MS, latency, now_ms),
                ])
            }
        }
    }
}

impl Readers {
    /// An instant query evaluated at `now_ms` (so its samples are stamped on the collector's
    /// clock, like every other source's); the result's series are bounded like a page's.
    fn read_promql(&self, source: &Source, now_ms: i64) -> Result<Vec<Reading>, SourceError> {
        let base = self.granted_url(source)?;
        let query = source.query.as_deref().unwrap_or_default();
        let url = promql::endpoint(base, "query");
        let shown = redact_url(&url);
        let body = match presage_runner::https::agent()
            .get(&url)
            .timeout(timeout_of(source))
            .query("query", query)
            .query("time", &promql::seconds(now_ms))
            .call()
        {
            Ok(response) => response.into_string(),
            // A refused query is a 400 (422 for an execution error) with the reason as JSON.
            Err(ureq::Error::Status(_, response)) => response.into_string(),
            Err(e) => return Err(failed(source, redact_text(&format!("GET {shown}: {e}")))),
        }
        .map_err(|e| failed(source, redact_text(&format!("reading {shown}: {e}"))))?;
        let max = self.max_scrape_series;
        promql::parse_instant(&body, source.metric_name(), max).map_err(|err| SourceError {
            refusal: match err {
                promql::PromqlError::TooManySeries { series, max } => {
                    Some(Refusal::TooManySeries { series, max })
                }
                _ => None,
            },
            ..failed(source, redact_text(&format!("GET {shown}: {err}")))
        })
    }

    fn read_host(&mut self, source: &Source, now_ms: i64) -> Result<Vec<Reading>, SourceError> {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| failed(source, format!("reading {path}: {e}")))
        };
        let mut readings = Vec::new();
        if let Some(cpu) = host::parse_proc_stat(&read("/proc/stat")?) {
            if let Some(utilization) = self
                .last_cpu
                .and_then(|before| host::cpu_utilization(before, cpu))
            {
                readings.push(Reading::new(names::CPU_UTILIZATION, utilization, now_ms));
            }
            self.last_cpu = Some(cpu);
        }
        if let Some((total, available)) = host::parse_meminfo(&read("/proc/meminfo")?) {
            readings.push(Reading::new(
                names::MEMORY_TOTAL_BYTES,
                total as f64,
                now_ms,
            ));
            readings.push(Reading::new(
                names::MEMORY_USED_BYTES,
                (total - available.min(total)) as f64,
                now_ms,
            ));
        }
        if let Some((rx, tx)) = host::parse_net_dev(&read("/proc/net/dev")?) {
            readings.push(Reading::new(
                names::NETWORK_RECEIVE_BYTES_TOTAL,
                rx as f64,
                now_ms,
            ));
            readings.push(Reading::new(
                names::NETWORK_TRANSMIT_BYTES_TOTAL,
                tx as f64,
                now_ms,
            ));
        }
        Ok(readings)
    }
}

/// An ics file larger than this is not read: a year of a busy shared calendar is well under it.
const MAX_ICS_BYTES: u64 = 8 << 20;

impl Readers {
    /// GET the source's granted URL; the body as text. Errors name the URL without credentials.
    fn get_text(&self, source: &Source) -> Result<String, SourceError> {
        let url = self.granted_url(source)?;
        let shown = redact_url(url);
        // ureq's own messages quote the URL whole, credentials included.
        presage_runner::https::agent()
            .get(url)
            .timeout(timeout_of(source))
            .call()
            .map_err(|e| failed(source, redact_text(&format!("GET {shown}: {e}"))))?
            .into_string()
            .map_err(|e| failed(source, redact_text(&format!("reading {shown}: {e}"))))
    }

    fn read_json_http(&self, source: &Source, now_ms: i64) -> Result<Vec<Reading>, SourceError> {
        let body = self.get_text(source)?;
        let picks = crate::json_http::Picks {
            values: &source.values,
            labels: &source.labels,
            items: source.items.as_deref(),
        };
        crate::json_http::readings(&body, picks, now_ms, self.max_scrape_series).map_err(|e| {
            let refusal = match e {
                crate::json_http::JsonError::TooManySeries { series, max } => {
                    Some(Refusal::TooManySeries { series, max })
                }
                _ => None,
            };
            SourceError {
                refusal,
                ..failed(source, e.to_string())
            }
        })
    }

    /// The calendar from its granted file (checked again here, at the point of use) or URL.
    fn read_ics(
        &self,
        source: &Source,
        zone: Zone,
        now_ms: i64,
    ) -> Result<Vec<Reading>, SourceError> {
        let text = match source.path.as_deref() {
            Some(path) => {
                let granted = self
                    .allow
                    .permits_path(std::path::Path::new(path), std::path::Path::new("/"))
                    .map_err(|why| SourceError {
                        refusal: Some(Refusal::NotGranted),
                        ..failed(source, format!("{why} (allow-list rule `paths`)"))
                    })?;
                // Bounded by the read itself, not the file's stated size (a pipe or a device
                // states none).
                let mut text = String::new();
                std::io::Read::read_to_string(
                    &mut std::io::Read::take(
                        std::fs::File::open(&granted)
                            .map_err(|e| failed(source, format!("reading {path}: {e}")))?,
                        MAX_ICS_BYTES + 1,
                    ),
                    &mut text,
                )
                .map_err(|e| failed(source, format!("reading {path}: {e}")))?;
                if text.len() as u64 > MAX_ICS_BYTES {
                    return Err(failed(
                        source,
                        format!("{path} is more than {MAX_ICS_BYTES} bytes: at most that is read"),
                    ));
                }
                text
            }
            None => self.get_text(source)?,
        };
        let matching = source
            .summary_match
            .as_deref()
            .map(|pattern| {
                regex::RegexBuilder::new(pattern)
                    .size_limit(presage_template::MAX_REGEX_BYTES)
                    .dfa_size_limit(presage_template::MAX_REGEX_CACHE_BYTES)
                    .build()
            })
            .transpose()
            .map_err(|e| failed(source, format!("match: {e}")))?;
        crate::ics::readings(&text, zone, matching.as_ref(), now_ms)
            .map_err(|e| failed(source, e.to_string()))
    }
}

/// What reading `cgroup` sources keeps between reads.
#[derive(Debug)]
struct CgroupReads {
    /// The monotonic clock CPU time is divided by (the wall clock can step).
    started: Instant,
    /// Each source's previous CPU time, by source id and cgroup directory.
    cpu: std::collections::HashMap<(String, std::path::PathBuf), cgroup::CpuSample>,
}

impl Default for CgroupReads {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            cpu: Default::default(),
        }
    }
}

impl Readers {
    /// A `cgroup` source: its directory (given, or the one `/proc/<pid>/cgroup` of its pid file
    /// names under the cgroup2 mount), then CPU, memory and the network of one of its processes.
    /// The directory and the pid file must be granted (`paths`); the pid file's process's own
    /// `/proc` files and cgroup are what that grant names.
    fn read_cgroup(&mut self, source: &Source, now_ms: i64) -> Result<Vec<Reading>, SourceError> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map_err(|e| failed(source, format!("reading {}: {e}", path.display())))
        };
        let selector = source
            .cgroup
            .as_ref()
            .ok_or_else(|| failed(source, "no cgroup"))?;
        for (path, field) in selector.paths() {
            self.allow
                .permits_path(std::path::Path::new(path), std::path::Path::new("/"))
                .map_err(|why| SourceError {
                    refusal: Some(Refusal::NotGranted),
                    ..failed(
                        source,
                        format!("cgroup.{field}: {why} (allow-list rule `paths`)"),
                    )
                })?;
        }
        let (directory, pid) = match (&selector.path, &selector.pid_file) {
            (Some(path), _) => (std::path::PathBuf::from(path), None),
            (None, Some(pid_file)) => {
                let pid = cgroup::pid(&read(std::path::Path::new(pid_file))?)
                    .map_err(|why| failed(source, format!("pid file {pid_file}: {why}")))?;
                let own = read(&std::path::PathBuf::from(format!("/proc/{pid}/cgroup")))?;
                let unified = cgroup::unified_path(&own).ok_or_else(|| {
                    failed(
                        source,
                        format!(
                            "process {pid} is in no cgroup v2 this collector can reach (/proc/{pid}/cgroup has no 0:: line, or it climbs out of the mount)"
                        ),
                    )
                })?;
                let mount =
                    cgroup::cgroup2_mount(&read(std::path::Path::new("/proc/self/mountinfo"))?)
                        .ok_or_else(|| failed(source, "this host has no cgroup2 mount"))?;
                (cgroup::directory(&mount, unified), Some(pid))
            }
            (None, None) => return Err(failed(source, "cgroup names neither path nor pid_file")),
        };
        let file = |name: &str| directory.join(name);
        let usage = cgroup::usage_usec(&read(&file("cpu.stat"))?).ok_or_else(|| {
            failed(
                source,
                format!(
                    "{}: no usage_usec (not a cgroup v2 directory?)",
                    file("cpu.stat").display()
                ),
            )
        })?;
        let now = cgroup::CpuSample {
            usage_usec: usage,
            wall_usec: self.cgroups.started.elapsed().as_micros() as u64,
        };
        let before = self
            .cgroups
            .cpu
            .insert((source.id.clone(), directory.clone()), now);
        let cpus = cgroup::cpu_count(&read(std::path::Path::new("/proc/stat"))?);
        // Files of a controller the hierarchy lacks, or of a cgroup without processes, are
        // absent: their readings are left out, the others still read.
        let optional = |path: std::path::PathBuf| std::fs::read_to_string(path).ok();
        let pid =
            pid.or_else(|| optional(file("cgroup.procs")).and_then(|t| cgroup::first_process(&t)));
        let snapshot = cgroup::Snapshot {
            cpu_utilization: before.and_then(|before| cgroup::cpu_utilization(before, now, cpus)),
            memory_used: optional(file("memory.current")).and_then(|t| cgroup::bytes(&t)),
            memory_limit: optional(file("memory.max")).and_then(|t| cgroup::memory_max(&t)),
            network: pid
                .and_then(|pid| optional(format!("/proc/{pid}/net/dev").into()))
                .and_then(|t| host::parse_net_dev(&t)),
        };
        let host_memory = optional("/proc/meminfo".into())
            .and_then(|t| host::parse_meminfo(&t))
            .map(|(total, _)| total);
        Ok(cgroup::readings(&snapshot, host_memory, now_ms))
    }
}
