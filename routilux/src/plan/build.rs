//! Plans computed at run time, for the [`Builder`](crate::Builder).

use std::borrow::Cow;
use std::sync::OnceLock;

use super::{FlowObserver, InnerPlan, Plan, SlotPlan, StepPlan};
use crate::policy::Policy;

/// One step given to [`Plan::build`]. Slots are numbered inputs first, then steps in the
/// given order.
pub(crate) struct StepSpec {
    pub(crate) name: String,
    pub(crate) routine: String,
    /// Everything the step waits for: its arguments, its condition and `after`.
    pub(crate) reads: Vec<u32>,
    /// The slots of `reads` the step only waits for.
    pub(crate) after: Vec<u32>,
    /// The slot of its condition, and whether it is negated.
    pub(crate) condition: Option<(u32, bool)>,
    pub(crate) policy: Policy,
    /// The plan of the flow the step runs, if it is a sub-flow.
    pub(crate) subflow: Option<InnerPlan>,
}

impl Plan {
    /// Builds a plan from steps listed in an order where every step reads only inputs and
    /// earlier steps (see [`StepSpec`]); `returned` lists the slots a run returns; `needs_drop` says,
    /// in the same numbering, whether dropping each value does anything. Returns the plan and,
    /// for each given step, its plan index.
    pub(crate) fn build(
        flow: String,
        inputs: Vec<String>,
        specs: Vec<StepSpec>,
        returned: &[u32],
        needs_drop: &[bool],
    ) -> (Plan, Vec<u32>) {
        let n_inputs = u32::try_from(inputs.len()).expect("fewer than 2^32 inputs");
        let n = specs.len();
        // Layer of a step: 1 + the deepest step it reads (inputs do not count).
        let mut layer = vec![0u32; n];
        for (i, spec) in specs.iter().enumerate() {
            layer[i] = spec
                .reads
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
                returned: false,
            };
            inputs.len() + n
        ];
        let mut succs: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut reads_by_pos: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut deps = vec![0u32; n];
        let mut after_by_pos: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, spec) in specs.iter().enumerate() {
            let pos = position[i];
            let mut mapped: Vec<u32> = spec.reads.iter().map(|&s| to_slot(s)).collect();
            mapped.sort_unstable();
            mapped.dedup();
            for &s in &mapped {
                slots[s as usize].consumers += 1;
                if s >= n_inputs {
                    succs[(s - n_inputs) as usize].push(pos);
                    deps[pos as usize] += 1;
                }
            }
            let mut after: Vec<u32> = spec
                .after
                .iter()
                .map(|&s| to_slot(s))
                .filter(|s| mapped.binary_search(s).is_ok())
                .collect();
            after.sort_unstable();
            after.dedup();
            after_by_pos[pos as usize] = after;
            reads_by_pos[pos as usize] = mapped;
        }
        for (k, &drops) in needs_drop.iter().enumerate() {
            if let Ok(k) = u32::try_from(k)
                && let Some(slot) = slots.get_mut(to_slot(k) as usize)
            {
                slot.needs_drop = drops;
            }
        }
        for &k in returned {
            let slot = &mut slots[to_slot(k) as usize];
            slot.kept = true;
            slot.returned = true;
        }
        // An undoable step's result is kept until the run ends, for its undo.
        for (i, spec) in specs.iter().enumerate() {
            if spec.policy.is_undoable() {
                slots[(n_inputs + position[i]) as usize].kept = true;
            }
        }
        let mut specs: Vec<Option<StepSpec>> = specs.into_iter().map(Some).collect();
        let steps: Vec<StepPlan> = order
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let spec = specs[i as usize].take().expect("each step once");
                let mut s = std::mem::take(&mut succs[pos]);
                s.sort_unstable();
                StepPlan {
                    name: Cow::Owned(spec.name),
                    routine: Cow::Owned(spec.routine),
                    policy: spec.policy,
                    doc: Cow::Borrowed(""),
                    deps: deps[pos],
                    reads: Cow::Owned(std::mem::take(&mut reads_by_pos[pos])),
                    succs: Cow::Owned(s),
                    after: Cow::Owned(std::mem::take(&mut after_by_pos[pos])),
                    condition: spec.condition.map(|(s, negated)| (to_slot(s), negated)),
                    inner: spec.subflow,
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
            doc: Cow::Borrowed(""),
            inputs: inputs.into_iter().map(Cow::Owned).collect(),
            steps: Cow::Owned(steps),
            slots: Cow::Owned(slots),
            layers: Cow::Owned(bounds),
            hot: OnceLock::new(),
            observer: FlowObserver::new(),
        };
        (plan, position)
    }
}
