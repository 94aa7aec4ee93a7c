//! What a step holds ([`Held`]) and what it lends to the flows run inside it ([`Lending`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::Waker;

use super::{Limit, Permit};

/// A permit a step holds: its own, or its turn on a permit lent by the step it runs in.
pub(crate) enum Claim<'l> {
    /// A permit of the limit.
    Own(Permit<'l>),
    /// The enclosing step's permit, for as long as this is alive.
    Lent(&'l LentSlot<'l>),
}

impl Claim<'_> {
    /// The limit the claim counts against.
    pub(crate) fn limit(&self) -> &Limit {
        match self {
            Claim::Own(permit) => permit.limit(),
            Claim::Lent(slot) => slot.limit,
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Claim::Lent(slot) = self {
            slot.give_back();
        }
    }
}

/// The permits one step holds (one per limit that applies to it), given back when dropped.
#[derive(Default)]
pub(crate) struct Held<'l> {
    pub(crate) claims: Vec<Claim<'l>>,
}

impl Held<'_> {
    /// The limits the step holds permits of.
    pub(crate) fn limits(&self) -> impl Iterator<Item = &Limit> {
        self.claims.iter().map(Claim::limit)
    }
}

/// One permit of a step, lent to the runs nested in it: one of their steps at a time.
pub(crate) struct LentSlot<'l> {
    limit: &'l Limit,
    busy: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl<'l> LentSlot<'l> {
    /// Takes the slot if it is free.
    pub(crate) fn try_take(&'l self) -> Option<Claim<'l>> {
        self.busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            // Lazily: a claim made and dropped on failure would give the slot back.
            .then(|| Claim::Lent(self))
    }

    /// Wakes `waker` when the slot is given back.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn give_back(&self) {
        self.busy.store(false, Ordering::Release);
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in wakers {
            waker.wake();
        }
    }
}

/// What a step that holds permits lends to the flows it runs: a slot per limit.
pub(crate) struct Lending<'l> {
    slots: Vec<LentSlot<'l>>,
}

impl<'l> Lending<'l> {
    /// Lends the permits of `held`.
    pub(crate) fn of(held: &'l Held<'_>) -> Self {
        Lending {
            slots: held
                .limits()
                .map(|limit| LentSlot {
                    limit,
                    busy: AtomicBool::new(false),
                    wakers: Mutex::new(Vec::new()),
                })
                .collect(),
        }
    }

    /// The slot lent for `limit`, if the step holds a permit of it.
    pub(crate) fn slot(&self, limit: &Limit) -> Option<&LentSlot<'l>> {
        self.slots
            .iter()
            .find(|slot| std::ptr::eq(slot.limit, limit))
    }

    /// For up to `count` more workers of the step (a map step's), a permit of each of the
    /// step's limits, taken only if free now: as many sets as could be taken.
    pub(crate) fn take_free(&self, count: usize) -> Vec<Vec<Permit<'l>>> {
        let mut sets = Vec::new();
        'workers: for _ in 0..count {
            let mut set = Vec::with_capacity(self.slots.len());
            for slot in &self.slots {
                match slot.limit.try_acquire() {
                    Some(permit) => set.push(permit),
                    None => break 'workers,
                }
            }
            sets.push(set);
        }
        sets
    }
}
