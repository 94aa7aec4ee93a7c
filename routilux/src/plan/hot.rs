//! The engine's packed copy of a plan's step table.

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;

use super::{Plan, SlotPlan};

/// What the engine reads per step, packed: no `Cow` to look through, 24 bytes a step.
///
/// Successor lists and [`roots`](Self::roots) are sorted by height (the number of steps on the
/// longest path from the step to the end of the flow), tallest first: the engine continues
/// with the tallest ready step on the same thread and hands the rest out, so the likely
/// critical path never waits behind short independent work.
#[derive(Debug)]
pub(crate) struct Hot {
    /// Per step: dependency count, then `[start, end)` of its reads and of its successors
    /// in `edges`.
    pub(crate) steps: Vec<HotStep>,
    pub(crate) edges: Vec<u32>,
    pub(crate) slots: Vec<SlotPlan>,
    pub(crate) inputs: u32,
    /// How many steps can be undone.
    pub(crate) undoable: usize,
    /// The steps without step dependencies, tallest first.
    pub(crate) roots: Vec<u32>,
    /// Whether every step is plain (see [`HotStep::plain`]) but for conditions, which the
    /// straight-line form checks itself.
    pub(crate) all_plain: bool,
    /// Whether some step is async (see [`HotStep::asynchronous`]).
    pub(crate) any_async: bool,
    /// Whether some step takes a permit of a [`Limit`](crate::Limit) of its own.
    pub(crate) any_limited: bool,
    /// Why the plan cannot be run, if it is inconsistent (see `check`).
    pub(crate) problem: Option<String>,
    /// Per step: whether it is thought to run long (or block): then a plain thread that owns
    /// a run and is about to start it while other steps wait calls the pool first (see
    /// `engine::promote`). The mark comes when the heartbeat had to promote a run during the
    /// step, or when calling the pool before it gained something; it goes when calling the
    /// pool before it gained nothing. The only history runs keep: it decides when helpers
    /// are called, never where a step runs or in what order.
    pub(crate) long: Box<[AtomicBool]>,
    /// Whether no plain thread has owned a run of the plan yet and the plan comes from
    /// `flow!` (it lives as long as the program; a [`Builder`](crate::Builder) flow may be
    /// built for each call): until one has, every step is presumed long.
    pub(crate) fresh: AtomicBool,
    /// Test switch: runs of this plan are not watched by the heartbeat.
    #[cfg(test)]
    pub(crate) unwatched: AtomicBool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct HotStep {
    pub(crate) deps: u32,
    pub(crate) reads: (u32, u32),
    pub(crate) succs: (u32, u32),
    /// Whether finishing the step may drop something: a value it read, or its own result
    /// when nobody reads it. Most steps of most flows drop nothing and skip that work.
    pub(crate) drops: bool,
    /// Whether the step has no retries, undo, compensation or context: the engine's fast path.
    pub(crate) plain: bool,
    /// Whether the step is async: its future is polled by the run's owner, never run on a
    /// pool thread.
    pub(crate) asynchronous: bool,
    /// Steps on the longest path from this step to the end of the flow, itself included.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) height: u32,
}

impl Hot {
    /// Whether the heartbeat may watch runs of this plan (always, but for tests that
    /// switch it off with `unwatched`).
    #[inline]
    pub(crate) fn watchable(&self) -> bool {
        #[cfg(test)]
        return !self.unwatched.load(std::sync::atomic::Ordering::Relaxed);
        #[cfg(not(test))]
        true
    }

    #[inline]
    pub(crate) fn reads(&self, step: u32) -> &[u32] {
        let (start, end) = self.steps[step as usize].reads;
        &self.edges[start as usize..end as usize]
    }

    #[cfg(test)]
    pub(crate) fn height(&self, step: u32) -> u32 {
        self.steps[step as usize].height
    }

    /// Successors of `step`, tallest first.
    #[inline]
    pub(crate) fn successors(&self, step: u32) -> &[u32] {
        let (start, end) = self.steps[step as usize].succs;
        &self.edges[start as usize..end as usize]
    }
}

impl Plan {
    /// The engine's packed step table (built by the first run).
    #[inline]
    pub(crate) fn hot(&self) -> &Hot {
        match self.hot.get() {
            Some(hot) => hot,
            None => self.build_hot(),
        }
    }

    #[cold]
    fn build_hot(&self) -> &Hot {
        self.hot.get_or_init(|| {
            let mut edges = Vec::new();
            let mut range = |list: &[u32]| {
                let start = edges.len() as u32;
                edges.extend_from_slice(list);
                (start, edges.len() as u32)
            };
            let inputs = self.inputs.len();
            let droppable = |slot: &SlotPlan| slot.needs_drop && !slot.kept;
            // Steps are in topological order: successors come later.
            let mut heights = vec![1u32; self.steps.len()];
            for (i, s) in self.steps.iter().enumerate().rev() {
                let below = s.succs.iter().map(|&n| heights[n as usize]).max();
                heights[i] = below.map_or(1, |h| h.saturating_add(1));
            }
            let tallest_first = |list: &[u32]| {
                let mut sorted = list.to_vec();
                sorted.sort_by_key(|&n| std::cmp::Reverse(heights[n as usize]));
                sorted
            };
            let steps: Vec<HotStep> = self
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
                        succs: range(&tallest_first(&s.succs)),
                        drops,
                        plain: s.policy.is_plain() && !s.policy.is_conditional(),
                        asynchronous: s.policy.is_async(),
                        height: heights[i],
                    }
                })
                .collect();
            let undoable = self.steps.iter().filter(|s| s.policy.is_undoable()).count();
            let roots: Vec<u32> = (0..self.steps.len() as u32)
                .filter(|&i| self.steps[i as usize].deps == 0)
                .collect();
            Hot {
                problem: super::check::check(self).err(),
                all_plain: self.steps.iter().all(|s| s.policy.is_plain()),
                any_async: self.steps.iter().any(|s| s.policy.is_async()),
                any_limited: self.steps.iter().any(|s| s.policy.get_limit().is_some()),
                undoable,
                roots: tallest_first(&roots),
                long: steps.iter().map(|_| AtomicBool::new(false)).collect(),
                fresh: AtomicBool::new(matches!(self.steps, Cow::Borrowed(_))),
                #[cfg(test)]
                unwatched: AtomicBool::new(false),
                steps,
                edges,
                slots: self.slots.to_vec(),
                inputs: u32::try_from(self.inputs.len()).expect("fewer than 2^32 inputs"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::atomic::Ordering;

    use crate::plan::{Plan, SlotPlan, StepPlan};
    use crate::{Builder, Policy};

    fn ok(args: &[&u64]) -> Result<u64, std::fmt::Error> {
        Ok(args.iter().copied().sum())
    }

    #[test]
    fn roots_and_successors_are_tallest_first() {
        let mut b = Builder::new("Heights");
        let x = b.input::<u64>("x").unwrap();
        let short = b.step("short", &[x], ok).unwrap();
        let c1 = b.step("c1", &[x], ok).unwrap();
        let c2 = b.step("c2", &[c1], ok).unwrap();
        let c3 = b.step("c3", &[c2], ok).unwrap();
        let fork = b.step("fork", &[], ok).unwrap();
        let leaf = b.step("leaf", &[fork], ok).unwrap();
        let deep = b.step("deep", &[fork], ok).unwrap();
        let deeper = b.step("deeper", &[deep], ok).unwrap();
        for h in [short, c3, leaf, deeper] {
            b.output(h);
        }
        let flow = b.build();
        let plan = flow.plan();
        let hot = plan.hot();
        let name = |i: u32| plan.steps()[i as usize].name().to_owned();
        let heights: Vec<(String, u32)> = (0..hot.steps.len() as u32)
            .map(|i| (name(i), hot.height(i)))
            .collect();
        for (step, height) in [("short", 1), ("c1", 3), ("c3", 1), ("fork", 3), ("deep", 2)] {
            assert!(heights.contains(&(step.to_owned(), height)), "{heights:?}");
        }
        let roots: Vec<String> = hot.roots.iter().map(|&i| name(i)).collect();
        assert_eq!(roots[2], "short", "{roots:?}");
        let fork = (0..hot.steps.len() as u32)
            .find(|&i| name(i) == "fork")
            .unwrap();
        let successors: Vec<String> = hot.successors(fork).iter().map(|&i| name(i)).collect();
        assert_eq!(successors, ["deep", "leaf"]);
    }

    #[test]
    fn only_plans_from_flow_start_fresh() {
        // A plan as `flow!` emits it (borrowed from statics): one input, one step reading it.
        let step = StepPlan::__from_static("only", "r", 0, &[0], &[], Policy::default(), "");
        let leak = |slots: Vec<SlotPlan>| -> &'static [SlotPlan] { Vec::leak(slots) };
        let plan = Plan::__from_static(
            "Static",
            Vec::leak(vec![Cow::Borrowed("x")]),
            Vec::leak(vec![step]),
            leak(vec![
                SlotPlan::__new(1, false, false, false),
                SlotPlan::__new(0, true, false, true),
            ]),
            &[0, 1],
            "",
        );
        assert!(plan.hot().fresh.load(Ordering::Relaxed));
        // A builder's plan (perhaps built for each call).
        let mut b = Builder::new("Built");
        let x = b.input::<u64>("x").unwrap();
        let only = b.step("only", &[x], ok).unwrap();
        b.output(only);
        assert!(!b.build().plan().hot().fresh.load(Ordering::Relaxed));
    }
}
