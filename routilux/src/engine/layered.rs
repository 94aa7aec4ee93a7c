//! [`Schedule::Layered`](crate::Schedule::Layered): each layer in parallel, a barrier between.

use rayon::prelude::*;

use super::{Exec, Run};

impl<E: Exec> Run<'_, E> {
    pub(super) fn layered(&self) {
        for bounds in self.plan.layer_bounds().windows(2) {
            let (start, end) = (bounds[0], bounds[1]);
            if end - start == 1 {
                self.run_step(start);
            } else {
                // One step per piece: two long steps of a layer never end up in one piece
                // that a single thread runs in turn while another idles.
                (start..end).into_par_iter().with_max_len(1).for_each(|i| {
                    self.run_step(i);
                });
            }
            if self.stopped.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
        }
    }
}
