//! The engine's packed copy of a plan's step table.

use super::{Plan, SlotPlan};

/// What the engine reads per step, packed: no `Cow` to look through, 20 bytes a step.
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

impl Plan {
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
                        plain: s.policy.is_plain(),
                    }
                })
                .collect();
            let undoable = self.steps.iter().filter(|s| s.policy.is_undoable()).count();
            Hot {
                undoable,
                steps,
                edges,
                slots: self.slots.to_vec(),
                inputs: u32::try_from(self.inputs.len()).expect("fewer than 2^32 inputs"),
            }
        })
    }
}
