//! [`JobCell`]: what one job shares between its [`JobHandle`](super::JobHandle) and the
//! thread that runs it: its status, its result, and who waits for it.
//!
//! The status is one atomic byte; the result sits beside it, outside any lock. Whoever
//! moves the status from `Running` (the thread that started the job, the only one that
//! can) writes the result first and then publishes the end with one swap; the handle (the
//! only reader) takes the result once it has seen an ended status. So a job that nobody
//! sleeps on costs two read-modify-writes of the status and no lock.
//!
//! Sleeping: a waiter takes the cell's mutex, sets the status's [`WAITING`] bit (a
//! compare-exchange that fails if the job ended meanwhile) and sleeps on the condvar, or
//! leaves its waker, under that mutex. A swap that finds the bit set takes the mutex before
//! it notifies, so the wake-up cannot fall between the waiter's check and its sleep.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::error::JobError;
use super::handle::JobStatus;
use crate::cancel::CancelToken;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const FAILED: u8 = 3;
const CANCELLED: u8 = 4;
/// Cancelled before it started: no result was written (it reads as
/// [`JobError::Cancelled`]).
const CANCELLED_QUEUED: u8 = 5;
/// Set while a thread sleeps on the cell or a waker waits in it.
const WAITING: u8 = 0x80;

fn encode(status: JobStatus) -> u8 {
    match status {
        JobStatus::Queued => QUEUED,
        JobStatus::Running => RUNNING,
        JobStatus::Done => DONE,
        JobStatus::Failed => FAILED,
        JobStatus::Cancelled => CANCELLED,
    }
}

fn decode(status: u8) -> JobStatus {
    match status & !WAITING {
        QUEUED => JobStatus::Queued,
        RUNNING => JobStatus::Running,
        DONE => JobStatus::Done,
        FAILED => JobStatus::Failed,
        _ => JobStatus::Cancelled,
    }
}

fn ended(status: u8) -> bool {
    status & !WAITING >= DONE
}

/// The shared cell of one job.
pub(crate) struct JobCell<O> {
    pub(crate) id: u64,
    pub(crate) cancel: CancelToken,
    status: AtomicU8,
    /// Written only by the thread that moves the status from `Running`, before it does;
    /// read only by the job's handle, after it saw an ended status.
    result: UnsafeCell<Option<Result<O, JobError>>>,
    sleep: Mutex<Sleep>,
    ended: Condvar,
}

// SAFETY: `result` is written by one thread before a release of the status and read by
// the one handle after an acquire of it (see the field); `O: Send` moves between them.
unsafe impl<O: Send> Sync for JobCell<O> {}

/// Who waits for the job (behind the cell's mutex).
struct Sleep {
    waker: Option<Waker>,
    /// Threads blocked on `ended`.
    sleepers: u32,
}

impl<O> JobCell<O> {
    pub(crate) fn new(id: u64) -> Self {
        JobCell {
            id,
            cancel: CancelToken::new(),
            status: AtomicU8::new(QUEUED),
            result: UnsafeCell::new(None),
            sleep: Mutex::new(Sleep {
                waker: None,
                sleepers: 0,
            }),
            ended: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sleep> {
        // No user code runs under this lock (wakers are woken after it is released).
        self.sleep.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> JobStatus {
        decode(self.status.load(Ordering::Acquire))
    }

    fn has_ended(&self) -> bool {
        ended(self.status.load(Ordering::Acquire))
    }

    /// Queued → Running; `false` if the job was cancelled meanwhile.
    pub(crate) fn start(&self) -> bool {
        self.status
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s & !WAITING == QUEUED).then_some(RUNNING | (s & WAITING))
            })
            .is_ok()
    }

    /// Queued → Cancelled; `false` if the job had already started.
    pub(crate) fn cancel_queued(&self) -> bool {
        let swapped = self
            .status
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s & !WAITING == QUEUED).then_some(CANCELLED_QUEUED)
            });
        match swapped {
            Ok(before) => {
                self.wake(before);
                true
            }
            Err(_) => false,
        }
    }

    /// Running → `status`, with the result (called by the thread that started the job).
    pub(crate) fn finish(&self, status: JobStatus, result: Result<O, JobError>) {
        debug_assert!(self.status.load(Ordering::Relaxed) & !WAITING == RUNNING);
        // SAFETY: the job runs: nobody else writes the result, and the handle reads it only
        // after the swap below.
        unsafe { *self.result.get() = Some(result) };
        let before = self.status.swap(encode(status), Ordering::AcqRel);
        self.wake(before);
    }

    /// Wakes the waiters, if the status was `before` with [`WAITING`] set.
    fn wake(&self, before: u8) {
        if before & WAITING == 0 {
            return;
        }
        let mut sleep = self.lock();
        let waker = sleep.waker.take();
        let sleepers = sleep.sleepers > 0;
        drop(sleep);
        if sleepers {
            self.ended.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The result if the job ended.
    ///
    /// # Safety
    /// Only the job's handle calls it, and only until it got a result (later calls would
    /// read a result taken, as `None`: the handle answers [`JobError::Taken`] itself).
    pub(crate) unsafe fn take(&self) -> Option<Result<O, JobError>> {
        let status = self.status.load(Ordering::Acquire);
        if !ended(status) {
            return None;
        }
        if status & !WAITING == CANCELLED_QUEUED {
            return Some(Err(JobError::Cancelled));
        }
        // SAFETY: the job ended (acquired above): its thread wrote the result and will not
        // touch it again; the caller is the one reader.
        Some(unsafe { (*self.result.get()).take() }.unwrap_or(Err(JobError::Taken)))
    }

    /// Sets [`WAITING`] (holding the cell's mutex); `false` if the job has ended.
    fn mark_waiting(&self) -> bool {
        self.status
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (!ended(s)).then_some(s | WAITING)
            })
            .is_ok()
    }

    /// Leaves `waker` to be woken when the job ends; `false` if it has ended already.
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        let mut sleep = self.lock();
        if !self.mark_waiting() {
            return false;
        }
        match &mut sleep.waker {
            Some(old) if old.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        true
    }

    /// Watches the status for up to `limit` before a caller goes to sleep on the cell: a
    /// small job often ends within a few microseconds, and a sleep and a wake-up cost more
    /// than that (on both threads). Yields the CPU between looks, so that on a machine with
    /// fewer cores than busy threads the job's own thread gets to run. Returns whether the
    /// job ended.
    pub(crate) fn spin(&self, limit: Duration) -> bool {
        if self.has_ended() {
            return true;
        }
        let since = Instant::now();
        loop {
            for _ in 0..64 {
                std::hint::spin_loop();
                if self.has_ended() {
                    return true;
                }
            }
            if since.elapsed() >= limit {
                return false;
            }
            std::thread::yield_now();
            if self.has_ended() {
                return true;
            }
        }
    }

    /// Blocks until the job has ended or `timeout` (if any) has passed; whether it ended.
    pub(crate) fn block(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut sleep = self.lock();
        loop {
            if !self.mark_waiting() {
                return true;
            }
            sleep.sleepers += 1;
            sleep = match deadline {
                None => self
                    .ended
                    .wait(sleep)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.ended
                        .wait_timeout(sleep, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            sleep.sleepers -= 1;
            if self.has_ended() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
        }
    }
}
