//! Per-step statistics in bounded memory.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// Statistics of one step of one flow, over every run a [`Tracker`](super::Tracker) saw.
///
/// Counts, total, min, max and mean cover every attempt ever recorded; the percentiles cover
/// the most recent attempts (at most [`Tracker::with_samples`](super::Tracker::with_samples),
/// 1000 by default), so memory stays bounded however long the process runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepStats {
    calls: u64,
    failures: u64,
    retries: u64,
    skipped: u64,
    total: Duration,
    min: Option<Duration>,
    max: Duration,
    recent: VecDeque<Duration>,
    capacity: usize,
}

impl StepStats {
    pub(crate) fn new(capacity: usize) -> Self {
        StepStats {
            capacity: capacity.max(1),
            ..StepStats::default()
        }
    }

    /// Records one attempt that took `took`.
    pub(crate) fn record(&mut self, took: Duration) {
        self.calls += 1;
        self.total = self.total.saturating_add(took);
        self.min = Some(self.min.map_or(took, |m| m.min(took)));
        self.max = self.max.max(took);
        self.push_recent(took);
    }

    /// Statistics of `calls` attempts counted elsewhere (`failures` of them failed), with
    /// an empty recent window of `capacity` (see [`push_recent`](Self::push_recent)).
    pub(crate) fn summary(
        capacity: usize,
        [calls, failures]: [u64; 2],
        total: Duration,
        [min, max]: [Duration; 2],
    ) -> Self {
        StepStats {
            calls,
            failures,
            total,
            min: (calls > 0).then_some(min),
            max,
            ..StepStats::new(capacity)
        }
    }

    /// Puts `took` in the recent window (the percentiles) only.
    pub(crate) fn push_recent(&mut self, took: Duration) {
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(took);
    }

    pub(crate) fn failed(&mut self) {
        self.failures += 1;
    }

    pub(crate) fn retried(&mut self) {
        self.retries += 1;
    }

    pub(crate) fn was_skipped(&mut self) {
        self.skipped += 1;
    }

    /// Runs in which the step's condition was false, so that it did not run (not counted
    /// in [`calls`](Self::calls)).
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Attempts recorded (a retried step counts each attempt).
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Times the step failed for good (after its retries and compensation).
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Attempts that failed and were retried.
    #[must_use]
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// Time spent in every attempt together.
    #[must_use]
    pub fn total(&self) -> Duration {
        self.total
    }

    /// The shortest attempt (zero before the first).
    #[must_use]
    pub fn min(&self) -> Duration {
        self.min.unwrap_or_default()
    }

    /// The longest attempt.
    #[must_use]
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The mean attempt (zero before the first).
    #[must_use]
    pub fn mean(&self) -> Duration {
        if self.calls == 0 {
            return Duration::ZERO;
        }
        let nanos = self.total.as_nanos() / u128::from(self.calls);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The `p`-th percentile (nearest rank, `p` clamped to 0..=100) of the recent attempts
    /// (zero before the first).
    #[must_use]
    pub fn percentile(&self, p: f64) -> Duration {
        if self.recent.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted: Vec<Duration> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// The median of the recent attempts.
    #[must_use]
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The 99th percentile of the recent attempts.
    #[must_use]
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    /// How many recent attempts the percentiles are taken over.
    #[must_use]
    pub fn samples(&self) -> usize {
        self.recent.len()
    }
}

/// A table of every tracked step: name, calls, failures, retries, avg, p50, p99, min, max,
/// total; made by [`Tracker::report`](super::Tracker::report).
#[derive(Clone, Debug)]
pub struct Report {
    pub(crate) rows: Vec<(String, StepStats)>,
}

impl Report {
    /// The rows: `flow.step` and its statistics, sorted by name.
    #[must_use]
    pub fn rows(&self) -> &[(String, StepStats)] {
        &self.rows
    }
}

/// A duration in the unit that suits it.
struct Short(Duration);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        #[allow(clippy::cast_precision_loss)]
        let text = if ns < 1_000 {
            format!("{ns} ns")
        } else if ns < 1_000_000 {
            format!("{:.1} µs", ns as f64 / 1e3)
        } else if ns < 1_000_000_000 {
            format!("{:.2} ms", ns as f64 / 1e6)
        } else {
            format!("{:.2} s", ns as f64 / 1e9)
        };
        f.pad(&text)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .iter()
            .map(|(name, _)| name.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(
            f,
            "{:<width$}  {:>7}  {:>6}  {:>7}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
            "step", "calls", "failed", "retried", "avg", "p50", "p99", "min", "max", "total"
        )?;
        for (name, s) in &self.rows {
            writeln!(
                f,
                "{name:<width$}  {:>7}  {:>6}  {:>7}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
                s.calls,
                s.failures,
                s.retries,
                Short(s.mean()),
                Short(s.p50()),
                Short(s.p99()),
                Short(s.min()),
                Short(s.max()),
                Short(s.total),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn statistics_match_hand_computed_values() {
        let mut s = StepStats::new(100);
        for n in [5, 1, 4, 2, 3, 10, 7, 6, 9, 8] {
            s.record(ms(n));
        }
        assert_eq!(s.calls(), 10);
        assert_eq!(s.total(), ms(55));
        assert_eq!(s.min(), ms(1));
        assert_eq!(s.max(), ms(10));
        assert_eq!(s.mean(), Duration::from_micros(5500));
        assert_eq!(s.p50(), ms(5));
        assert_eq!(s.p99(), ms(10));
        assert_eq!(s.percentile(10.0), ms(1));
        assert_eq!(s.percentile(0.0), ms(1));
        assert_eq!(s.percentile(f64::NAN), ms(1));
        assert_eq!(s.percentile(250.0), ms(10));
    }

    #[test]
    fn percentiles_cover_only_the_recent_window() {
        let mut s = StepStats::new(3);
        for n in [100, 1, 2, 3] {
            s.record(ms(n));
        }
        assert_eq!(s.samples(), 3);
        assert_eq!(s.max(), ms(100), "all-time");
        assert_eq!(s.p99(), ms(3), "recent");
        assert_eq!(s.p50(), ms(2));
    }

    #[test]
    fn empty_statistics_are_zero() {
        let s = StepStats::new(0);
        assert_eq!(
            (s.mean(), s.min(), s.p50()),
            (Duration::ZERO, Duration::ZERO, Duration::ZERO)
        );
    }

    #[test]
    fn the_report_lists_every_row() {
        let mut s = StepStats::new(4);
        s.record(Duration::from_nanos(1500));
        s.retried();
        let report = Report {
            rows: vec![("Flow.step".into(), s)],
        };
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("step "));
        let cells: Vec<&str> = lines[1]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            [
                "Flow.step",
                "1",
                "0",
                "1",
                "1.5 µs",
                "1.5 µs",
                "1.5 µs",
                "1.5 µs",
                "1.5 µs",
                "1.5 µs"
            ]
        );
    }
}
