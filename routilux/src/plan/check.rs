//! Checks that a plan is what the engine relies on: steps in topological order, dependency
//! counts, successor lists, consumer counts and layers that agree with the steps' reads. Plans
//! from `flow!` and the builder are right by construction; this check makes the engine's
//! trust in them explicit (a hand-made plan that lies is refused, never run).

use super::Plan;

/// The first inconsistency of `plan`, if any.
pub(crate) fn check(plan: &Plan) -> Result<(), String> {
    let inputs = plan.inputs.len();
    let steps = &plan.steps;
    let n = steps.len();
    if plan.slots.len() != inputs + n {
        return Err(format!(
            "{} slots for {inputs} inputs and {n} steps",
            plan.slots.len()
        ));
    }
    let mut consumers = vec![0u32; inputs + n];
    for (i, step) in steps.iter().enumerate() {
        let name = step.name();
        let reads = step.reads();
        if reads.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("step `{name}` reads slots out of order or twice"));
        }
        if reads.iter().any(|&r| r as usize >= inputs + i) {
            return Err(format!(
                "step `{name}` reads a slot that is not made before it"
            ));
        }
        if step.after().iter().any(|s| reads.binary_search(s).is_err())
            || step
                .condition()
                .is_some_and(|(s, _)| reads.binary_search(&s).is_err())
        {
            return Err(format!(
                "step `{name}` waits for or is conditional on a slot it does not read"
            ));
        }
        let from_steps = reads.iter().filter(|&&r| r as usize >= inputs).count();
        if step.deps as usize != from_steps {
            return Err(format!(
                "step `{name}` counts {} dependencies, reads {from_steps}",
                step.deps
            ));
        }
        for &r in reads {
            consumers[r as usize] += 1;
        }
    }
    // Each successor list: distinct steps that read the step, as many as read it.
    for (i, step) in steps.iter().enumerate() {
        let own = u32::try_from(inputs + i).unwrap_or(u32::MAX);
        let mut successors = step.successors().to_vec();
        successors.sort_unstable();
        successors.dedup();
        let reads_it = |s: u32| {
            steps
                .get(s as usize)
                .is_some_and(|s| s.reads().binary_search(&own).is_ok())
        };
        if successors.len() != step.successors().len()
            || successors.len() != consumers[inputs + i] as usize
            || !successors.iter().all(|&s| reads_it(s))
        {
            return Err(format!(
                "the successors of step `{}` are not the steps that read it",
                step.name()
            ));
        }
    }
    for (slot, (plan, counted)) in plan.slots.iter().zip(&consumers).enumerate() {
        if plan.consumers() != *counted {
            return Err(format!(
                "slot {slot} counts {} consumers, has {counted}",
                plan.consumers()
            ));
        }
    }
    let bounds = plan.layer_bounds();
    if bounds.first() != Some(&0)
        || bounds.last().map(|&b| b as usize) != Some(n)
        || bounds.windows(2).any(|w| w[0] >= w[1])
    {
        return Err("layer bounds do not cover the steps in order".into());
    }
    for layer in bounds.windows(2) {
        for i in layer[0]..layer[1] {
            let reads = steps[i as usize].reads();
            if reads
                .iter()
                .any(|&r| r as usize >= inputs + layer[0] as usize)
            {
                return Err(format!(
                    "step `{}` depends on a step of its own layer",
                    steps[i as usize].name()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::plan::{Plan, SlotPlan, StepPlan};
    use crate::policy::Policy;

    static INPUTS: [Cow<'static, str>; 1] = [Cow::Borrowed("x")];

    fn step(
        name: &'static str,
        deps: u32,
        reads: &'static [u32],
        succs: &'static [u32],
    ) -> StepPlan {
        StepPlan::__from_static(name, "f", deps, reads, succs, Policy::NONE, "")
    }

    #[test]
    fn a_consistent_plan_passes() {
        let steps: &'static [StepPlan] = Box::leak(Box::new([
            step("a", 0, &[0], &[1]),
            step("b", 1, &[1], &[]),
        ]));
        let slots: &'static [SlotPlan] = Box::leak(Box::new([
            SlotPlan::__new(1, false, true, false),
            SlotPlan::__new(1, false, true, false),
            SlotPlan::__new(0, false, true, true),
        ]));
        let plan = Plan::__from_static("Good", &INPUTS, steps, slots, &[0, 1, 2], "");
        assert_eq!(super::check(&plan), Ok(()));
    }

    #[test]
    fn plans_that_lie_are_refused_before_anything_runs() {
        let slots: &'static [SlotPlan] = Box::leak(Box::new([
            SlotPlan::__new(1, false, true, false),
            SlotPlan::__new(1, false, true, false),
            SlotPlan::__new(0, false, true, true),
        ]));
        let lies: [(&[StepPlan], &[u32], &str); 7] = [
            // `b` waits for `x`, which it does not read.
            (
                &[
                    step("a", 0, &[0], &[1]),
                    step("b", 1, &[1], &[]).__after(&[0]),
                ],
                &[0, 1, 2],
                "does not read",
            ),
            // `b` is conditional on `x`, which it does not read.
            (
                &[
                    step("a", 0, &[0], &[1]),
                    step("b", 1, &[1], &[]).__condition(0, false),
                ],
                &[0, 1, 2],
                "does not read",
            ),
            // `a` reads `b`'s result, which is made after it.
            (
                &[step("a", 1, &[2], &[]), step("b", 0, &[0], &[0])],
                &[0, 1, 2],
                "made before it",
            ),
            // `b` claims no dependency but reads `a`.
            (
                &[step("a", 0, &[0], &[1]), step("b", 0, &[1], &[])],
                &[0, 1, 2],
                "dependencies",
            ),
            // `a` does not list its reader.
            (
                &[step("a", 0, &[0], &[]), step("b", 1, &[1], &[])],
                &[0, 1, 2],
                "successors",
            ),
            // `a` lists its reader twice.
            (
                &[step("a", 0, &[0], &[1, 1]), step("b", 1, &[1], &[])],
                &[0, 1, 2],
                "successors",
            ),
            // Both in one layer, though `b` reads `a`.
            (
                &[step("a", 0, &[0], &[1]), step("b", 1, &[1], &[])],
                &[0, 2],
                "own layer",
            ),
        ];
        for (steps, layers, why) in lies {
            let steps: &'static [StepPlan] = Box::leak(steps.to_vec().into_boxed_slice());
            let layers: &'static [u32] = Box::leak(layers.to_vec().into_boxed_slice());
            let plan = Plan::__from_static("Lies", &INPUTS, steps, slots, layers, "");
            let problem = super::check(&plan).unwrap_err();
            assert!(problem.contains(why), "{problem}");
        }
    }
}
