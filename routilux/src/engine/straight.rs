//! Runs a flow through its straight-line form ([`Exec::run_straight`]), with the engine's
//! failure semantics: the first error or panic stops the run and names its step, a `Drop` that
//! panics fails the run as its value's step, and every value left is dropped once.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::run::drop_error;
use super::{CLEARING, Exec};
use crate::error::{ErrorKind, FlowError, StepPanicked};
use crate::plan::Plan;
use crate::slot::Access;

/// Runs the flow straight through; `None` if it has no straight-line form.
pub(super) fn run<E: Exec>(plan: &Plan, exec: &E, brand: u64) -> Option<Result<(), FlowError>> {
    let hot = plan.hot();
    let mut access = Access::straight(brand, hot);
    let outcome = catch_unwind(AssertUnwindSafe(|| exec.run_straight(&mut access)));
    let at = access.position();
    let (kind, source) = match outcome {
        Ok(None) => return None,
        Ok(Some(Ok(()))) => return Some(Ok(())),
        Ok(Some(Err(error))) => (ErrorKind::Failed, error),
        Err(payload) => {
            let message = StepPanicked::from_payload(&*payload);
            if at & CLEARING != 0 {
                let slot = (at & !CLEARING) as usize;
                let error = drop_error(plan, slot, message.message());
                clear_all(plan, exec, brand);
                return Some(Err(error));
            }
            (ErrorKind::Panicked, Box::new(message) as _)
        }
    };
    let step = plan.steps()[at as usize].name_cow();
    clear_all(plan, exec, brand);
    Some(Err(FlowError::new(
        kind,
        plan.flow().to_owned().into(),
        Some(step),
        Some(source),
    )))
}

/// After a failure: drops every value left, each on its own (a panicking `Drop` is caught and
/// the run's first error stands).
fn clear_all<E: Exec>(plan: &Plan, exec: &E, brand: u64) {
    let hot = plan.hot();
    for slot in 0..hot.slots.len() {
        let mut access = Access::clear(brand, hot, u32::try_from(slot).unwrap_or(u32::MAX));
        let _caught = catch_unwind(AssertUnwindSafe(|| exec.clear(slot, &mut access)));
    }
}
