//! How a [`DynFlow`] is made from its declarations, and how its steps run: the [`Exec`] of a
//! run, with its straight-line form.

use super::store::{Frozen, Layout, Place, Store};
use super::{Body, BuildError, Declared, DynFlow, ErasedUndo, SkipFn, StepFn, UndoFn};
use crate::engine::{Access, Exec};
use crate::error::BoxError;
use crate::plan::{Plan, StepSpec};

/// One step of a [`DynFlow`], in plan order.
pub(super) struct DynStep {
    pub(super) call: StepFn,
    pub(super) skip: Option<SkipFn>,
    pub(super) undo: Option<UndoFn>,
    /// The undo given the value, a `ValueUndo` of the step's type.
    pub(super) value_undo: Option<ErasedUndo>,
    /// The slots a straight run clears right after this step: `clears[start..end]`.
    pub(super) clears: (u32, u32),
}

/// The closures of one step.
struct Closures {
    call: StepFn,
    skip: Option<SkipFn>,
    undo: Option<UndoFn>,
    value_undo: Option<ErasedUndo>,
}

/// What runs of a [`DynFlow`] need besides its plan.
pub(super) struct Compiled {
    pub(super) steps: Vec<DynStep>,
    /// Slots a straight run clears, the ranges of `DynStep::clears`; the first
    /// `first_clears` are the inputs nobody reads, cleared before the first step.
    pub(super) clears: Vec<u32>,
    pub(super) first_clears: u32,
    pub(super) groups: Frozen,
    /// The place of each plan slot.
    pub(super) place_of_slot: Vec<Place>,
    /// The plan slot of each declaration.
    pub(super) slot_of_decl: Vec<u32>,
    /// The place of each declaration.
    pub(super) place_of_decl: Vec<Place>,
}

/// Computes the plan of a builder's declarations and puts their closures in plan order.
pub(super) fn compile(
    name: String,
    inputs: Vec<String>,
    declared: Vec<Declared>,
    kept: &[u32],
    layout: &Layout,
    defect: &mut Option<BuildError>,
) -> (Plan, Compiled) {
    let n_inputs = u32::try_from(inputs.len()).unwrap_or(u32::MAX);
    let mut specs = Vec::with_capacity(declared.len());
    let mut closures = Vec::with_capacity(declared.len());
    for step in declared {
        let (mut policy, call, undo, value_undo) = match step.body {
            Body::Step {
                call,
                undo,
                value_undo,
            } => (step.policy, call, undo, value_undo),
            Body::Map(map) => map.compile(step.policy),
        };
        if step.skip.is_some() {
            policy = policy.__conditional();
        }
        // `after` steps the step also reads (as arguments or condition) are data edges.
        let mut reads = step.reads;
        let after: Vec<u32> = step
            .after
            .iter()
            .copied()
            .filter(|slot| !reads.contains(slot))
            .collect();
        reads.extend(step.after);
        specs.push(StepSpec {
            name: step.name,
            routine: step.routine,
            reads,
            after,
            condition: step.condition,
            policy,
            subflow: step.subflow,
        });
        closures.push(Some(Closures {
            call,
            skip: step.skip,
            undo,
            value_undo,
        }));
    }
    let (plan, position) = Plan::build(name, inputs, specs, kept, &layout.needs_drop());
    let slot_of_decl: Vec<u32> = (0..n_inputs)
        .chain(position.iter().map(|&p| n_inputs + p))
        .collect();
    let mut place_of_slot = layout.places.clone();
    for (decl, &slot) in slot_of_decl.iter().enumerate() {
        place_of_slot[slot as usize] = layout.places[decl];
    }
    let mut ordered: Vec<Option<Closures>> = (0..closures.len()).map(|_| None).collect();
    for (decl, closure) in closures.into_iter().enumerate() {
        ordered[position[decl] as usize] = closure;
    }
    let (clears, first_clears, ranges) = straight_clears(&plan);
    let steps = ordered
        .into_iter()
        .zip(ranges)
        .filter_map(|(closure, clears)| {
            let Closures {
                call,
                skip,
                undo,
                value_undo,
            } = closure?;
            Some(DynStep {
                call,
                skip,
                undo,
                value_undo,
                clears,
            })
        })
        .collect::<Vec<_>>();
    if steps.len() != plan.steps().len() && defect.is_none() {
        *defect = Some(BuildError::TooLarge);
    }
    let compiled = Compiled {
        steps,
        clears,
        first_clears,
        groups: layout.freeze(&slot_of_decl),
        place_of_slot,
        place_of_decl: layout.places.clone(),
        slot_of_decl,
    };
    (plan, compiled)
}

/// What a straight run clears and when, as the engine's `Sequential` schedule does: an input
/// nobody reads before the first step, a value right after its last reader, a result nobody
/// reads right after its step; never a value that is kept or needs no drop.
fn straight_clears(plan: &Plan) -> (Vec<u32>, u32, Vec<(u32, u32)>) {
    let hot = plan.hot();
    let n = hot.steps.len();
    let mut last_reader: Vec<Option<u32>> = vec![None; hot.slots.len()];
    for step in 0..n {
        let step = u32::try_from(step).unwrap_or(u32::MAX);
        for &slot in hot.reads(step) {
            last_reader[slot as usize] = Some(step);
        }
    }
    let droppable = |slot: usize| {
        let plan = hot.slots[slot];
        plan.needs_drop() && !plan.kept()
    };
    let mut after: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut first = Vec::new();
    for (slot, reader) in last_reader.iter().enumerate() {
        if !droppable(slot) {
            continue;
        }
        let slot32 = u32::try_from(slot).unwrap_or(u32::MAX);
        match reader {
            Some(step) => after[*step as usize].push(slot32),
            None if slot < hot.inputs as usize => first.push(slot32),
            None => after[slot - hot.inputs as usize].push(slot32),
        }
    }
    let first_clears = u32::try_from(first.len()).unwrap_or(u32::MAX);
    let mut clears = first;
    let ranges = after
        .into_iter()
        .map(|list| {
            let start = u32::try_from(clears.len()).unwrap_or(u32::MAX);
            clears.extend(list);
            (start, u32::try_from(clears.len()).unwrap_or(u32::MAX))
        })
        .collect();
    (clears, first_clears, ranges)
}

/// The per-run state of a [`DynFlow`]: its values.
pub(super) struct DynRun<'f> {
    pub(super) compiled: &'f Compiled,
    pub(super) store: Store,
}

impl Exec for DynRun<'_> {
    #[inline]
    fn run_step(&self, step: usize, access: &mut Access<'_>) -> Result<(), BoxError> {
        (self.compiled.steps[step].call)(&self.store, access)
    }

    fn skip(&self, step: usize, access: &mut Access<'_>) -> bool {
        self.compiled.steps[step]
            .skip
            .as_ref()
            .is_some_and(|skip| skip(&self.store, access))
    }

    #[inline]
    fn clear(&self, slot: usize, access: &mut Access<'_>) {
        if let Some(&place) = self.compiled.place_of_slot.get(slot) {
            self.store.clear(place, access);
        }
    }

    fn undo_step(&self, step: usize, access: &Access<'_>) -> Result<(), BoxError> {
        match &self.compiled.steps[step].undo {
            Some(undo) => undo(&self.store, access),
            None => Ok(()),
        }
    }

    fn run_straight(&self, access: &mut Access<'_>) -> Option<Result<(), BoxError>> {
        let compiled = self.compiled;
        let clear = |slot: u32, access: &mut Access<'_>| {
            access.enter_clear(slot);
            self.clear(slot as usize, access);
        };
        for &slot in &compiled.clears[..compiled.first_clears as usize] {
            clear(slot, access);
        }
        for (position, step) in compiled.steps.iter().enumerate() {
            access.enter_step(u32::try_from(position).unwrap_or(u32::MAX));
            let skipped = step
                .skip
                .as_ref()
                .is_some_and(|skip| skip(&self.store, access));
            if !skipped && let Err(error) = (step.call)(&self.store, access) {
                return Some(Err(error));
            }
            let (start, end) = step.clears;
            for &slot in &compiled.clears[start as usize..end as usize] {
                clear(slot, access);
            }
        }
        Some(Ok(()))
    }
}

impl DynFlow {
    pub(super) fn new_run(&self, store: Store) -> DynRun<'_> {
        DynRun {
            compiled: &self.compiled,
            store,
        }
    }
}
