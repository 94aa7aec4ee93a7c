//! [`Schedule::Dataflow`](crate::Schedule::Dataflow): a step starts as soon as its own
//! dependencies are done.
//!
//! A finishing step counts down its successors' pending dependencies. One successor that
//! became ready runs next on the same thread (a chain never leaves its thread); several are
//! shared out with `rayon::join_context`, splitting adaptively as rayon's own iterators do:
//! a batch is halved only while it has splits left (one per pool thread to begin with, renewed
//! when a thief takes half), and otherwise runs in a plain loop. So a wide fan-out costs a few
//! joins, not one per step. Joins nest on the thread's stack; past a nesting bound the extra
//! ready steps are spawned instead, so deep or comb-shaped graphs cannot overflow a worker's
//! stack.

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

/// How many more times a batch may be split: rayon's adaptive rule.
#[derive(Clone, Copy)]
struct Splits(usize);

impl Splits {
    fn new() -> Self {
        Splits(rayon::current_num_threads())
    }

    /// The splits of each half; a half that was stolen gets a fresh allowance.
    fn halve(self, migrated: bool) -> Self {
        if migrated {
            Splits((self.0 / 2).max(rayon::current_num_threads()))
        } else {
            Splits(self.0 / 2)
        }
    }
}

impl<'a, E: Exec> Run<'a, E> {
    pub(super) fn dataflow(&self) {
        let roots = &self.hot.roots;
        if roots.is_empty() {
            return;
        }
        rayon::scope(|s| self.run_ready(s, roots, Splits::new()));
    }

    /// Runs the ready steps in `ready` (not empty, tallest first), in parallel while splits
    /// last. A step taller than all the others is split off on its own; once the splits are
    /// spent, one at least twice as tall as the rest still is, so that the rest can be stolen
    /// while it runs instead of waiting behind it.
    fn run_ready<'s>(&'s self, s: &Scope<'s>, ready: &[u32], splits: Splits)
    where
        'a: 's,
    {
        if let [only] = ready {
            return self.run_chain(s, *only);
        }
        let (first, second) = (self.hot.height(ready[0]), self.hot.height(ready[1]));
        let tallest = if splits.0 == 0 {
            first >= second.saturating_mul(2)
        } else {
            first > second
        };
        if splits.0 == 0 && !tallest {
            for &step in ready {
                self.run_chain(s, step);
            }
            return;
        }
        let middle = if tallest { 1 } else { ready.len() / 2 };
        let (left, right) = ready.split_at(middle);
        if Nesting::deep() {
            let right = right.to_vec();
            s.spawn(move |s| self.run_ready(s, &right, Splits::new()));
            self.run_ready(s, left, splits.halve(false));
        } else {
            rayon::join_context(
                |c| self.run_ready(s, left, splits.halve(c.migrated())),
                |c| self.run_ready(s, right, splits.halve(c.migrated())),
            );
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
                return self.release_many(s, successors, Splits::new());
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
                    s.spawn(move |s| self.run_ready(s, &ready[1..n], Splits::new()));
                    i = ready[0];
                }
                _ => {
                    rayon::join(
                        || self.run_chain(s, ready[0]),
                        || self.run_ready(s, &ready[1..n], Splits::new()),
                    );
                    return;
                }
            }
        }
    }

    /// Counts down a wide fan-out's successors, splitting the work across threads while
    /// splits last.
    fn release_many<'s>(&'s self, s: &Scope<'s>, successors: &'a [u32], splits: Splits)
    where
        'a: 's,
    {
        if successors.len() <= BATCH || splits.0 == 0 {
            for chunk in successors.chunks(BATCH) {
                let mut ready = [0u32; BATCH];
                let mut n = 0;
                for &next in chunk {
                    if self.dependency_done(next) {
                        ready[n] = next;
                        n += 1;
                    }
                }
                if n > 0 {
                    self.run_ready(s, &ready[..n], splits);
                }
            }
            return;
        }
        let (left, right) = successors.split_at(successors.len() / 2);
        if Nesting::deep() {
            s.spawn(move |s| self.release_many(s, right, Splits::new()));
            self.release_many(s, left, splits.halve(false));
        } else {
            rayon::join_context(
                |c| self.release_many(s, left, splits.halve(c.migrated())),
                |c| self.release_many(s, right, splits.halve(c.migrated())),
            );
        }
    }
}
