//! [`Plan`]: the static shape of a flow that the engine executes.
//!
//! `flow!` computes a plan at compile time and emits it as a `static`; the run-time
//! [`Builder`](crate::Builder) computes the same structure when it is built. Steps are stored
//! in topological order, grouped by layer (the length of the longest path of dependencies that
//! leads to a step), ties kept in declaration order.
//!
//! Result slots are numbered inputs first, then steps in plan order: step `i` writes slot
//! `inputs + i`.

mod build;
mod check;
mod hot;
mod step;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

pub(crate) use build::StepSpec;
pub(crate) use hot::Hot;
pub(crate) use step::InnerPlan;
pub use step::StepPlan;

use crate::observe::Observer;

/// The shape of a flow: its inputs, its steps in topological order and its layers.
#[derive(Debug)]
pub struct Plan {
    flow: Cow<'static, str>,
    doc: Cow<'static, str>,
    inputs: Cow<'static, [Cow<'static, str>]>,
    steps: Cow<'static, [StepPlan]>,
    slots: Cow<'static, [SlotPlan]>,
    layers: Cow<'static, [u32]>,
    /// The engine's compact copy of the step table, made on first use.
    hot: OnceLock<Hot>,
    /// The observer attached to every run of the flow.
    observer: FlowObserver,
}

/// An observer attached to a flow (see [`Plan::attach_observer`]).
pub(crate) type SharedObserver = Arc<dyn Observer + Send + Sync>;

/// The per-flow observer: a flag the engine checks once per run, and the observer behind it.
pub(crate) struct FlowObserver {
    attached: AtomicBool,
    observer: RwLock<Option<SharedObserver>>,
}

impl FlowObserver {
    pub(crate) const fn new() -> Self {
        FlowObserver {
            attached: AtomicBool::new(false),
            observer: RwLock::new(None),
        }
    }
}

impl fmt::Debug for FlowObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.attached.load(Ordering::Relaxed) {
            "attached"
        } else {
            "none"
        })
    }
}

impl Clone for Plan {
    fn clone(&self) -> Self {
        Plan {
            flow: self.flow.clone(),
            doc: self.doc.clone(),
            inputs: self.inputs.clone(),
            steps: self.steps.clone(),
            slots: self.slots.clone(),
            layers: self.layers.clone(),
            hot: OnceLock::new(),
            observer: FlowObserver::new(),
        }
    }
}

/// How a result slot is used: by how many steps, whether it is kept to the end of the run
/// (returned, or read by an undo), and whether the run returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotPlan {
    consumers: u32,
    kept: bool,
    needs_drop: bool,
    returned: bool,
}

impl Plan {
    #[doc(hidden)]
    #[must_use]
    pub const fn __from_static(
        flow: &'static str,
        inputs: &'static [Cow<'static, str>],
        steps: &'static [StepPlan],
        slots: &'static [SlotPlan],
        layers: &'static [u32],
        doc: &'static str,
    ) -> Self {
        Plan {
            flow: Cow::Borrowed(flow),
            doc: Cow::Borrowed(doc),
            inputs: Cow::Borrowed(inputs),
            steps: Cow::Borrowed(steps),
            slots: Cow::Borrowed(slots),
            layers: Cow::Borrowed(layers),
            hot: OnceLock::new(),
            observer: FlowObserver::new(),
        }
    }

    /// The flow's name.
    #[must_use]
    pub fn flow(&self) -> &str {
        &self.flow
    }

    /// The flow's doc comment in `flow!`, its lines trimmed and joined by spaces (empty when
    /// it has none, and for a [`Builder`](crate::Builder) flow).
    #[must_use]
    pub fn doc(&self) -> &str {
        &self.doc
    }

    /// The names of the flow's inputs, in declaration order.
    pub fn inputs(&self) -> impl ExactSizeIterator<Item = &str> {
        self.inputs.iter().map(|name| &**name)
    }

    pub(crate) fn input_count(&self) -> usize {
        self.inputs.len()
    }

    pub(crate) fn input_name(&self, input: usize) -> Cow<'static, str> {
        self.inputs[input].clone()
    }

    /// The steps in topological order (the order [`Schedule::Sequential`](crate::Schedule)
    /// runs them in).
    #[must_use]
    pub fn steps(&self) -> &[StepPlan] {
        &self.steps
    }

    /// The topological layers: each layer's steps depend only on steps of earlier layers, so
    /// the steps of one layer can all run at the same time.
    pub fn layers(&self) -> impl ExactSizeIterator<Item = &[StepPlan]> {
        self.layers
            .windows(2)
            .map(|w| &self.steps[w[0] as usize..w[1] as usize])
    }

    /// Whether a run returns the value of slot `slot`.
    pub(crate) fn slot_returned(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|s| s.returned)
    }

    pub(crate) fn layer_bounds(&self) -> &[u32] {
        &self.layers
    }

    /// Attaches `observer` to every run of this flow from now on (besides any observer a run
    /// brings in its [`RunOptions`](crate::RunOptions)), replacing the one attached before.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use routilux::{flow, routine, Observer, RunInfo};
    ///
    /// #[routine]
    /// fn one() -> u32 { 1 }
    /// flow! { flow Counted { step a = one(); return a; } }
    ///
    /// #[derive(Default)]
    /// struct Runs(AtomicUsize);
    /// impl Observer for Runs {
    ///     fn run_started(&self, _: &RunInfo<'_>) { self.0.fetch_add(1, Ordering::Relaxed); }
    /// }
    ///
    /// let runs = Arc::new(Runs::default());
    /// Counted::plan().attach_observer(runs.clone());
    /// Counted::run()?;
    /// Counted::run()?;
    /// Counted::plan().detach_observer();
    /// Counted::run()?;
    /// assert_eq!(runs.0.load(Ordering::Relaxed), 2);
    /// # Ok::<(), routilux::FlowError>(())
    /// ```
    pub fn attach_observer(&self, observer: Arc<dyn Observer + Send + Sync>) {
        let mut slot = self
            .observer
            .observer
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Some(observer);
        self.observer.attached.store(true, Ordering::Release);
    }

    /// Detaches the flow's observer, if any; returns it.
    pub fn detach_observer(&self) -> Option<Arc<dyn Observer + Send + Sync>> {
        let mut slot = self
            .observer
            .observer
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.observer.attached.store(false, Ordering::Release);
        slot.take()
    }

    /// The flow's observer, if one is attached.
    pub(crate) fn flow_observer(&self) -> Option<SharedObserver> {
        if !self.observer.attached.load(Ordering::Acquire) {
            return None;
        }
        self.observer
            .observer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SlotPlan {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(consumers: u32, kept: bool, needs_drop: bool, returned: bool) -> Self {
        SlotPlan {
            consumers,
            kept: kept || returned,
            needs_drop,
            returned,
        }
    }

    /// Whether dropping the value does anything; if not, the engine never clears the slot.
    pub(crate) fn needs_drop(self) -> bool {
        self.needs_drop
    }

    pub(crate) fn consumers(self) -> u32 {
        self.consumers
    }

    pub(crate) fn kept(self) -> bool {
        self.kept
    }

    /// Whether the run hands the value back to its caller.
    pub(crate) fn returned(self) -> bool {
        self.returned
    }
}
