//! [`JobCell`]: what one job shares between its [`JobHandle`](super::JobHandle) and the
//! thread that runs it: its status, its result, and who waits for it.
//!
//! The status is an atomic, so that looking at it (and spinning on it for a moment before
//! sleeping) takes no lock; the result, the waker and the count of sleepers sit behind a
//! mutex. The result is stored before the status says the job ended, both under the mutex,
//! so a reader holding the mutex that sees an ended status finds the result.

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
    match status {
        QUEUED => JobStatus::Queued,
        RUNNING => JobStatus::Running,
        DONE => JobStatus::Done,
        FAILED => JobStatus::Failed,
        _ => JobStatus::Cancelled,
    }
}

/// The shared cell of one job.
pub(crate) struct JobCell<O> {
    pub(crate) id: u64,
    pub(crate) cancel: CancelToken,
    status: AtomicU8,
    state: Mutex<CellState<O>>,
    ended: Condvar,
}

pub(crate) struct CellState<O> {
    result: Option<Result<O, JobError>>,
    pub(crate) waker: Option<Waker>,
    /// Threads blocked on `ended` (it is signalled only when there are some).
    sleepers: u32,
}

impl<O> JobCell<O> {
    pub(crate) fn new(id: u64) -> Self {
        JobCell {
            id,
            cancel: CancelToken::new(),
            status: AtomicU8::new(QUEUED),
            state: Mutex::new(CellState {
                result: None,
                waker: None,
                sleepers: 0,
            }),
            ended: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, CellState<O>> {
        // No user code runs under this lock (a result's destructor runs after it is released).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> JobStatus {
        decode(self.status.load(Ordering::Acquire))
    }

    fn has_ended(&self) -> bool {
        self.status.load(Ordering::Acquire) >= DONE
    }

    /// Queued → Running; `false` if the job was cancelled meanwhile.
    pub(crate) fn start(&self) -> bool {
        self.status
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Queued → Cancelled; `false` if the job had already started.
    pub(crate) fn cancel_queued(&self) -> bool {
        self.finish_if(QUEUED, JobStatus::Cancelled, Err(JobError::Cancelled))
    }

    /// Running → `status`, with the result.
    pub(crate) fn finish(&self, status: JobStatus, result: Result<O, JobError>) {
        self.finish_if(RUNNING, status, result);
    }

    fn finish_if(&self, from: u8, to: JobStatus, result: Result<O, JobError>) -> bool {
        let mut state = self.lock();
        if self.status.load(Ordering::Acquire) != from {
            drop(state);
            return false;
        }
        state.result = Some(result);
        // Under the lock, after the result: `start` may race with a cancel from `Queued`,
        // and exactly one of them wins.
        if self
            .status
            .compare_exchange(from, encode(to), Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            let lost = state.result.take();
            drop(state);
            drop(lost);
            return false;
        }
        let waker = state.waker.take();
        let sleepers = state.sleepers > 0;
        drop(state);
        if sleepers {
            self.ended.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The result if the job ended (taken out: later calls get [`JobError::Taken`]).
    pub(crate) fn take(&self, state: &mut CellState<O>) -> Option<Result<O, JobError>> {
        if self.has_ended() {
            Some(state.result.take().unwrap_or(Err(JobError::Taken)))
        } else {
            None
        }
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

    /// Blocks until the job ends (or `timeout` passes); takes the result if it ended.
    pub(crate) fn wait_take(&self, timeout: Option<Duration>) -> Option<Result<O, JobError>> {
        let mut state = self.lock();
        loop {
            if let Some(result) = self.take(&mut state) {
                return Some(result);
            }
            state.sleepers += 1;
            match timeout {
                None => {
                    state = self
                        .ended
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                    state.sleepers -= 1;
                }
                Some(timeout) => {
                    let (mut guard, _) = self
                        .ended
                        .wait_timeout(state, timeout)
                        .unwrap_or_else(PoisonError::into_inner);
                    guard.sleepers -= 1;
                    return self.take(&mut guard);
                }
            }
        }
    }

    /// Blocks until the job has ended or `timeout` has passed, without taking the result.
    pub(crate) fn block_until_ended(&self, timeout: Duration) {
        let state = self.lock();
        if self.has_ended() {
            return;
        }
        let mut state = state;
        state.sleepers += 1;
        let (mut guard, _) = self
            .ended
            .wait_timeout(state, timeout)
            .unwrap_or_else(PoisonError::into_inner);
        guard.sleepers -= 1;
    }
}
