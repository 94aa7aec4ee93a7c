//! What a runtime counts: [`Metrics`], its queue, its jobs and their latencies.

use std::fmt;
use std::time::{Duration, Instant};

use crate::track::{Report, StepStats};

/// How many recent jobs the latency percentiles cover.
pub(crate) const LATENCY_SAMPLES: usize = 1000;

/// When a job was submitted, started and ended.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) queued: Instant,
    pub(crate) started: Instant,
    pub(crate) ended: Instant,
}

/// The latencies of the jobs that ran, in the Tracker's bounded statistics.
#[derive(Clone)]
pub(crate) struct Latencies {
    start: StepStats,
    run: StepStats,
    total: StepStats,
}

impl Latencies {
    pub(crate) fn new() -> Self {
        Latencies {
            start: StepStats::new(LATENCY_SAMPLES),
            run: StepStats::new(LATENCY_SAMPLES),
            total: StepStats::new(LATENCY_SAMPLES),
        }
    }

    pub(crate) fn record(&mut self, timing: Timing, failed: bool) {
        let since = |later: Instant, earlier: Instant| later.saturating_duration_since(earlier);
        self.start.record(since(timing.started, timing.queued));
        self.run.record(since(timing.ended, timing.started));
        self.total.record(since(timing.ended, timing.queued));
        if failed {
            self.run.failed();
            self.total.failed();
        }
    }
}

/// A snapshot of a runtime's counters and latencies, from
/// [`Runtime::metrics`](crate::Runtime::metrics); it displays as a short report.
///
/// A job is counted as completed, failed or cancelled before its handle sees the result;
/// it leaves `running` (and the latencies) just after.
///
/// Latencies are [`StepStats`] (as a [`Tracker`](crate::Tracker) keeps for steps): counts,
/// min, max and mean over every job that ran, percentiles over the most recent 1,000.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// Jobs waiting in the queue.
    pub queued: usize,
    /// Jobs running now.
    pub running: usize,
    /// Jobs accepted so far.
    pub submitted: u64,
    /// Jobs that produced their output.
    pub completed: u64,
    /// Jobs whose run failed, timed out or panicked.
    pub failed: u64,
    /// Jobs cancelled, before they started or while running.
    pub cancelled: u64,
    /// The queue's capacity.
    pub capacity: usize,
    /// From submission to the start of the run.
    pub start_latency: StepStats,
    /// From the start of the run to its end.
    pub run_time: StepStats,
    /// From submission to the end of the run.
    pub latency: StepStats,
}

impl Metrics {
    pub(crate) fn new(
        (queued, running, capacity): (usize, usize, usize),
        [submitted, completed, failed, cancelled]: [u64; 4],
        latencies: Latencies,
    ) -> Self {
        Metrics {
            queued,
            running,
            capacity,
            submitted,
            completed,
            failed,
            cancelled,
            start_latency: latencies.start,
            run_time: latencies.run,
            latency: latencies.total,
        }
    }

    /// Jobs that ended: completed, failed or cancelled.
    #[must_use]
    pub fn ended(&self) -> u64 {
        self.completed + self.failed + self.cancelled
    }

    /// The latencies as a [`Report`] (rows `start`, `run`, `total`), the table a
    /// [`Tracker`](crate::Tracker) prints.
    #[must_use]
    pub fn report(&self) -> Report {
        Report {
            rows: vec![
                ("start".to_owned(), self.start_latency.clone()),
                ("run".to_owned(), self.run_time.clone()),
                ("total".to_owned(), self.latency.clone()),
            ],
        }
    }

    /// The mean of `stats` in whole microseconds, for compact printing.
    fn micros(stats: &StepStats, p: f64) -> f64 {
        let d: Duration = stats.percentile(p);
        d.as_secs_f64() * 1e6
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "jobs: {} submitted, {} completed, {} failed, {} cancelled; {} queued (capacity {}), {} running",
            self.submitted,
            self.completed,
            self.failed,
            self.cancelled,
            self.queued,
            self.capacity,
            self.running
        )?;
        writeln!(
            f,
            "submit to start: p50 {:.1} µs, p99 {:.1} µs",
            Self::micros(&self.start_latency, 50.0),
            Self::micros(&self.start_latency, 99.0)
        )?;
        write!(f, "{}", self.report())
    }
}
