//! [`Grab`]: the inputs of a chunk one pool thread took from the chunk's cursor at once,
//! to run one after the other, and which any other thread may still take from it.
//!
//! Taking one input at a time from a cursor that every thread writes moves the cursor's
//! cache line between cores for every job; with jobs of a few hundred nanoseconds that was
//! a fifth of what the runtime added to them. A thread whose last job was short takes a few
//! inputs at once instead, and takes the next one from its own grab, a word on a cache line
//! of its own. The grab stays open to others: a thread that finds the cursor at the end
//! takes inputs from the back of other threads' grabs, so an input never waits behind one
//! that runs long (or blocks) on the thread that took it while another thread could run it.
//!
//! A grab is one atomic word holding a range `[lo, hi)` of input indices: its owner takes
//! `lo` (front), others take `hi - 1` (back), each with a compare-and-swap, so each input is
//! taken once. Only the owner fills it, and only when it is empty; ranges come from the
//! chunk's cursor, which never hands out an index twice, so a word never holds the same
//! range twice (no ABA).

use std::sync::atomic::{AtomicU64, Ordering};

use super::queue::Padded;

/// The most inputs a thread takes from a chunk's cursor at once.
pub(crate) const MOST: usize = 8;

/// How much work a grab may hold, judged by the thread's last job: a grab of `n` inputs
/// is taken only while `n` such jobs take at most this long.
const BUDGET_NANOS: u64 = 4_000;

/// How many inputs to take at once after a job that ran `last_nanos`: 1 for jobs of
/// [`BUDGET_NANOS`] or more, up to [`MOST`] for shorter ones.
pub(crate) fn size_after(last_nanos: u64) -> usize {
    usize::try_from(BUDGET_NANOS / last_nanos.max(1))
        .unwrap_or(MOST)
        .clamp(1, MOST)
}

/// One thread's grab; see the module docs.
pub(crate) struct Grab(Padded<AtomicU64>);

impl Default for Grab {
    fn default() -> Self {
        Grab(Padded(AtomicU64::new(0)))
    }
}

/// Packs `[lo, hi)` into a word (`hi` in the high half).
fn pack(lo: u32, hi: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

/// `[lo, hi)` from a word.
fn unpack(word: u64) -> (u32, u32) {
    // Truncation intended: the low half.
    #[allow(clippy::cast_possible_truncation)]
    let lo = word as u32;
    (lo, u32::try_from(word >> 32).unwrap_or(u32::MAX))
}

impl Grab {
    /// Fills the (empty) grab with `[lo, hi)`; called by its owner only.
    pub(crate) fn fill(&self, lo: u32, hi: u32) {
        self.0.store(pack(lo, hi), Ordering::Release);
    }

    /// Takes the first input left (the owner's end).
    pub(crate) fn take_front(&self) -> Option<usize> {
        self.take(|lo, hi| (lo, pack(lo + 1, hi)))
    }

    /// Takes the last input left (another thread's end).
    pub(crate) fn take_back(&self) -> Option<usize> {
        self.take(|lo, hi| (hi - 1, pack(lo, hi - 1)))
    }

    /// Takes every input left: the range.
    pub(crate) fn take_all(&self) -> std::ops::Range<usize> {
        let (lo, hi) = unpack(self.0.swap(0, Ordering::AcqRel));
        let lo = lo as usize;
        lo..(hi as usize).max(lo)
    }

    /// How many inputs are left in it (a hint).
    pub(crate) fn len(&self) -> usize {
        let (lo, hi) = unpack(self.0.load(Ordering::Relaxed));
        hi.saturating_sub(lo) as usize
    }

    /// Takes one input: `step(lo, hi)` (with `lo < hi`) names it and the word after.
    fn take(&self, step: impl Fn(u32, u32) -> (u32, u64)) -> Option<usize> {
        let mut word = self.0.load(Ordering::Acquire);
        loop {
            let (lo, hi) = unpack(word);
            if lo >= hi {
                return None;
            }
            let (taken, after) = step(lo, hi);
            match (self.0).compare_exchange_weak(word, after, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(taken as usize),
                Err(now) => word = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_input_of_a_grab_is_taken_once_from_either_end() {
        let grab = Grab::default();
        assert_eq!(grab.take_front(), None);
        grab.fill(10, 14);
        assert_eq!(grab.len(), 4);
        assert_eq!(grab.take_front(), Some(10));
        assert_eq!(grab.take_back(), Some(13));
        assert_eq!(grab.take_all(), 11..13);
        assert_eq!(
            (grab.take_front(), grab.take_back(), grab.len()),
            (None, None, 0)
        );
    }

    #[test]
    fn threads_taking_from_both_ends_take_every_input_once() {
        let grab = Grab::default();
        grab.fill(0, 100_000);
        let taken: Vec<Vec<usize>> = std::thread::scope(|s| {
            let owner = s.spawn(|| std::iter::from_fn(|| grab.take_front()).collect());
            let thieves: Vec<_> = (0..3)
                .map(|_| s.spawn(|| std::iter::from_fn(|| grab.take_back()).collect()))
                .collect();
            let mut all = vec![owner.join().expect("owner")];
            all.extend(thieves.into_iter().map(|t| t.join().expect("thief")));
            all
        });
        let mut all: Vec<usize> = taken.into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_grab_is_sized_by_the_last_job() {
        assert_eq!(size_after(0), MOST);
        assert_eq!(size_after(500), MOST);
        assert_eq!(size_after(1_000), 4);
        assert_eq!(size_after(4_000), 1);
        assert_eq!(size_after(1_000_000), 1);
    }
}
