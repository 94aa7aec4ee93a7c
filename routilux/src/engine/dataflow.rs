//! [`Schedule::Dataflow`](crate::Schedule::Dataflow): a step starts as soon as its own
//! dependencies are done.
//!
//! A finishing step counts down its successors' pending dependencies. One successor that
//! became ready runs next on the same thread (a chain never leaves its thread); the others are
//! split in halves with `rayon::join`, so a fan-out of `n` costs `log n` levels of joins, not
//! `n` spawns. Joins nest on the thread's stack; past a nesting bound the extra ready steps are
//! spawned instead, so deep or comb-shaped graphs cannot overflow a worker's stack.

use std::cell::Cell;

use rayon::Scope;

use super::{Exec, Run};

/// Successors handled with an on-stack buffer; wider fan-outs are split first.
const BATCH: usize = 16;
/// Nested chains per thread beyond which ready steps are spawned rather than joined.
const MAX_NESTING: u32 = 32;

thread_local! {
    static NESTING: Cell<u32> = const { Cell::new(0) };
}

/// Counts how many chains are running nested on this thread's stack.
struct Nesting;

impl Nesting {
    fn enter() -> Self {
        NESTING.with(|n| n.set(n.get() + 1));
        Nesting
    }

    fn deep() -> bool {
        NESTING.with(Cell::get) >= MAX_NESTING
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get() - 1));
    }
}

impl<'a, E: Exec> Run<'a, E> {
    pub(super) fn dataflow(&self) {
        let bounds = self.plan.layer_bounds();
        if bounds.len() < 2 {
            return;
        }
        // Layer 0 holds exactly the steps without step dependencies.
        let (start, end) = (bounds[0], bounds[1]);
        rayon::scope(|s| self.run_range(s, start, end));
    }

    /// Runs the ready steps `start..end` in parallel.
    fn run_range<'s>(&'s self, s: &Scope<'s>, start: u32, end: u32)
    where
        'a: 's,
    {
        if end - start == 1 {
            self.run_chain(s, start);
        } else {
            let mid = start + (end - start) / 2;
            rayon::join(
                || self.run_range(s, start, mid),
                || self.run_range(s, mid, end),
            );
        }
    }

    /// Runs the ready steps in `ready` (not empty) in parallel.
    fn run_ready<'s>(&'s self, s: &Scope<'s>, ready: &[u32])
    where
        'a: 's,
    {
        if let [only] = ready {
            return self.run_chain(s, *only);
        }
        let (left, right) = ready.split_at(ready.len() / 2);
        if Nesting::deep() {
            let right = right.to_vec();
            s.spawn(move |s| self.run_ready(s, &right));
            self.run_ready(s, left);
        } else {
            rayon::join(|| self.run_ready(s, left), || self.run_ready(s, right));
        }
    }

    /// Runs step `i`, then whatever it makes ready, continuing on this thread with one of them.
    fn run_chain<'s>(&'s self, s: &Scope<'s>, mut i: u32)
    where
        'a: 's,
    {
        let _nesting = Nesting::enter();
        loop {
            if !self.run_step(i) {
                return;
            }
            let successors = self.hot.successors(i);
            if successors.len() > BATCH {
                return self.release_many(s, successors);
            }
            let mut ready = [0u32; BATCH];
            let mut n = 0;
            for &next in successors {
                if self.dependency_done(next) {
                    ready[n] = next;
                    n += 1;
                }
            }
            match n {
                0 => return,
                1 => i = ready[0],
                _ if Nesting::deep() => {
                    s.spawn(move |s| self.run_ready(s, &ready[1..n]));
                    i = ready[0];
                }
                _ => {
                    rayon::join(
                        || self.run_chain(s, ready[0]),
                        || self.run_ready(s, &ready[1..n]),
                    );
                    return;
                }
            }
        }
    }

    /// Counts down a wide fan-out's successors, splitting the work in halves across threads.
    fn release_many<'s>(&'s self, s: &Scope<'s>, successors: &'a [u32])
    where
        'a: 's,
    {
        if successors.len() <= BATCH {
            let mut ready = [0u32; BATCH];
            let mut n = 0;
            for &next in successors {
                if self.dependency_done(next) {
                    ready[n] = next;
                    n += 1;
                }
            }
            if n > 0 {
                self.run_ready(s, &ready[..n]);
            }
            return;
        }
        let (left, right) = successors.split_at(successors.len() / 2);
        if Nesting::deep() {
            s.spawn(move |s| self.release_many(s, right));
            self.release_many(s, left);
        } else {
            rayon::join(
                || self.release_many(s, left),
                || self.release_many(s, right),
            );
        }
    }
}
