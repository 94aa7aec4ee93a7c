//! [`Schedule::Sequential`](crate::Schedule::Sequential): plan order on the calling thread.

use super::{Exec, Run};

impl<E: Exec> Run<'_, E> {
    pub(super) fn sequential(&self) {
        for i in 0..self.plan.steps().len() {
            if !self.run_step(i as u32) {
                return;
            }
        }
    }
}
