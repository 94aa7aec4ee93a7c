//! The heartbeat: one process-wide thread that promotes stale ready steps of runs driven by a
//! thread outside the pool, or by a thread of the pool the run names.
//!
//! A run called from a plain thread (no pool given) starts on that thread, so a small flow
//! never pays for waking the pool; a run on a thread of the pool it names starts there too,
//! without spawning helpers (it gets them on that pool once steps have waited). While that
//! thread runs a step, other ready steps wait in the run's queue where any pool thread could
//! take them, but no pool thread knows. The watcher looks at every such run once per tick;
//! when a run has steps queued since before this tick (the run stamps its lane with the tick
//! count when it queues steps while none wait), or it had queued steps at the previous tick
//! too, the watcher spawns helpers on the pool to take them, and the run's thread leaves the
//! rest of the run to them.
//!
//! Ticks are [`FAST`] while some run the pool does not help yet lasts from one tick to the
//! next, [`SLOW`] otherwise: runs shorter than a tick need no help, and a watcher waking every
//! 50 µs beside a stream of short runs costs several percent of a core (measured on the 2-core
//! development VM while one thread calls a 4-step flow back to back: 8% of one core at a
//! 200 µs tick, 4.5% at 500 µs, 2.7% at 1 ms; nothing once idle). So a queued step waits
//! until the next tick, at most [`SLOW`] (500 µs), plus the pool's wake-up while a pool
//! thread is idle, however long the step on the calling thread runs or blocks (at worst a
//! tick more, when the watcher cleared the stamp of an empty queue as the step was queued).
//! Between steps the owner checks its own clock and calls helpers itself much sooner, and a
//! step thought long (every step of a `flow!` flow's first run, one that needed the watcher in
//! an earlier run, and the first one others waited behind in a run the owner's clock promoted)
//! has the pool called before it starts (see `promote`): so the
//! tick bounds the wait only the first time a step runs long (after running short, or in a
//! `Builder` flow's first run).
//!
//! The watcher sleeps for good (no wake-ups) once no run has needed it for [`PARK_AFTER`]
//! ticks; the next run that queues work wakes it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::Duration;

use super::lane::{Lane, all_lanes};

/// How often the watcher looks at the runs it watches while one of them lasts.
pub(crate) const FAST: Duration = Duration::from_micros(50);
/// How often it looks while every run it saw ended before the next look.
pub(crate) const SLOW: Duration = Duration::from_micros(500);
/// Idle ticks after which the watcher parks (0.1 s at the slow tick: its CPU once the last run
/// ended stays under a tenth of a second's worth of ticks).
const PARK_AFTER: u32 = 200;

const RUNNING: u8 = 0;
const PARKED: u8 = 1;

static STATE: AtomicU8 = AtomicU8::new(PARKED);
/// The watcher's ticks so far (from 1): the clock of the lanes' `queued_at` stamps (see
/// [`queued`]).
static TICKS: AtomicU64 = AtomicU64::new(1);
static THREAD: OnceLock<Option<Thread>> = OnceLock::new();

/// Called by a watched run that has just queued steps: stamps the lane with the current tick
/// if no steps were waiting (as far as the watcher knows), and makes sure the watcher is
/// awake.
#[inline]
pub(crate) fn queued(lane: &Lane) {
    if lane.queued_at.load(Ordering::Relaxed) == 0 {
        lane.queued_at
            .store(TICKS.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    poke();
}

/// Makes sure the watcher is awake: called by a watched run once it has queued steps (after
/// marking its lane watched and open).
#[inline]
fn poke() {
    if STATE.load(Ordering::SeqCst) == PARKED && STATE.swap(RUNNING, Ordering::SeqCst) == PARKED {
        wake();
    }
}

#[cold]
fn wake() {
    let thread = THREAD.get_or_init(|| {
        std::thread::Builder::new()
            .name("routilux-heartbeat".into())
            .spawn(watch)
            .ok()
            .map(|handle| handle.thread().clone())
    });
    if let Some(thread) = thread {
        thread.unpark();
    }
}

/// What the watcher saw of a lane at the previous tick.
#[derive(Clone, Copy, Default)]
struct Seen {
    epoch: u64,
}

fn watch() {
    let mut lanes: Vec<&'static Lane> = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut idle = 0u32;
    let mut tick = SLOW;
    loop {
        std::thread::sleep(tick);
        let now = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
        all_lanes(&mut lanes);
        seen.resize(lanes.len(), Seen::default());
        let mut busy = false;
        let mut lasting = false;
        for (lane, seen) in lanes.iter().zip(seen.iter_mut()) {
            let before = seen.epoch;
            busy |= look(lane, seen, now);
            // A run seen twice that the pool does not help yet: look again soon.
            lasting |= seen.epoch != 0 && seen.epoch == before && !lane.is_promoted(before);
        }
        tick = if lasting { FAST } else { SLOW };
        if busy {
            idle = 0;
            continue;
        }
        idle += 1;
        if idle < PARK_AFTER {
            continue;
        }
        // Park, unless a run started watching meanwhile (see `poke`).
        STATE.store(PARKED, Ordering::SeqCst);
        let mut any = false;
        for (lane, seen) in lanes.iter().zip(seen.iter_mut()) {
            any |= look(lane, seen, now);
        }
        if any {
            STATE.store(RUNNING, Ordering::SeqCst);
        } else {
            std::thread::park();
        }
        idle = 0;
    }
}

/// Promotes the queued steps of `lane`'s run if they have waited since before this tick
/// (`now`): they were stamped with an earlier tick, or seen queued at the last one. Returns
/// whether the lane holds a watched run.
fn look(lane: &'static Lane, seen: &mut Seen, now: u64) -> bool {
    let epoch = lane.open_epoch();
    if epoch == 0 || !lane.watched.load(Ordering::SeqCst) {
        seen.epoch = 0;
        return false;
    }
    let queued = lane.queued() as usize;
    let stamped = lane.queued_at.load(Ordering::Relaxed);
    if queued == 0 {
        // Steps queued from now on are stamped afresh (one queued meanwhile may keep this
        // tick's reset: it is then promoted a tick later, by the rule below).
        lane.queued_at.store(0, Ordering::Relaxed);
    } else if seen.epoch == epoch || (stamped != 0 && stamped < now) {
        // The run may close meanwhile: late helpers find it closed and leave.
        lane.call_helpers_watching(epoch, queued);
    }
    seen.epoch = epoch;
    true
}
