//! How a run ends: the values nobody released are dropped, a failed run's completed steps are
//! undone, a sub-flow's successful run keeps what an outer undo needs, and the result (with
//! every undo error) is handed back.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::{Exec, Run};
use crate::error::FlowError;
use crate::observe::RunInfo;
use crate::subflow::KeptLog;

impl<'a, E: Exec> Run<'a, E> {
    /// After the schedule: drops what is left, undoes completed steps if the run failed, and
    /// hands back the result. Afterwards only the returned values of a successful run remain.
    pub(super) fn finish(&mut self) -> (Result<Option<KeptLog>, FlowError>, RunInfo<'a>) {
        self.finish_undone(None)
    }

    /// [`finish`](Self::finish) of a run whose undo already ran (`undone`: its failures).
    pub(super) fn finish_undone(
        &mut self,
        undone: Option<Vec<crate::error::UndoError>>,
    ) -> (Result<Option<KeptLog>, FlowError>, RunInfo<'a>) {
        let info = self.info();
        let slots = self.hot.slots.len() as u32;
        let leftover = |slot: u32| {
            let plan = self.hot.slots[slot as usize];
            plan.needs_drop() && !plan.kept()
        };
        // Values of a stopped run that their consumers never released.
        if self.failure.get().is_some() {
            (0..slots)
                .filter(|&s| leftover(s))
                .for_each(|s| self.clear(s));
        }
        let undo_errors = match undone {
            Some(errors) => errors,
            None if self.failure.get().is_some() => self.undo_completed(),
            None => Vec::new(),
        };
        // A successful run of a sub-flow whose undoable steps completed keeps their values
        // (and the inner runs of its own sub-flow steps) for the outer run's undo.
        // Only a sub-flow's run keeps anything: a run called directly skips this.
        if self.parent.is_some() && self.failure.get().is_none() {
            let completed = self.completed.load(Ordering::Acquire).min(self.done.len());
            if completed > 0 || !self.keep.is_empty() {
                let log = KeptLog {
                    brand: self.brand,
                    completed: self.done[..completed]
                        .iter()
                        .map(|d| d.load(Ordering::Relaxed))
                        .collect(),
                    children: std::mem::take(&mut self.keep),
                };
                return (Ok(Some(log)), info);
            }
        }
        // Values kept for undo; then, if the run failed (a drop just now included), the
        // values that were to be returned.
        for returned in [false, true] {
            if returned && self.failure.get().is_none() {
                break;
            }
            for slot in 0..slots {
                let plan = self.hot.slots[slot as usize];
                if plan.needs_drop() && plan.kept() && plan.returned() == returned {
                    self.clear(slot);
                }
            }
        }
        let result = match self.failure.take() {
            Some(mut error) => {
                let late = std::mem::take(
                    self.late_undo_errors
                        .get_mut()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                if !late.is_empty() {
                    error.set_undo_errors(late);
                }
                if !undo_errors.is_empty() {
                    error.set_undo_errors(undo_errors);
                }
                Err(error)
            }
            None => Ok(None),
        };
        (result, info)
    }
}
