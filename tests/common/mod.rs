//! What the saga tests share: an error type, a recording observer and the schedules.

#![allow(dead_code)]

pub mod tracked;
pub mod tracked_async;

use std::error::Error;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use routilux::{ErrorKind, FlowError, Observer, RunInfo, RunOptions, Schedule, StepPlan};

/// An undoable reservation: `x + 1`, undone by doing nothing (the observer sees the undo).
pub struct Reserve;

impl routilux::Step for Reserve {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;

    fn run((x,): (&u32,), _: &routilux::Context) -> Result<u32, Boom> {
        Ok(x + 1)
    }
}

/// A routine's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boom(pub &'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for Boom {}

/// Records every event as a line of text.
#[derive(Default)]
pub struct Log {
    lines: Mutex<Vec<String>>,
    on_retry: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Log {
    /// A log that also calls `hook` each time a retry is announced, before the backoff.
    pub fn on_retry(hook: impl Fn() + Send + Sync + 'static) -> Self {
        Log {
            lines: Mutex::default(),
            on_retry: Some(Box::new(hook)),
        }
    }

    pub fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    pub fn events(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The events whose text starts with `prefix`, without it.
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.events()
            .iter()
            .filter_map(|e| e.strip_prefix(prefix).map(str::to_owned))
            .collect()
    }
}

impl Observer for Log {
    fn run_started(&self, _: &RunInfo<'_>) {
        self.push("run".into());
    }
    fn step_started(&self, _: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
        self.push(format!("start {}#{attempt}", step.name()));
    }
    fn step_finished(&self, _: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
        self.push(format!("finish {}#{attempt}", step.name()));
    }
    fn step_retrying(
        &self,
        _: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        delay: Duration,
        error: &(dyn Error + 'static),
    ) {
        self.push(format!(
            "retry {}#{attempt} after {delay:?}: {error}",
            step.name()
        ));
        if let Some(hook) = &self.on_retry {
            hook();
        }
    }
    fn step_compensated(&self, _: &RunInfo<'_>, step: &StepPlan, error: &(dyn Error + 'static)) {
        self.push(format!("compensate {}: {error}", step.name()));
    }
    fn step_failed(
        &self,
        _: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        error: &(dyn Error + 'static),
    ) {
        self.push(format!("fail {}#{attempt}: {error}", step.name()));
    }
    fn step_skipped(&self, _: &RunInfo<'_>, step: &StepPlan) {
        self.push(format!("skip {}", step.name()));
    }
    fn run_cancelled(&self, _: &RunInfo<'_>, reason: ErrorKind) {
        self.push(format!("cancelled {reason:?}"));
    }
    fn undo_started(&self, _: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
        self.push(format!("undo {}#{attempt}", step.name()));
    }
    fn undo_finished(&self, _: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
        self.push(format!("undone {}#{attempt}", step.name()));
    }
    fn undo_failed(
        &self,
        _: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        error: &(dyn Error + 'static),
    ) {
        self.push(format!("undo-fail {}#{attempt}: {error}", step.name()));
    }
    fn run_finished(&self, _: &RunInfo<'_>, result: Result<(), &FlowError>) {
        self.push(if result.is_ok() { "end ok" } else { "end err" }.into());
    }
}

/// A pool with enough threads for steps that wait for each other.
pub fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
    })
}

/// Every schedule, the parallel ones on [`pool`] and never inlined.
pub fn schedules() -> [(Schedule, RunOptions<'static>); 3] {
    [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow]
        .map(|schedule| (schedule, RunOptions::new().schedule(schedule).pool(pool())))
}

/// The parallel schedules only.
pub fn parallel_schedules() -> [(Schedule, RunOptions<'static>); 2] {
    let [_, layered, dataflow] = schedules();
    [layered, dataflow]
}

/// `events` as written, for comparing with a literal list.
pub fn lines(events: &[&str]) -> Vec<String> {
    events.iter().map(|&e| e.to_owned()).collect()
}
