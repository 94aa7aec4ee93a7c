//! [`Plan`]: the static shape of a flow that the engine executes.
//!
//! `flow!` computes a plan at compile time and emits it as a `static`; the run-time
//! [`Builder`](crate::Builder) computes the same structure when it is built. Steps are stored
//! in topological order, grouped by layer (the length of the longest path of dependencies that
//! leads to a step), ties kept in declaration order.
//!
//! Result slots are numbered inputs first, then steps in plan order: step `i` writes slot
//! `inputs + i`.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The shape of a flow: its inputs, its steps in topological order and its layers.
#[derive(Debug)]
pub struct Plan {
    flow: Cow<'static, str>,
    inputs: Cow<'static, [Cow<'static, str>]>,
    steps: Cow<'static, [StepPlan]>,
    slots: Cow<'static, [SlotPlan]>,
    layers: Cow<'static, [u32]>,
    /// The engine's compact copy of the step table, made on first use.
    hot: OnceLock<Hot>,
    /// Recent cost of a step, in ns (a moving average over runs; `u64::MAX` before the first).
    cost: AtomicU64,
}

/// What the engine reads per step, packed: no `Cow` to look through, 20 bytes a step.
#[derive(Debug)]
pub(crate) struct Hot {
    /// Per step: dependency count, then `[start, end)` of its reads and of its successors
    /// in `edges`.
    pub(crate) steps: Vec<HotStep>,
    pub(crate) edges: Vec<u32>,
    pub(crate) slots: Vec<SlotPlan>,
    pub(crate) inputs: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct HotStep {
    pub(crate) deps: u32,
    pub(crate) reads: (u32, u32),
    pub(crate) succs: (u32, u32),
    /// Whether finishing the step may drop something: a value it read, or its own result
    /// when nobody reads it. Most steps of most flows drop nothing and skip that work.
    pub(crate) drops: bool,
}

impl Hot {
    #[inline]
    pub(crate) fn reads(&self, step: u32) -> &[u32] {
        let (start, end) = self.steps[step as usize].reads;
        &self.edges[start as usize..end as usize]
    }

    #[inline]
    pub(crate) fn successors(&self, step: u32) -> &[u32] {
        let (start, end) = self.steps[step as usize].succs;
        &self.edges[start as usize..end as usize]
    }
}

impl Clone for Plan {
    fn clone(&self) -> Self {
        Plan {
            flow: self.flow.clone(),
            inputs: self.inputs.clone(),
            steps: self.steps.clone(),
            slots: self.slots.clone(),
            layers: self.layers.clone(),
            hot: OnceLock::new(),
            cost: AtomicU64::new(u64::MAX),
        }
    }
}

/// One step of a [`Plan`].
#[derive(Clone, Debug)]
pub struct StepPlan {
    name: Cow<'static, str>,
    routine: Cow<'static, str>,
    deps: u32,
    reads: Cow<'static, [u32]>,
    succs: Cow<'static, [u32]>,
}

/// How a result slot is used: by how many steps, and whether the run returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotPlan {
    consumers: u32,
    kept: bool,
    needs_drop: bool,
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
    ) -> Self {
        Plan {
            flow: Cow::Borrowed(flow),
            inputs: Cow::Borrowed(inputs),
            steps: Cow::Borrowed(steps),
            slots: Cow::Borrowed(slots),
            layers: Cow::Borrowed(layers),
            hot: OnceLock::new(),
            cost: AtomicU64::new(u64::MAX),
        }
    }

    /// The flow's name.
    #[must_use]
    pub fn flow(&self) -> &str {
        &self.flow
    }

    /// The names of the flow's inputs, in declaration order.
    pub fn inputs(&self) -> impl ExactSizeIterator<Item = &str> {
        self.inputs.iter().map(|name| &**name)
    }

    pub(crate) fn input_count(&self) -> usize {
        self.inputs.len()
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

    pub(crate) fn layer_bounds(&self) -> &[u32] {
        &self.layers
    }

    /// The recent cost of one step in ns, averaged over recent runs; `None` before any run.
    pub(crate) fn step_cost(&self) -> Option<u64> {
        match self.cost.load(Ordering::Relaxed) {
            u64::MAX => None,
            ns => Some(ns),
        }
    }

    /// Folds one run's cost per step into the average (concurrent runs may lose an update,
    /// which only slows the average down).
    pub(crate) fn record_step_cost(&self, ns: u64) {
        let ns = ns.min(u64::MAX - 1);
        let average = match self.step_cost() {
            None => ns,
            Some(old) => (old.saturating_mul(3) / 4).saturating_add(ns / 4),
        };
        self.cost.store(average, Ordering::Relaxed);
    }

    /// The engine's packed step table.
    pub(crate) fn hot(&self) -> &Hot {
        self.hot.get_or_init(|| {
            let mut edges = Vec::new();
            let mut range = |list: &[u32]| {
                let start = edges.len() as u32;
                edges.extend_from_slice(list);
                (start, edges.len() as u32)
            };
            let inputs = self.inputs.len();
            let droppable = |slot: &SlotPlan| slot.needs_drop && !slot.kept;
            let steps = self
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let own = &self.slots[inputs + i];
                    let drops = s.reads.iter().any(|&r| droppable(&self.slots[r as usize]))
                        || (own.consumers == 0 && droppable(own));
                    HotStep {
                        deps: s.deps,
                        reads: range(&s.reads),
                        succs: range(&s.succs),
                        drops,
                    }
                })
                .collect();
            Hot {
                steps,
                edges,
                slots: self.slots.to_vec(),
                inputs: u32::try_from(self.inputs.len()).expect("fewer than 2^32 inputs"),
            }
        })
    }

    /// Builds a plan from steps listed in an order where every step reads only inputs and
    /// earlier steps. `reads[i]` lists the slots step `i` reads, numbered inputs first then
    /// steps in the given order. Returns the plan and, for each given step, its plan index.
    pub(crate) fn build(
        flow: String,
        inputs: Vec<String>,
        specs: Vec<(String, String, Vec<u32>)>,
        kept: &[u32],
    ) -> (Plan, Vec<u32>) {
        let n_inputs = u32::try_from(inputs.len()).expect("fewer than 2^32 inputs");
        let n = specs.len();
        // Layer of a step: 1 + the deepest step it reads (inputs do not count).
        let mut layer = vec![0u32; n];
        for (i, (_, _, reads)) in specs.iter().enumerate() {
            layer[i] = reads
                .iter()
                .filter(|&&s| s >= n_inputs)
                .map(|&s| layer[(s - n_inputs) as usize] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut order: Vec<u32> = (0..u32::try_from(n).expect("fewer than 2^32 steps")).collect();
        order.sort_by_key(|&i| (layer[i as usize], i));
        let mut position = vec![0u32; n];
        for (pos, &i) in order.iter().enumerate() {
            position[i as usize] = u32::try_from(pos).expect("fewer than 2^32 steps");
        }
        let to_slot = |s: u32| {
            if s < n_inputs {
                s
            } else {
                n_inputs + position[(s - n_inputs) as usize]
            }
        };
        let mut slots = vec![
            SlotPlan {
                consumers: 0,
                kept: false,
                needs_drop: true,
            };
            inputs.len() + n
        ];
        let mut succs: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut reads_by_pos: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut deps = vec![0u32; n];
        for (i, (_, _, reads)) in specs.iter().enumerate() {
            let pos = position[i];
            let mut mapped: Vec<u32> = reads.iter().map(|&s| to_slot(s)).collect();
            mapped.sort_unstable();
            mapped.dedup();
            for &s in &mapped {
                slots[s as usize].consumers += 1;
                if s >= n_inputs {
                    succs[(s - n_inputs) as usize].push(pos);
                    deps[pos as usize] += 1;
                }
            }
            reads_by_pos[pos as usize] = mapped;
        }
        for &k in kept {
            slots[to_slot(k) as usize].kept = true;
        }
        let mut names: Vec<Option<(String, String)>> =
            specs.into_iter().map(|(n, r, _)| Some((n, r))).collect();
        let steps: Vec<StepPlan> = order
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let (name, routine) = names[i as usize].take().expect("each step once");
                let mut s = std::mem::take(&mut succs[pos]);
                s.sort_unstable();
                StepPlan {
                    name: Cow::Owned(name),
                    routine: Cow::Owned(routine),
                    deps: deps[pos],
                    reads: Cow::Owned(std::mem::take(&mut reads_by_pos[pos])),
                    succs: Cow::Owned(s),
                }
            })
            .collect();
        let mut bounds = vec![0u32];
        for w in order.windows(2) {
            if layer[w[0] as usize] != layer[w[1] as usize] {
                bounds.push(position[w[1] as usize]);
            }
        }
        bounds.push(u32::try_from(n).expect("fewer than 2^32 steps"));
        if n == 0 {
            bounds = vec![0];
        }
        let plan = Plan {
            flow: Cow::Owned(flow),
            inputs: inputs.into_iter().map(Cow::Owned).collect(),
            steps: Cow::Owned(steps),
            slots: Cow::Owned(slots),
            layers: Cow::Owned(bounds),
            hot: OnceLock::new(),
            cost: AtomicU64::new(u64::MAX),
        };
        (plan, position)
    }
}

impl StepPlan {
    #[doc(hidden)]
    #[must_use]
    pub const fn __from_static(
        name: &'static str,
        routine: &'static str,
        deps: u32,
        reads: &'static [u32],
        succs: &'static [u32],
    ) -> Self {
        StepPlan {
            name: Cow::Borrowed(name),
            routine: Cow::Borrowed(routine),
            deps,
            reads: Cow::Borrowed(reads),
            succs: Cow::Borrowed(succs),
        }
    }

    /// The step's name, as declared in the flow.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the routine the step calls.
    #[must_use]
    pub fn routine(&self) -> &str {
        &self.routine
    }

    pub(crate) fn name_cow(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    /// How many distinct steps this step takes results from.
    #[must_use]
    pub fn dependency_count(&self) -> u32 {
        self.deps
    }

    /// The result slots the step reads, each once (inputs first, then steps in plan order).
    #[must_use]
    pub fn reads(&self) -> &[u32] {
        &self.reads
    }

    /// The plan indices of the steps that take this step's result, each once.
    #[must_use]
    pub fn successors(&self) -> &[u32] {
        &self.succs
    }
}

impl SlotPlan {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(consumers: u32, kept: bool, needs_drop: bool) -> Self {
        SlotPlan {
            consumers,
            kept,
            needs_drop,
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
}
