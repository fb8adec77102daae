//! Runs a target's cases: each on a worker thread, so a panic is caught and a hang is seen (the
//! case is waited for at most `time_limit`), with the allocation of each case measured on that
//! thread. A panic, a hang or a case allocating more than `alloc_limit` beyond its input is a
//! failure; errors returned by the parser are what hostile input should get, and pass.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::alloc;
use crate::rng::Rng;
use crate::targets::Target;

/// The limits every case is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A case still running after this is a hang. Generous: it detects hangs, it does not
    /// measure speed (debug builds on a shared CI core are slow).
    pub time_limit: Duration,
    /// The most a case may hold at once beyond the size of its input.
    pub alloc_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_limit: Duration::from_secs(10),
            alloc_limit: 64 << 20,
        }
    }
}

/// One failing case: enough to replay it (`seed`, `case`) and to read what it was.
#[derive(Debug, Clone)]
pub struct Failure {
    pub case: u64,
    pub what: String,
    /// The input, escaped and cut to 300 characters.
    pub input: String,
}

/// What running a target found.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub cases: u64,
    pub failures: Vec<Failure>,
    /// The most one case held at once beyond its input, in bytes (0 without the counting
    /// allocator installed).
    pub peak_alloc: usize,
    /// The slowest case.
    pub slowest: Duration,
    pub elapsed: Duration,
}

struct Done {
    panic: Option<String>,
    peak: usize,
    took: Duration,
}

/// Runs `cases` cases of `target` from `seed`. Stops early at a hang, whose worker cannot be
/// stopped and is left behind.
pub fn run(target: &Target, cases: u64, seed: u64, limits: Limits) -> Report {
    let started = Instant::now();
    let mut report = Report {
        target: target.name,
        cases: 0,
        failures: Vec::new(),
        peak_alloc: 0,
        slowest: Duration::ZERO,
        elapsed: Duration::ZERO,
    };
    let (to_worker, inbox) = mpsc::channel::<Vec<u8>>();
    let (outbox, from_worker) = mpsc::channel::<Done>();
    let run_case = target.run;
    // The services parse on threads of this size (std's default for spawned threads), so a
    // stack overflow here would be one there.
    let spawned = std::thread::Builder::new()
        .name(format!("fuzz-{}", target.name))
        .stack_size(2 << 20)
        .spawn(move || {
            for input in inbox {
                let base = alloc::start();
                let t = Instant::now();
                let result = catch_unwind(AssertUnwindSafe(|| run_case(&input)));
                let took = t.elapsed();
                let peak = alloc::peak_since(base);
                drop(input);
                let panic = result.err().map(|payload| panic_message(&*payload));
                if outbox.send(Done { panic, peak, took }).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        report.failures.push(Failure {
            case: 0,
            what: format!("cannot start a worker thread: {e}"),
            input: String::new(),
        });
        return report;
    }
    for case in 0..cases {
        let mut rng = Rng::for_case(seed, target.name, case);
        let input = (target.generate)(&mut rng);
        let shown = show(&input);
        let len = input.len();
        if to_worker.send(input).is_err() {
            break;
        }
        report.cases += 1;
        let done = match from_worker.recv_timeout(limits.time_limit) {
            Ok(done) => done,
            Err(_) => {
                report.failures.push(Failure {
                    case,
                    what: format!("hang: still running after {:?}", limits.time_limit),
                    input: shown,
                });
                break;
            }
        };
        report.peak_alloc = report.peak_alloc.max(done.peak.saturating_sub(len));
        report.slowest = report.slowest.max(done.took);
        if let Some(message) = done.panic {
            report.failures.push(Failure {
                case,
                what: format!("panic: {message}"),
                input: shown,
            });
        } else if done.peak > len + limits.alloc_limit {
            report.failures.push(Failure {
                case,
                what: format!(
                    "allocation: held {} bytes at once for {len} bytes of input, over the \
                     limit of {} beyond the input",
                    done.peak, limits.alloc_limit
                ),
                input: shown,
            });
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Replays one case of a target, on this thread: for a regression test or a debugger.
pub fn input_of(target: &Target, seed: u64, case: u64) -> Vec<u8> {
    (target.generate)(&mut Rng::for_case(seed, target.name, case))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

fn show(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let mut shown: String = text.escape_debug().take(300).collect();
    if text.escape_debug().nth(300).is_some() {
        shown.push('…');
    }
    shown
}
