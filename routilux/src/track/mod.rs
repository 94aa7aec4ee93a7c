//! [`Tracker`]: an [`Observer`] that keeps per-step statistics and the timelines of recent
//! runs, in bounded memory.
//!
//! ```
//! use std::sync::Arc;
//! use routilux::{flow, routine, RunOptions, Tracker};
//!
//! #[routine]
//! fn double(x: &u64) -> u64 { x * 2 }
//!
//! flow! { flow Double { input x: u64; step y = double(x); return y; } }
//!
//! let tracker = Tracker::new().with_history(10);
//! for x in 0..100 {
//!     Double::run_with(RunOptions::new().observer(&tracker), x)?;
//! }
//! assert_eq!(tracker.stats("Double", "y").unwrap().calls(), 100);
//! assert_eq!(tracker.history().len(), 10);               // the last 10 runs only
//! let run = tracker.last_run().unwrap();
//! assert!(run.to_chrome_trace().contains("\"ph\":\"X\""));
//! assert!(run.to_svg().starts_with("<svg"));
//! println!("{}", tracker.report());
//! # Ok::<(), routilux::FlowError>(())
//! ```

mod stats;
mod svg;
mod timeline;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::error::Error;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant, SystemTime};

pub use stats::{Report, StepStats};
pub use timeline::{Outcome, RunRecord, Span};

use crate::error::FlowError;
use crate::observe::{Observer, RunInfo};
use crate::plan::StepPlan;

/// Keeps, for every step of every flow it observes, counts and durations
/// ([`StepStats`]), and the timelines of the last runs ([`RunRecord`]).
///
/// Attach it to a run with [`RunOptions::observer`](crate::RunOptions::observer), or to every
/// run of a flow with [`Plan::attach_observer`](crate::Plan::attach_observer) (as an
/// `Arc<Tracker>`). Memory stays bounded: at most [`with_history`](Self::with_history) runs
/// (1000 by default) and [`with_samples`](Self::with_samples) durations per step (1000) are
/// kept, plus one fixed-size entry per distinct flow and step name seen (for
/// [`Builder`](crate::Builder) flows whose names are made up at run time, call
/// [`clear`](Self::clear) now and then). Every event takes one lock: attach a tracker where
/// the steps are worth watching, not to flows of nanosecond steps.
pub struct Tracker {
    history_len: usize,
    samples: usize,
    state: Mutex<State>,
}

/// Statistics by flow, then step.
type Stats = BTreeMap<String, BTreeMap<String, StepStats>>;

#[derive(Default)]
struct State {
    stats: Stats,
    live: HashMap<u64, Live>,
    history: VecDeque<Arc<RunRecord>>,
    runs: u64,
}

/// A run in progress.
struct Live {
    started: Instant,
    started_at: SystemTime,
    spans: Vec<Span>,
    open: HashMap<usize, Open>,
    undo: Option<Open>,
    compensated: HashSet<usize>,
    lanes: Vec<(ThreadId, String)>,
}

struct Open {
    lane: usize,
    start: Instant,
    attempt: u32,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker::new()
    }
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("history", &self.history_len)
            .field("samples", &self.samples)
            .field("runs", &self.runs())
            .finish_non_exhaustive()
    }
}

/// The plan index of `step`, an element of `run`'s plan.
/// The step's name on the timeline: qualified (`y/c`) in the run of a sub-flow.
fn qualified<'s>(run: &RunInfo<'_>, step: &'s StepPlan) -> std::borrow::Cow<'s, str> {
    if run.prefix().is_empty() {
        step.name().into()
    } else {
        format!("{}{}", run.prefix(), step.name()).into()
    }
}

fn index_of(run: &RunInfo<'_>, step: &StepPlan) -> usize {
    let steps = run.plan().steps();
    let size = std::mem::size_of::<StepPlan>().max(1);
    let offset = (std::ptr::from_ref(step) as usize).wrapping_sub(steps.as_ptr() as usize) / size;
    if offset < steps.len() && std::ptr::eq(&steps[offset], step) {
        return offset;
    }
    steps
        .iter()
        .position(|s| s.name() == step.name())
        .unwrap_or(usize::MAX)
}

impl Live {
    fn lane(&mut self) -> usize {
        let thread = std::thread::current();
        let id = thread.id();
        if let Some(lane) = self.lanes.iter().position(|(t, _)| *t == id) {
            return lane;
        }
        let label = match rayon::current_thread_index() {
            Some(index) => format!("worker {index}"),
            None => thread.name().unwrap_or("caller").to_owned(),
        };
        self.lanes.push((id, label));
        self.lanes.len() - 1
    }

    fn close(&mut self, open: Open, index: usize, name: &str, outcome: Outcome) -> Duration {
        let duration = open.start.elapsed();
        self.spans.push(Span {
            step: name.to_owned(),
            index,
            lane: open.lane,
            start: open.start.saturating_duration_since(self.started),
            duration,
            attempt: open.attempt,
            outcome,
            critical: false,
        });
        duration
    }
}

impl Tracker {
    /// A tracker keeping the last 1000 runs and 1000 durations per step.
    #[must_use]
    pub fn new() -> Self {
        Tracker {
            history_len: 1000,
            samples: 1000,
            state: Mutex::new(State::default()),
        }
    }

    /// Keeps the timelines of the last `runs` runs (0 keeps none).
    #[must_use]
    pub fn with_history(mut self, runs: usize) -> Self {
        self.history_len = runs;
        self
    }

    /// Takes percentiles over the last `samples` attempts of each step (at least 1).
    #[must_use]
    pub fn with_samples(mut self, samples: usize) -> Self {
        self.samples = samples.max(1);
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs observed to their end.
    #[must_use]
    pub fn runs(&self) -> u64 {
        self.lock().runs
    }

    /// The statistics of step `step` of flow `flow`, if it ran.
    #[must_use]
    pub fn stats(&self, flow: &str, step: &str) -> Option<StepStats> {
        self.lock().stats.get(flow)?.get(step).cloned()
    }

    /// The kept runs, oldest first.
    #[must_use]
    pub fn history(&self) -> Vec<Arc<RunRecord>> {
        self.lock().history.iter().cloned().collect()
    }

    /// The most recent run, if any is kept.
    #[must_use]
    pub fn last_run(&self) -> Option<Arc<RunRecord>> {
        self.lock().history.back().cloned()
    }

    /// A table of every step's statistics (see [`Report`]); print it with `{}`.
    #[must_use]
    pub fn report(&self) -> Report {
        let rows = self
            .lock()
            .stats
            .iter()
            .flat_map(|(flow, steps)| {
                steps
                    .iter()
                    .map(move |(step, stats)| (format!("{flow}.{step}"), stats.clone()))
            })
            .collect();
        Report { rows }
    }

    /// Forgets every statistic and run, including runs still in progress (their end is then
    /// not recorded).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.live.clear();
        state.stats.clear();
        state.history.clear();
        state.runs = 0;
    }

    /// Runs `f` on run `run` in progress and the statistics, if the run is known.
    fn with_live(&self, run: &RunInfo<'_>, f: impl FnOnce(&mut Live, &mut Stats)) {
        let mut guard = self.lock();
        let State { live, stats, .. } = &mut *guard;
        if let Some(live) = live.get_mut(&run.id()) {
            f(live, stats);
        }
    }

    /// The statistics of `step` of `run`'s flow, made on first use.
    fn stats_of<'s>(
        &self,
        stats: &'s mut Stats,
        run: &RunInfo<'_>,
        step: &StepPlan,
    ) -> &'s mut StepStats {
        let flow = run.plan().flow();
        if !stats.contains_key(flow) {
            stats.insert(flow.to_owned(), BTreeMap::new());
        }
        let steps = stats.get_mut(flow).expect("inserted above");
        if !steps.contains_key(step.name()) {
            steps.insert(step.name().to_owned(), StepStats::new(self.samples));
        }
        steps.get_mut(step.name()).expect("inserted above")
    }

    fn end_attempt(&self, run: &RunInfo<'_>, step: &StepPlan, outcome: Outcome) {
        let index = index_of(run, step);
        self.with_live(run, |live, stats| {
            let took = live
                .open
                .remove(&index)
                .map(|open| live.close(open, index, &qualified(run, step), outcome));
            // An attempt is counted once, when its span closes: an event heard twice (the
            // same tracker attached to the run and to the flow) finds nothing open.
            let Some(took) = took else {
                return;
            };
            let stats = self.stats_of(stats, run, step);
            stats.record(took);
            match outcome {
                Outcome::Retried => stats.retried(),
                Outcome::Failed => stats.failed(),
                _ => {}
            }
        });
    }

    fn skip(&self, run: &RunInfo<'_>, step: &StepPlan) {
        let index = index_of(run, step);
        self.with_live(run, |live, stats| {
            let lane = live.lane();
            let open = Open {
                lane,
                start: Instant::now(),
                attempt: 0,
            };
            live.close(open, index, &qualified(run, step), Outcome::Skipped);
            self.stats_of(stats, run, step).was_skipped();
        });
    }

    fn end_undo(&self, run: &RunInfo<'_>, step: &StepPlan, outcome: Outcome) {
        let index = index_of(run, step);
        self.with_live(run, |live, _| {
            if let Some(open) = live.undo.take() {
                live.close(open, index, &qualified(run, step), outcome);
            }
        });
    }
}

impl Observer for Tracker {
    fn run_started(&self, run: &RunInfo<'_>) {
        let live = Live {
            started: Instant::now(),
            started_at: SystemTime::now(),
            spans: Vec::new(),
            open: HashMap::new(),
            undo: None,
            compensated: HashSet::new(),
            lanes: Vec::new(),
        };
        self.lock().live.insert(run.id(), live);
    }

    fn step_started(&self, run: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
        let index = index_of(run, step);
        self.with_live(run, |live, _| {
            let lane = live.lane();
            live.open.insert(
                index,
                Open {
                    lane,
                    start: Instant::now(),
                    attempt,
                },
            );
        });
    }

    fn step_skipped(&self, run: &RunInfo<'_>, step: &StepPlan) {
        self.skip(run, step);
    }

    fn step_finished(&self, run: &RunInfo<'_>, step: &StepPlan, _: u32) {
        let index = index_of(run, step);
        let mut continued = false;
        self.with_live(run, |live, _| continued = live.compensated.remove(&index));
        let outcome = if continued {
            Outcome::Continued
        } else {
            Outcome::Finished
        };
        self.end_attempt(run, step, outcome);
    }

    fn step_retrying(
        &self,
        run: &RunInfo<'_>,
        step: &StepPlan,
        _: u32,
        _: Duration,
        _: &(dyn Error + 'static),
    ) {
        self.end_attempt(run, step, Outcome::Retried);
    }

    fn step_compensated(&self, run: &RunInfo<'_>, step: &StepPlan, _: &(dyn Error + 'static)) {
        let index = index_of(run, step);
        self.with_live(run, |live, _| {
            live.compensated.insert(index);
        });
    }

    fn step_failed(&self, run: &RunInfo<'_>, step: &StepPlan, _: u32, _: &(dyn Error + 'static)) {
        self.end_attempt(run, step, Outcome::Failed);
    }

    fn undo_started(&self, run: &RunInfo<'_>, _: &StepPlan, attempt: u32) {
        self.with_live(run, |live, _| {
            let lane = live.lane();
            live.undo = Some(Open {
                lane,
                start: Instant::now(),
                attempt,
            });
        });
    }

    fn undo_finished(&self, run: &RunInfo<'_>, step: &StepPlan, _: u32) {
        self.end_undo(run, step, Outcome::Undone);
    }

    fn undo_failed(&self, run: &RunInfo<'_>, step: &StepPlan, _: u32, _: &(dyn Error + 'static)) {
        self.end_undo(run, step, Outcome::UndoFailed);
    }

    fn run_finished(&self, run: &RunInfo<'_>, result: Result<(), &FlowError>) {
        let mut state = self.lock();
        let Some(mut live) = state.live.remove(&run.id()) else {
            return;
        };
        state.runs += 1;
        if self.history_len == 0 {
            return;
        }
        timeline::mark_critical(&mut live.spans, run.plan());
        // Lanes in a stable order: rayon workers by index, then other threads by name.
        let mut order: Vec<usize> = (0..live.lanes.len()).collect();
        let key = |lane: usize| {
            let label = &live.lanes[lane].1;
            let worker = label
                .strip_prefix("worker ")
                .and_then(|n| n.parse::<usize>().ok());
            (worker.is_none(), worker, label.clone())
        };
        order.sort_by_key(|&lane| key(lane));
        let mut new_lane = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_lane[old] = new;
        }
        for span in &mut live.spans {
            span.lane = new_lane[span.lane];
        }
        let lanes = order.iter().map(|&old| live.lanes[old].1.clone()).collect();
        let record = RunRecord {
            id: run.id(),
            flow: run.plan().flow().to_owned(),
            started_at: live.started_at,
            duration: live.started.elapsed(),
            error: result.err().map(ToString::to_string),
            spans: live.spans,
            lanes,
        };
        while state.history.len() >= self.history_len {
            state.history.pop_front();
        }
        state.history.push_back(Arc::new(record));
    }
}
