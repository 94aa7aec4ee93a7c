//! [`Schedule::Sequential`](crate::Schedule::Sequential): plan order on the calling thread.

use super::{Exec, Run};

impl<E: Exec> Run<'_, E> {
    pub(super) fn sequential(&self) {
        for i in 0..self.hot.steps.len() as u32 {
            if !self.run_step(i) {
                return;
            }
        }
    }
}
