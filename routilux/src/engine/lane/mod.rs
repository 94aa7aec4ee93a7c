//! Lanes: where a run keeps its counters and its queue of ready steps, and through which other
//! threads join it.
//!
//! A lane is allocated once and never freed (`&'static`), then reused run after run: a thread
//! keeps one cached, nested or concurrent runs take others from a process-wide free list. So a
//! run allocates nothing for its bookkeeping, and a helper that arrives late — after its run
//! has ended, perhaps while the lane serves another run — can still look at the lane safely: it
//! *enters* the run only if the run it was called for is still open, and the owner of a run
//! waits, before it returns, until every helper that entered has left.
//!
//! The entry protocol is a Dekker handshake on two `SeqCst` atomics: a helper increments
//! `entered` and then reads `open`; the owner clears `open` and then reads `entered`. Either
//! the helper sees the run closed (and leaves without touching it), or the owner sees the
//! helper (and waits for it).

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::sync::{Condvar, Mutex, PoisonError};
use std::task::Waker;

mod wait;

use wait::AWAKE;

/// Runs the helper side of a run: `data` is the run, type-erased.
pub(crate) type HelpFn = unsafe fn(*const ());

/// Goes on claiming the permits of a parked step of a run (see `parked`): `data` is the run,
/// type-erased, then the step and the run's epoch.
pub(crate) type UnparkFn = unsafe fn(*const (), u32, u64);

/// One lane; see the module docs.
pub(crate) struct Lane {
    /// The epoch of the run open on this lane; 0 when none is.
    open: AtomicU64,
    /// The last epoch handed out (only the owner writes it).
    epoch: AtomicU64,
    /// Helpers inside the open run (or about to find that it is closed).
    entered: AtomicUsize,
    /// Helpers spawned for the open run that have not left it: the run's epoch (low 32 bits)
    /// in the high half, the count in the low half, so that a count reserved for one run never
    /// leaks into the next.
    helpers: AtomicU64,
    /// How many helpers the run may have.
    max_helpers: AtomicUsize,
    /// The epoch of the open run if the watcher promoted it: its owner, a plain thread, then
    /// leaves the steps to the pool's threads (so that the run never has more threads than
    /// the pool).
    promoted: AtomicU64,
    /// Whether the heartbeat watcher looks after this run (its owner is not a pool thread).
    pub(crate) watched: AtomicBool,
    /// The watcher's tick when steps were queued with none waiting before (0: none waiting
    /// as far as the watcher knows): steps queued before a tick are promoted at that tick.
    pub(crate) queued_at: AtomicU64,
    /// The queue of ready steps: `head..tail` of `scratch`'s queue part are waiting.
    pub(crate) head: AtomicU32,
    pub(crate) tail: AtomicU32,
    /// Participants running steps of the run right now.
    pub(crate) active: AtomicUsize,
    /// Whether a helper ran a step of the open run.
    pub(crate) helped: AtomicBool,
    /// The pool the watcher calls the open run's helpers on: the run's own, when its owner is
    /// one of that pool's threads (null: the global pool, a plain thread's run).
    pool: AtomicPtr<rayon::ThreadPool>,
    /// The run, type-erased, and the function helpers call on it.
    data: AtomicPtr<()>,
    help: AtomicPtr<()>,
    unpark: AtomicPtr<()>,
    /// What the owner sleeps waiting for: `AWAKE`, `FOR_ANYTHING` or `FOR_THE_END`
    /// (see [`Lane::wake_owner`]).
    sleeping: AtomicU8,
    lock: Mutex<()>,
    wakeup: Condvar,
    /// Whether the owner is a future (an async run): it is woken through `waker`.
    async_owner: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// The run's counters and queue, reused from run to run; only the owner resizes it,
    /// while no run is open.
    scratch: UnsafeCell<Vec<AtomicU32>>,
}

// SAFETY: every field but `scratch` is thread-safe; `scratch` is resized only by the lane's
// current owner (one at a time, by the pool protocol) while no run is open and no helper is
// inside, and otherwise only read as a slice of atomics.
unsafe impl Sync for Lane {}

/// Every lane ever made, for the watcher.
static ALL: Mutex<Vec<&'static Lane>> = Mutex::new(Vec::new());
/// Lanes nobody owns.
static FREE: Mutex<Vec<&'static Lane>> = Mutex::new(Vec::new());

/// The calling thread's cached lane; given back to [`FREE`] when the thread exits.
struct Cached(Cell<Option<&'static Lane>>);

impl Drop for Cached {
    fn drop(&mut self) {
        if let Some(lane) = self.0.take() {
            FREE.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(lane);
        }
    }
}

thread_local! {
    static CACHED: Cached = const { Cached(Cell::new(None)) };
}

/// Every lane made so far (a snapshot).
pub(crate) fn all_lanes(into: &mut Vec<&'static Lane>) {
    let all = ALL.lock().unwrap_or_else(PoisonError::into_inner);
    if into.len() != all.len() {
        into.clear();
        into.extend_from_slice(&all);
    }
}

impl Lane {
    fn new() -> Self {
        Lane {
            open: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            entered: AtomicUsize::new(0),
            helpers: AtomicU64::new(0),
            max_helpers: AtomicUsize::new(0),
            promoted: AtomicU64::new(0),
            watched: AtomicBool::new(false),
            queued_at: AtomicU64::new(0),
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            active: AtomicUsize::new(0),
            helped: AtomicBool::new(false),
            pool: AtomicPtr::new(std::ptr::null_mut()),
            data: AtomicPtr::new(std::ptr::null_mut()),
            help: AtomicPtr::new(std::ptr::null_mut()),
            unpark: AtomicPtr::new(std::ptr::null_mut()),
            sleeping: AtomicU8::new(AWAKE),
            lock: Mutex::new(()),
            wakeup: Condvar::new(),
            async_owner: AtomicBool::new(false),
            waker: Mutex::new(None),
            scratch: UnsafeCell::new(Vec::new()),
        }
    }

    /// A lane owned by the caller until [`Owned`] is dropped.
    pub(crate) fn acquire() -> Owned {
        let cached = CACHED.try_with(|c| c.0.take()).ok().flatten();
        let lane = cached.unwrap_or_else(|| {
            let free = FREE.lock().unwrap_or_else(PoisonError::into_inner).pop();
            free.unwrap_or_else(|| {
                let lane: &'static Lane = Box::leak(Box::new(Lane::new()));
                ALL.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(lane);
                lane
            })
        });
        Owned { lane }
    }

    /// The open run's epoch, 0 if none.
    pub(crate) fn open_epoch(&self) -> u64 {
        self.open.load(Ordering::SeqCst)
    }

    /// Reserves up to `want` more helpers for run `epoch`, within its maximum; returns how
    /// many the caller must spawn.
    pub(crate) fn reserve_helpers(&self, epoch: u64, want: usize) -> usize {
        let max = self.max_helpers.load(Ordering::Relaxed) as u64;
        let mut current = self.helpers.load(Ordering::SeqCst);
        loop {
            if current >> 32 != epoch & 0xffff_ffff {
                return 0;
            }
            let count = current & 0xffff_ffff;
            let more = (want as u64).min(max.saturating_sub(count));
            if more == 0 {
                return 0;
            }
            match self.helpers.compare_exchange_weak(
                current,
                current + more,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                #[allow(clippy::cast_possible_truncation)]
                Ok(_) => return more as usize,
                Err(now) => current = now,
            }
        }
    }

    /// How many helpers the open run may have.
    pub(crate) fn max_helpers(&self) -> usize {
        self.max_helpers.load(Ordering::Relaxed)
    }

    /// A helper of the open run leaves it: gives its reservation back.
    /// Helpers reserved for the open run that have not left it yet (spawned and not yet
    /// started, running its steps, or looking for more).
    pub(crate) fn helpers_out(&self) -> u64 {
        self.helpers.load(Ordering::SeqCst) & 0xffff_ffff
    }

    pub(crate) fn leave_helpers(&self) {
        self.helpers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Promotes run `epoch`: reserves up to `want` helpers within its maximum and spawns
    /// them on the current pool (the global pool outside any), marking the run promoted if
    /// any were. Returns whether any were.
    pub(crate) fn call_helpers(&'static self, epoch: u64, want: usize) -> bool {
        self.call_helpers_on(None, epoch, want)
    }

    /// [`call_helpers`](Self::call_helpers) on `pool` (the current pool without one).
    fn call_helpers_on(
        &'static self,
        pool: Option<&rayon::ThreadPool>,
        epoch: u64,
        want: usize,
    ) -> bool {
        let more = self.reserve_helpers(epoch, want);
        if more == 0 {
            return false;
        }
        self.promote(epoch);
        for _ in 0..more {
            spawn_helper_on(pool, self, epoch);
        }
        true
    }

    /// The watcher's [`call_helpers`](Self::call_helpers): on the run's own pool if it has one
    /// (see [`open`](Self::open)), from inside the run, so that the owner's `close` waits
    /// for the spawns and the pool outlives them.
    pub(crate) fn call_helpers_watching(&'static self, epoch: u64, want: usize) {
        self.enter(epoch, |_| {
            // SAFETY: null, or stored by the run's owner at `open`, a pool that outlives the
            // run; the run is open and we are inside it (its `close` waits for us).
            let pool = unsafe { self.pool.load(Ordering::Relaxed).as_ref() };
            self.call_helpers_on(pool, epoch, want);
        });
    }

    /// Marks run `epoch` as promoted (by its owner or the watcher): helpers were called.
    pub(crate) fn promote(&self, epoch: u64) {
        self.promoted.store(epoch, Ordering::SeqCst);
    }

    /// Whether run `epoch` was promoted.
    #[inline]
    pub(crate) fn is_promoted(&self, epoch: u64) -> bool {
        self.promoted.load(Ordering::Relaxed) == epoch
    }

    /// Queued steps not yet taken.
    #[inline]
    pub(crate) fn queued(&self) -> u32 {
        let tail = self.tail.load(Ordering::SeqCst);
        tail.saturating_sub(self.head.load(Ordering::SeqCst))
    }

    /// Called by a helper of run `epoch`: runs the helper side of the run if it is still open.
    pub(crate) fn help(&'static self, epoch: u64) {
        self.enter(epoch, |data| {
            let help = self.help.load(Ordering::Acquire);
            // SAFETY: `help` was stored from a `HelpFn` by `open`, for `data`, which stays
            // valid while the run is open and we are counted in `entered` (see `enter`). The
            // helper side gives its reservation back itself (see `leave_helpers`).
            unsafe {
                let help: HelpFn = std::mem::transmute::<*mut (), HelpFn>(help);
                help(data);
            }
        });
    }

    /// Called by the waker of a parked step of run `epoch`: goes on claiming its permits if
    /// the run is still open (entering it as a helper does, so that the owner waits for us).
    pub(crate) fn unpark(&'static self, epoch: u64, step: u32) {
        self.enter(epoch, |data| {
            let unpark = self.unpark.load(Ordering::Acquire);
            // SAFETY: as in `help`: `unpark` was stored from an `UnparkFn` by `open`, for
            // `data`, valid while the run is open and we are counted in `entered`.
            unsafe {
                let unpark: UnparkFn = std::mem::transmute::<*mut (), UnparkFn>(unpark);
                unpark(data, step, epoch);
            }
        });
    }

    /// Calls `inside` with the run's data if run `epoch` is still open, counted in `entered`
    /// meanwhile (the owner's `close` waits until no one is), and wakes an owner waiting for
    /// the last one to leave.
    #[inline]
    fn enter(&self, epoch: u64, inside: impl FnOnce(*const ())) {
        self.entered.fetch_add(1, Ordering::SeqCst);
        if self.open.load(Ordering::SeqCst) == epoch {
            inside(self.data.load(Ordering::Acquire).cast_const());
        }
        if self.entered.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.wake_owner(true);
        }
    }
}

/// Exclusive ownership of a lane; gives it back when dropped.
pub(crate) struct Owned {
    lane: &'static Lane,
}

impl Owned {
    pub(crate) fn lane(&self) -> &'static Lane {
        self.lane
    }

    /// The lane's scratch space, `len` zeroed counters.
    pub(crate) fn scratch(&mut self, len: usize) -> &[AtomicU32] {
        debug_assert_eq!(self.lane.open.load(Ordering::Relaxed), 0);
        // SAFETY: we own the lane and no run is open on it, so nothing else reads `scratch`
        // (helpers reach it only through an open run); `&mut self` keeps us from handing out
        // a second view while this one lives.
        let scratch = unsafe { &mut *self.lane.scratch.get() };
        if scratch.len() < len {
            scratch.resize_with(len.next_power_of_two(), || AtomicU32::new(0));
        }
        let scratch = &mut scratch[..len];
        for counter in scratch.iter_mut() {
            *counter.get_mut() = 0;
        }
        scratch
    }
}

impl Lane {
    /// Opens a run on the lane (its owner only): helpers of the returned epoch may now enter
    /// and call `help(data)`. The owner must [`close`](Self::close) it before `data` (and
    /// `pool`, the pool the watcher calls helpers on, if not the global one) becomes invalid.
    pub(crate) fn open(
        &self,
        data: *const (),
        (help, unpark): (HelpFn, UnparkFn),
        max_helpers: usize,
        (watched, pool): (bool, Option<&rayon::ThreadPool>),
    ) -> u64 {
        let lane = self;
        lane.async_owner.store(false, Ordering::Relaxed);
        lane.pool.store(
            pool.map_or(std::ptr::null_mut(), |p| std::ptr::from_ref(p).cast_mut()),
            Ordering::Relaxed,
        );
        let epoch = lane.epoch.load(Ordering::Relaxed) + 1;
        lane.epoch.store(epoch, Ordering::Relaxed);
        lane.data.store(data.cast_mut(), Ordering::Relaxed);
        lane.help.store(help as *mut (), Ordering::Relaxed);
        lane.unpark.store(unpark as *mut (), Ordering::Relaxed);
        lane.helpers
            .store((epoch & 0xffff_ffff) << 32, Ordering::Relaxed);
        lane.max_helpers.store(max_helpers, Ordering::Relaxed);
        lane.head.store(0, Ordering::Relaxed);
        lane.tail.store(0, Ordering::Relaxed);
        lane.active.store(0, Ordering::Relaxed);
        lane.helped.store(false, Ordering::Relaxed);
        lane.watched.store(watched, Ordering::Relaxed);
        lane.queued_at.store(0, Ordering::Relaxed);
        // Release is enough here: helpers and the watcher read `open` before the fields above;
        // the handshake that needs `SeqCst` is `close`'s (see the module docs).
        lane.open.store(epoch, Ordering::Release);
        epoch
    }

    /// Opens a run whose owner is a future (see [`Lane::open`]): helpers wake it through
    /// the waker it sets.
    pub(crate) fn open_async(
        &self,
        data: *const (),
        fns: (HelpFn, UnparkFn),
        max_helpers: usize,
    ) -> u64 {
        let epoch = self.open(data, fns, max_helpers, (false, None));
        self.async_owner.store(true, Ordering::SeqCst);
        epoch
    }

    /// Closes the open run: no helper enters it any more; returns once every helper that
    /// entered has left (an async owner blocks its thread for that: only when its future is
    /// dropped before the run settled).
    pub(crate) fn close(&self) {
        let lane = self;
        lane.open.store(0, Ordering::SeqCst);
        lane.watched.store(false, Ordering::Relaxed);
        // Only the owner writes `async_owner`: no read-modify-write needed.
        if lane.async_owner.load(Ordering::Relaxed) {
            lane.async_owner.store(false, Ordering::Relaxed);
            *lane.waker.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        if lane.entered.load(Ordering::SeqCst) != 0 {
            lane.wait_until(true, || lane.entered.load(Ordering::SeqCst) == 0);
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        debug_assert_eq!(self.lane.open.load(Ordering::Relaxed), 0);
        let lane = self.lane;
        let back = CACHED.try_with(|c| {
            if c.0.get().is_none() {
                c.0.set(Some(lane));
                true
            } else {
                false
            }
        });
        if back != Ok(true) {
            FREE.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(lane);
        }
    }
}

/// Spawns a helper for run `epoch` of `lane` on the current rayon pool (the global pool outside
/// any).
pub(crate) fn spawn_helper(lane: &'static Lane, epoch: u64) {
    rayon::spawn(move || lane.help(epoch));
}

/// Spawns a helper for run `epoch` of `lane` on `pool`, or as [`spawn_helper`] without one.
pub(crate) fn spawn_helper_on(pool: Option<&rayon::ThreadPool>, lane: &'static Lane, epoch: u64) {
    match pool {
        Some(pool) => pool.spawn(move || lane.help(epoch)),
        None => spawn_helper(lane, epoch),
    }
}
