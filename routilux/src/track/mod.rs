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

mod record;
mod stats;
mod svg;
mod timeline;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use stats::{Report, StepStats};
pub use timeline::{Outcome, RunRecord, Span};

use record::Live;

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
}
