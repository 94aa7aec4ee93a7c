//! Recording: the [`Observer`] side of [`Tracker`], which turns a run's events into spans on
//! thread lanes and per-step statistics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::error::Error;
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant, SystemTime};

use super::{Outcome, RunRecord, Span, State, Stats, StepStats, Tracker, timeline};
use crate::error::FlowError;
use crate::observe::{Observer, RunInfo};
use crate::plan::StepPlan;

/// A run in progress.
pub(super) struct Live {
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
