//! The heartbeat: one process-wide thread that promotes stale ready steps of runs driven by a
//! thread outside the pool.
//!
//! A run called from a plain thread (no pool given) starts on that thread, so a small flow
//! never pays for waking the pool. While that thread runs a step, other ready steps wait in the
//! run's queue where any pool thread could take them, but no pool thread knows. The watcher
//! looks at every such run once per [`TICK`]; when a run that it already saw at the previous
//! tick still has queued steps, it spawns helpers on the pool to take them. So a queued step
//! waits at most about two ticks (plus the pool's wake-up) while a pool thread is idle, however
//! long the step on the calling thread runs or blocks.
//!
//! The watcher sleeps for good (no wake-ups) once no run has needed it for [`PARK_AFTER`]
//! ticks; the next run that queues work wakes it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::Thread;
use std::time::Duration;

use super::lane::{Lane, all_lanes, spawn_helper};

/// How often the watcher looks at the runs it watches.
pub(crate) const TICK: Duration = Duration::from_micros(50);
/// Idle ticks after which the watcher parks.
const PARK_AFTER: u32 = 2_000;

const RUNNING: u8 = 0;
const PARKED: u8 = 1;

static STATE: AtomicU8 = AtomicU8::new(PARKED);
static THREAD: OnceLock<Option<Thread>> = OnceLock::new();

/// Makes sure the watcher is awake: called by a watched run once it has queued steps (after
/// marking its lane watched and open).
#[inline]
pub(crate) fn poke() {
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
    loop {
        std::thread::sleep(TICK);
        all_lanes(&mut lanes);
        seen.resize(lanes.len(), Seen::default());
        let mut busy = false;
        for (lane, seen) in lanes.iter().zip(seen.iter_mut()) {
            busy |= look(lane, seen);
        }
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
            any |= look(lane, seen);
        }
        if any {
            STATE.store(RUNNING, Ordering::SeqCst);
        } else {
            std::thread::park();
        }
        idle = 0;
    }
}

/// Promotes the queued steps of `lane`'s run if they have waited since the last tick. Returns
/// whether the lane holds a watched run.
fn look(lane: &'static Lane, seen: &mut Seen) -> bool {
    if !lane.watched.load(Ordering::SeqCst) {
        return false;
    }
    let epoch = lane.open_epoch();
    if epoch == 0 {
        return false;
    }
    let queued = lane.queued() as usize;
    if queued > 0 && seen.epoch == epoch {
        // The run may close meanwhile: late helpers find it closed and leave.
        let more = lane.reserve_helpers(epoch, queued);
        if more > 0 {
            lane.promote(epoch);
        }
        for _ in 0..more {
            spawn_helper(lane, epoch);
        }
    }
    seen.epoch = epoch;
    true
}
