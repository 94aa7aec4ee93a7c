//! [`Chunk`]: a run of a stream's inputs queued as one entry, so that a stream's jobs cost
//! one queue entry, one allocation and one cancel token per run instead of per input.
//!
//! [`Runtime::map`](super::Runtime::map) and [`map_unordered`](super::Runtime::map_unordered)
//! queue their inputs in runs (a quarter of the bound or more at a time). Each input of a
//! chunk is still a job of its own: it runs alone (its own run of the flow, its own result,
//! counted as completed, failed or cancelled, with its own latencies) and takes a place in
//! the runtime's capacity until it starts. What the inputs share is the bookkeeping: the
//! chunk is made once by the consumer, its inputs are handed out one at a time from a
//! shared cursor, and each result is published in the chunk for the consumer, who reads
//! them in order (`map`) or as they end (`map_unordered`).
//!
//! No input waits behind another while a pool thread idles: the first thread that works on
//! a chunk with inputs left puts an invitation (another entry of the same chunk) at the
//! front of the queue, and every thread that takes it claims inputs from the same cursor.
//! A thread whose jobs are short claims a few inputs at once (its [`Grab`]); a thread that
//! finds the cursor at the end takes what is left in the others' grabs, and a thread that
//! fills its grab while another may have left the chunk invites one back.
//!
//! Who touches what: input `i`'s value and result slot belong to whoever claimed `i` from
//! the cursor or a grab (a pool thread, or `shutdown(Cancel)`) until it publishes the end
//! with a release store of the input's flag; after that, only the consumer (one
//! [`Map`](super::Map) or [`MapUnordered`](super::MapUnordered)) reads the result, once.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::error::JobError;
use super::grab::Grab;
use super::queue::Padded;
use crate::cancel::CancelToken;

/// One input of a chunk: its value until claimed, its result once ended. On a cache line
/// of its own: neighbours are claimed by different threads.
#[repr(align(64))]
struct Item<I, O> {
    input: UnsafeCell<Option<I>>,
    result: UnsafeCell<Option<Result<O, JobError>>>,
    ended: AtomicBool,
}

/// An input handed out by [`Chunk::claim`].
pub(crate) struct Claim<I> {
    /// Its index in the chunk.
    pub(crate) at: usize,
    pub(crate) input: I,
    /// Whether the claimer should invite another thread to the chunk (see
    /// [`Chunk::should_invite`]).
    pub(crate) invite: bool,
}

/// A run of inputs queued as one entry; see the module docs.
pub(crate) struct Chunk<I, O> {
    /// The first input's job id (the others follow it).
    pub(crate) id: u64,
    /// Shared by the chunk's runs (only `shutdown(Cancel)` cancels it).
    pub(crate) cancel: CancelToken,
    pub(crate) queued: Instant,
    items: Box<[Item<I, O>]>,
    /// Each pool thread's grab (by thread index); empty when the chunk is too long to
    /// number its inputs in a grab's halves (more than `u32::MAX`).
    grabs: Box<[Grab]>,
    // What is written while the chunk runs sits on cache lines of its own, away from the
    // fields above, which every run reads.
    /// The next input to hand out (past the end once every input is claimed).
    next: Padded<AtomicUsize>,
    /// Who works on the chunk.
    crew: Padded<Crew>,
    /// Where the consumer sleeps.
    wake: Padded<Wake>,
}

/// The threads working on a chunk.
struct Crew {
    /// Threads working on the chunk now.
    working: AtomicUsize,
    /// Whether an invitation to work on the chunk waits (queued, or in a thread's batch).
    invited: AtomicBool,
}

/// Where a chunk's consumer sleeps.
struct Wake {
    /// The input the consumer sleeps on, plus one (0: none).
    sleeping_on: AtomicUsize,
    sleep: Mutex<()>,
    woken: Condvar,
}

// SAFETY: an input's value and result are touched by one thread at a time (see the module
// docs: the claimer, then, after the release store of its flag, the one consumer); the
// values move between threads, hence `I: Send`, `O: Send`.
unsafe impl<I: Send, O: Send> Sync for Chunk<I, O> {}

impl<I, O> Chunk<I, O> {
    /// A chunk of `inputs` for a pool of `threads` threads.
    pub(crate) fn new(inputs: Vec<I>, threads: usize, queued: Instant) -> Self {
        let grabs = if u32::try_from(inputs.len()).is_ok() {
            threads
        } else {
            0
        };
        Chunk {
            grabs: (0..grabs).map(|_| Grab::default()).collect(),
            id: 0,
            cancel: CancelToken::new(),
            queued,
            next: Padded(AtomicUsize::new(0)),
            items: inputs
                .into_iter()
                .map(|input| Item {
                    input: UnsafeCell::new(Some(input)),
                    result: UnsafeCell::new(None),
                    ended: AtomicBool::new(false),
                })
                .collect(),
            crew: Padded(Crew {
                working: AtomicUsize::new(0),
                invited: AtomicBool::new(false),
            }),
            wake: Padded(Wake {
                sleeping_on: AtomicUsize::new(0),
                sleep: Mutex::new(()),
                woken: Condvar::new(),
            }),
        }
    }

    /// How many inputs the chunk holds.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Takes the inputs back (of a chunk nobody else has seen).
    pub(crate) fn into_inputs(self) -> Vec<I> {
        self.items
            .into_vec()
            .into_iter()
            .filter_map(|item| item.input.into_inner())
            .collect()
    }

    /// How many inputs were handed out so far (taken from the cursor: running, ended, or
    /// in a thread's grab); none past them has started. A hint: read without ordering.
    pub(crate) fn handed_out(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.len())
    }

    /// How many inputs have not started yet (a hint, unless nobody claims): the cursor's
    /// and the grabs'.
    pub(crate) fn unclaimed(&self) -> usize {
        let grabbed: usize = self.grabs.iter().map(Grab::len).sum();
        (self.len().saturating_sub(self.next.load(Ordering::Relaxed))).saturating_add(grabbed)
    }

    /// Hands out the next input to pool thread `thread` (`None`: not a pool thread) of a
    /// pool of `threads`. From the thread's grab first; else from the cursor, `want` inputs
    /// at once (the rest go to the grab); else from the back of another thread's grab.
    pub(crate) fn claim(
        &self,
        thread: Option<usize>,
        want: usize,
        threads: usize,
    ) -> Option<Claim<I>> {
        let grab = thread.and_then(|t| self.grabs.get(t));
        let (at, invite) = match grab.and_then(Grab::take_front) {
            Some(at) => (at, false),
            None => match self.take_from_cursor(grab, want) {
                Some((at, filled)) => (at, filled && self.should_invite(threads)),
                None => (self.steal(thread)?, false),
            },
        };
        // SAFETY: `at` was handed out to this thread alone (see the module docs).
        let input = unsafe { (*self.items[at].input.get()).take() }?;
        Some(Claim { at, input, invite })
    }

    /// Takes inputs from the cursor: the first for now, the rest into `grab`; whether the
    /// grab was filled.
    fn take_from_cursor(&self, grab: Option<&Grab>, want: usize) -> Option<(usize, bool)> {
        let want = if grab.is_some() { want.max(1) } else { 1 };
        // No look before the add: on this contended line a read and then a write cost two
        // transfers. (Past the end it only grows, by `want` per failed claim.)
        let at = self.next.fetch_add(want, Ordering::Relaxed);
        if at >= self.len() {
            return None;
        }
        let end = at.saturating_add(want).min(self.len());
        // Both fit in a grab's halves: a chunk with grabs has at most `u32::MAX` inputs.
        if let (Some(grab), Ok(lo), Ok(hi)) = (grab, u32::try_from(at + 1), u32::try_from(end))
            && lo < hi
        {
            grab.fill(lo, hi);
            return Some((at, true));
        }
        Some((at, false))
    }

    /// Takes the last input of another thread's grab, looking from `thread`'s right.
    fn steal(&self, thread: Option<usize>) -> Option<usize> {
        let n = self.grabs.len();
        let from = thread.map_or(0, |t| t + 1);
        (0..n).find_map(|k| self.grabs[(from + k) % n].take_back())
    }

    /// After a thread filled its grab: whether it should invite another thread (fewer than
    /// `threads` work on the chunk and no invitation waits). A thread that found nothing
    /// to take just before the grab was filled may be leaving the chunk; without this, the
    /// grab's inputs could wait behind the one its owner runs while that thread idles. The
    /// fence pairs with the one in [`leave`](Self::leave): either this sees that thread
    /// gone, or that thread sees the grab.
    fn should_invite(&self, threads: usize) -> bool {
        fence(Ordering::SeqCst);
        self.crew.working.load(Ordering::Relaxed) < threads && self.take_invitation()
    }

    /// Marks an invitation as waiting; whether none was (then the caller queues one).
    fn take_invitation(&self) -> bool {
        !self.crew.invited.load(Ordering::Relaxed)
            && !self.crew.invited.swap(true, Ordering::SeqCst)
    }

    /// Claims every input not handed out yet and ends each as cancelled before it started;
    /// returns how many. Never unwinds (a pool thread calls it): an input whose `Drop`
    /// panics is dropped all the same, and the rest still end.
    pub(crate) fn cancel_rest(&self) -> usize {
        let from = self.next.swap(usize::MAX / 2, Ordering::Relaxed);
        let grabbed = self.grabs.iter().flat_map(Grab::take_all);
        let mut cancelled = 0;
        for at in (from..self.len()).chain(grabbed) {
            // SAFETY: claimed above, by this thread alone.
            let input = unsafe { (*self.items[at].input.get()).take() };
            let _ = catch_unwind(AssertUnwindSafe(move || drop(input)));
            self.finish(at, Err(JobError::Cancelled));
            cancelled += 1;
        }
        cancelled
    }

    /// Publishes the result of input `at` (called by whoever claimed it) and wakes the
    /// consumer if it sleeps on that input.
    pub(crate) fn finish(&self, at: usize, result: Result<O, JobError>) {
        let item = &self.items[at];
        // SAFETY: `at` was claimed by this thread; the consumer reads the result only after
        // the release store below. Written without reading the slot: it holds `None` (each
        // input is claimed once).
        unsafe { item.result.get().write(Some(result)) };
        item.ended.store(true, Ordering::Release);
        // Pairs with the consumer's fence between its note and its look (see `block`): one
        // of the two sees the other's store.
        fence(Ordering::SeqCst);
        if self.wake.sleeping_on.load(Ordering::Relaxed) == at + 1 {
            drop(
                self.wake
                    .sleep
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            self.wake.woken.notify_all();
        }
    }

    /// Whether input `at` has ended.
    pub(crate) fn has_ended(&self, at: usize) -> bool {
        self.items[at].ended.load(Ordering::Acquire)
    }

    /// The result of input `at`, if it has ended.
    ///
    /// # Safety
    /// Only the chunk's consumer calls it, at most once per input that ended.
    pub(crate) unsafe fn take(&self, at: usize) -> Option<Result<O, JobError>> {
        if !self.has_ended(at) {
            return None;
        }
        // SAFETY: ended (acquired above): its claimer will not touch it again; the caller
        // is the one reader.
        Some(unsafe { (*self.items[at].result.get()).take() }.unwrap_or(Err(JobError::Taken)))
    }

    /// Sleeps until input `at` has ended or `timeout` passed; whether it ended.
    pub(crate) fn block(&self, at: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self
            .wake
            .sleep
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let ended = loop {
            self.wake.sleeping_on.store(at + 1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if self.has_ended(at) {
                break true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            guard = (self.wake.woken)
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        self.wake.sleeping_on.store(0, Ordering::Relaxed);
        drop(guard);
        ended
    }

    /// A thread starts working on the chunk (from one of its entries); whether it should
    /// invite another thread (queue an invitation): inputs are left, no invitation waits,
    /// and fewer than `threads` threads work on it.
    pub(crate) fn join(&self, threads: usize) -> bool {
        self.crew.invited.store(false, Ordering::SeqCst);
        let working = self.crew.working.fetch_add(1, Ordering::SeqCst) + 1;
        working < threads && self.unclaimed() >= 2 && self.take_invitation()
    }

    /// A thread stops working on the chunk (it found nothing left to take, or its time
    /// slice is spent): whether it must queue an invitation so that someone goes on with
    /// the inputs left (in the cursor, or in a grab filled as it left: see
    /// [`should_invite`](Self::should_invite)).
    pub(crate) fn leave(&self) -> bool {
        self.crew.working.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.unclaimed() > 0 && self.take_invitation()
    }
}
