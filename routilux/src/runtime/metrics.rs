//! What a runtime counts: [`Metrics`], its queue, its jobs and their latencies.

use std::collections::VecDeque;
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

/// The latencies of the jobs one pool thread ran (each thread keeps its own, so that
/// recording one crosses no lock shared between threads): counts, total, min and max of
/// every job, and the timings of its most recent [`LATENCY_SAMPLES`] jobs, from which
/// [`merge`](Self::merge) takes the percentiles of the runtime's most recent jobs.
#[derive(Default)]
pub(crate) struct Latencies {
    /// Submission to start, start to end, submission to end.
    sums: [Sum; 3],
    recent: VecDeque<Timing>,
}

/// Counts, total, min and max of one latency, in nanoseconds (cheap to add to: one is
/// recorded per job).
#[derive(Clone, Copy)]
pub(crate) struct Sum {
    calls: u64,
    failures: u64,
    total: u64,
    min: u64,
    max: u64,
}

impl Default for Sum {
    fn default() -> Self {
        Sum {
            calls: 0,
            failures: 0,
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl Sum {
    fn count(&mut self, nanos: u64, failed: bool) {
        self.calls += 1;
        self.failures += u64::from(failed);
        self.total = self.total.saturating_add(nanos);
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
    }

    fn add(&mut self, other: &Sum) {
        self.calls += other.calls;
        self.failures += other.failures;
        self.total = self.total.saturating_add(other.total);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// As statistics with an empty recent window.
    fn stats(&self) -> StepStats {
        StepStats::summary(
            LATENCY_SAMPLES,
            [self.calls, self.failures],
            Duration::from_nanos(self.total),
            [self.min, self.max].map(Duration::from_nanos),
        )
    }
}

impl Latencies {
    pub(crate) fn record(&mut self, timing: Timing, failed: bool) {
        let [start, run] = timing.nanos();
        self.sums[0].count(start, false);
        self.sums[1].count(run, failed);
        self.sums[2].count(start.saturating_add(run), failed);
        if self.recent.len() == LATENCY_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(timing);
    }

    /// Adds this thread's counts to `sums` and its recent timings to `recent`.
    pub(crate) fn report(&self, sums: &mut [Sum; 3], recent: &mut Vec<Timing>) {
        for (sum, own) in sums.iter_mut().zip(&self.sums) {
            sum.add(own);
        }
        recent.extend(self.recent.iter().copied());
    }

    /// The runtime's statistics (start, run, total) from the threads' counts (`sums`, see
    /// [`report`](Self::report)) and their recent timings: the percentiles cover the
    /// [`LATENCY_SAMPLES`] jobs that ended last, whichever thread ran them.
    pub(crate) fn merge(sums: &[Sum; 3], mut recent: Vec<Timing>) -> [StepStats; 3] {
        if recent.len() > LATENCY_SAMPLES {
            let older = recent.len() - LATENCY_SAMPLES;
            recent.select_nth_unstable_by_key(older, |timing| timing.ended);
            recent.drain(..older);
        }
        recent.sort_unstable_by_key(|timing| timing.ended);
        let mut stats = sums.each_ref().map(Sum::stats);
        for timing in recent {
            let [start, run] = timing.nanos().map(Duration::from_nanos);
            for (stats, took) in stats.iter_mut().zip([start, run, start + run]) {
                stats.push_recent(took);
            }
        }
        stats
    }
}

impl Timing {
    /// From submission to start and from start to end, in nanoseconds.
    fn nanos(self) -> [u64; 2] {
        let nanos = |later: Instant, earlier: Instant| {
            u64::try_from(later.saturating_duration_since(earlier).as_nanos()).unwrap_or(u64::MAX)
        };
        [
            nanos(self.started, self.queued),
            nanos(self.ended, self.started),
        ]
    }
}

/// A snapshot of a runtime's counters and latencies, from
/// [`Runtime::metrics`](crate::Runtime::metrics); it displays as a short report.
///
/// A job is counted as completed, failed or cancelled before its handle sees the result;
/// it leaves `running` (and the latencies) just after.
///
/// Latencies are [`StepStats`] (as a [`Tracker`](crate::Tracker) keeps for steps): counts,
/// min, max and mean over every job that ran, percentiles over the 1,000 that ended last.
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
    /// From submission to the start of the run. A job its thread turned to as soon as the
    /// job before ended starts at that end (or at its submission, if later): the time to
    /// fetch it from the queue, a fraction of a microsecond, counts in its run time.
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
        [start_latency, run_time, latency]: [StepStats; 3],
    ) -> Self {
        Metrics {
            queued,
            running,
            capacity,
            submitted,
            completed,
            failed,
            cancelled,
            start_latency,
            run_time,
            latency,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that ended `ended_ns` after `base` and ran for `run_us`.
    fn job(base: Instant, ended_ns: u64, run_us: u64) -> Timing {
        let ended = base + Duration::from_micros(100) + Duration::from_nanos(ended_ns);
        Timing {
            queued: base,
            started: ended - Duration::from_micros(run_us),
            ended,
        }
    }

    #[test]
    fn merged_threads_count_every_job_and_take_percentiles_from_the_last_ones_to_end() {
        let base = Instant::now();
        // Thread a: 1,500 jobs of 1 µs, ending first; thread b: 600 jobs of 5 µs, ending
        // after them, one of them failed.
        let (mut a, mut b) = (Latencies::default(), Latencies::default());
        for i in 0..1500 {
            a.record(job(base, i, 1), false);
        }
        for i in 0..600 {
            b.record(job(base, 10_000 + i, 5), i == 7);
        }
        let mut sums = <[Sum; 3]>::default();
        let mut recent = Vec::new();
        // b reports first: the order of the threads must not matter.
        b.report(&mut sums, &mut recent);
        a.report(&mut sums, &mut recent);
        let [start, run, total] = Latencies::merge(&sums, recent);
        assert_eq!(
            (start.calls(), run.calls(), total.calls()),
            (2100, 2100, 2100)
        );
        assert_eq!(
            (run.failures(), total.failures(), start.failures()),
            (1, 1, 0)
        );
        assert_eq!(
            (run.min(), run.max()),
            (Duration::from_micros(1), Duration::from_micros(5))
        );
        // The last 1,000 to end: b's 600 and a's last 400 (a keeps 1,000 of its 1,500).
        assert_eq!(run.samples(), LATENCY_SAMPLES);
        assert_eq!(run.percentile(40.0), Duration::from_micros(1));
        assert_eq!(run.percentile(40.1), Duration::from_micros(5));
    }
}
