//! The pool's side of the runtime: drain tasks that run queued jobs, the run of one job,
//! and the help a waiting pool thread gives. What each thread records (its batch, its
//! running jobs, its counts and latencies) is its [`Shard`].
//!
//! A drain task takes up to [`BATCH`] jobs per visit to the queue into its thread's batch
//! and runs them one after the other (an idle one steals from other threads' batches). When
//! the queue is empty it lingers for [`LINGER`], watching the queue's length without its
//! lock, before it ends: a job submitted meanwhile then costs no task spawn and no wake-up of
//! a sleeping thread. Only a few linger at once (the others end): with many threads, every
//! idle drain task jumping at the queue's lock for each job slowed the submitter down
//! (BENCHMARKS.md, "Scaling to 16 cores"). After [`DRAIN_SLICE`] of work it spawns its
//! successor and ends, so that a drain task stolen by a thread waiting inside a job does not
//! hold that job up for long.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::chunk::{Chunk, Claim};
use super::error::JobError;
use super::grab;
use super::handle::{Helper, JobStatus};
use super::metrics::Timing;
use super::queue::{Core, Entry, Job};
use super::shard::{Next, Shard};
use super::state::SharedState;
use crate::cancel::CancelToken;
use crate::error::ErrorKind;
use crate::options::RunOptions;

/// How long a drain task that found the queue empty watches it before it ends.
const LINGER: Duration = Duration::from_micros(50);

/// How long one drain task runs jobs before handing over to a fresh one.
const DRAIN_SLICE: Duration = Duration::from_micros(200);

/// The most jobs a drain task takes from the queue per visit.
const BATCH: usize = 8;

impl<I: Send + 'static, O: Send + 'static> Core<I, O> {
    pub(crate) fn spawn_drainer(self: &Arc<Self>) {
        let core = Arc::clone(self);
        self.pool.spawn(move || core.drain());
    }

    /// A drain task: runs this thread's batch and queued jobs (taking up to [`BATCH`] per
    /// visit to the queue) until the queue stays empty or its slice is spent.
    fn drain(self: &Arc<Self>) {
        let shard = self.shard();
        let until = Instant::now() + DRAIN_SLICE;
        // When the job before ended, while jobs follow each other at once.
        let mut ended = None;
        loop {
            if let Some(next) = self.next_job(shard) {
                let end = self.run_next(next, shard, ended);
                // Hand over to a fresh task (the drainer count carries over) only with an
                // empty batch: the jobs taken must not wait for a task that may run elsewhere.
                if end >= until && shard.batch_is_empty() {
                    self.spawn_drainer();
                    return;
                }
                ended = Some(end);
                continue;
            }
            ended = None;
            if self.may_have_work(shard) && self.search(shard) {
                continue;
            }
            if self.linger() {
                continue;
            }
            let mut queue = self.lock();
            if self.fill(&mut queue, shard, BATCH) {
                continue;
            }
            queue.drainers -= 1;
            return;
        }
    }

    /// Looks for work under the queue's lock (as [`fill`](Core::fill)), unless another idle
    /// thread does already; whether it found any. With many threads, every idle one jumping
    /// at the lock when a job comes made the lock's holders queue up (and sleep) behind each
    /// other, the submitter among them; now one looks while the others watch (see
    /// [`linger`](Self::linger)), and a thread that finds a job lets the next one look.
    fn search(&self, shard: &Shard<I, O>) -> bool {
        if self.searching.load(Ordering::Relaxed) || self.searching.swap(true, Ordering::Acquire) {
            return false;
        }
        let found = self.fill(&mut self.lock(), shard, BATCH);
        self.searching.store(false, Ordering::Release);
        found
    }

    /// Watches the queue's length for [`LINGER`]; whether a job came. At most
    /// [`max_lingering`](Self::max_lingering) tasks watch at once (the others end at once):
    /// more would only contend for the queue's lock when a job comes.
    fn linger(&self) -> bool {
        if self.lingering.fetch_add(1, Ordering::SeqCst) >= self.max_lingering() {
            self.lingering.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        let since = Instant::now();
        let came = 'watch: loop {
            for _ in 0..64 {
                // A job nobody looks for yet (see `search`).
                if self.len.load(Ordering::Relaxed) > 0 && !self.searching.load(Ordering::Relaxed) {
                    break 'watch true;
                }
                std::hint::spin_loop();
            }
            if since.elapsed() >= LINGER {
                break false;
            }
            // Let a submitter that shares this core run.
            std::thread::yield_now();
        };
        // Before the caller's last look under the queue's lock (see `drainers_to_spawn`).
        self.lingering.fetch_sub(1, Ordering::SeqCst);
        came
    }

    /// How many drain tasks may watch the queue at once: a quarter of the pool's threads,
    /// from 2 to 4.
    fn max_lingering(&self) -> usize {
        (self.workers / 4).clamp(2, 4)
    }

    /// Runs (or skips) the next job of `shard`'s batch on this thread, or works on the
    /// chunk it is; returns when it ended. `after`: when the job this thread ran before
    /// ended, if it turned to this one at once: a job then starts at that moment (or when it
    /// was queued, if later), which spares a clock read per job (about 20 ns on the
    /// development VM, a third of the runtime's own cost per job) and moves its start earlier
    /// by the time taken to fetch it from the queue.
    fn run_next(
        self: &Arc<Self>,
        next: Next<I, O>,
        shard: &Shard<I, O>,
        after: Option<Instant>,
    ) -> Instant {
        let job = match next {
            Next::Run(job) => job,
            Next::Skip(job) => {
                // Cancelled while queued (and counted then).
                quietly(job);
                shard.release();
                self.maybe_idle();
                return Instant::now();
            }
            Next::Chunk(chunk) => return self.run_chunk(chunk, shard),
        };
        let Job {
            inputs,
            cell,
            queued,
        } = job;
        if self.cancelling.load(Ordering::SeqCst) {
            cell.cancel.cancel();
        }
        let started = after.map_or_else(Instant::now, |ended| ended.max(queued));
        let (status, result) = self.run_one(inputs, &cell.cancel);
        let ended = Instant::now();
        shard.count(status);
        cell.finish(status, result);
        let timing = Timing {
            queued,
            started,
            ended,
        };
        shard.ended(cell.id, [(timing, status != JobStatus::Done)]);
        // The last reference when the handle is gone: the result is dropped here (after the
        // cell left the shard's list, see `TokenRef`).
        quietly(cell);
        shard.release();
        self.maybe_idle();
        ended
    }

    /// Works on a chunk: runs its inputs one after the other, claimed from its cursor, this
    /// thread's grab or another's, until none is left to claim or this thread's slice
    /// ([`DRAIN_SLICE`]) is spent (then, with inputs left, an invitation goes to the queue
    /// for them). Returns when the last run ended.
    fn run_chunk(self: &Arc<Self>, chunk: Arc<Chunk<I, O>>, shard: &Shard<I, O>) -> Instant {
        if chunk.join(self.workers) {
            self.invite(&chunk);
        }
        let thread = self.pool.current_thread_index();
        let mut started = Instant::now();
        let until = started + DRAIN_SLICE;
        let mut timings = Vec::new();
        // How many inputs to take at once: one, until a job shows how long they run.
        let mut want = 1;
        loop {
            if self.cancelling.load(Ordering::SeqCst) {
                // `shutdown(Cancel)`: what was not handed out ends as cancelled.
                self.cancel_entry(Entry::Chunk(Arc::clone(&chunk)));
                break;
            }
            let Some(Claim { at, input, invite }) = chunk.claim(thread, want, self.workers) else {
                break;
            };
            if invite {
                self.invite(&chunk);
            }
            shard.claimed_from_chunk();
            let (status, result) = self.run_one(input, &chunk.cancel);
            let ended = Instant::now();
            let ran = ended.saturating_duration_since(started).as_nanos();
            want = grab::size_after(u64::try_from(ran).unwrap_or(u64::MAX));
            shard.count(status);
            chunk.finish(at, result);
            let timing = Timing {
                queued: chunk.queued,
                started,
                ended,
            };
            timings.push((timing, status != JobStatus::Done));
            started = ended;
            if ended >= until {
                break;
            }
        }
        // Inputs left (the slice is spent, or a grab was filled as this thread found none):
        // someone must go on with them.
        if chunk.leave() {
            self.invite(&chunk);
        }
        shard.ended(chunk.id, timings);
        // The last reference when the consumer is gone: its results are dropped here.
        quietly(chunk);
        // Handing inputs out made room (without the queue's lock): wake who waits for it.
        self.made_room(&mut self.lock());
        shard.release();
        self.maybe_idle();
        started
    }

    /// Puts an invitation to work on `chunk` at the front of the queue.
    fn invite(self: &Arc<Self>, chunk: &Arc<Chunk<I, O>>) {
        let mut queue = self.lock();
        queue.jobs.push_front(Entry::Chunk(Arc::clone(chunk)));
        queue.chunk_entries += 1;
        self.queued(queue);
    }

    /// Runs the flow on one job's inputs, catching a panic.
    pub(crate) fn run_one(
        &self,
        inputs: I,
        cancel: &CancelToken,
    ) -> (JobStatus, Result<O, JobError>) {
        let data = self.state.as_ref().map(SharedState::run_data);
        let mut options = RunOptions::new().pool(&self.pool).cancel(cancel);
        if let Some(data) = &data {
            options = options.data(data);
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.flow)(inputs, options)));
        let ended = match outcome {
            Ok(Ok(output)) => (JobStatus::Done, Ok(output)),
            Ok(Err(e)) if e.kind() == ErrorKind::Cancelled => {
                (JobStatus::Cancelled, Err(JobError::Flow(e)))
            }
            Ok(Err(e)) => (JobStatus::Failed, Err(JobError::Flow(e))),
            Err(panic) => (JobStatus::Failed, Err(JobError::Panicked(message(&*panic)))),
        };
        drop(data);
        ended
    }
}

impl<I: Send + 'static, O: Send + 'static> Helper for Core<I, O> {
    fn on_pool(&self) -> bool {
        Core::on_pool(self)
    }

    fn help_one(self: Arc<Self>) -> bool {
        let shard = self.shard();
        loop {
            if let Some(next) = self.next_job(shard) {
                self.run_next(next, shard, None);
                return true;
            }
            // Another thread may steal what this takes before it starts: look again.
            if !self.fill(&mut self.lock(), shard, 1) {
                return false;
            }
        }
    }

    fn unqueue(&self, id: u64) {
        self.remove(id);
    }
}

/// Drops `value`, ignoring a panic of its destructor (a drain task must not unwind: rayon
/// would abort the process).
fn quietly<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// A panic payload's message.
fn message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::runtime::Runtime;
    use crate::{FlowError, RunOptions};

    #[test]
    fn jobs_still_run_while_a_search_for_work_never_ends() {
        let runtime = Runtime::builder()
            .threads(2)
            .build(|x: u64, _: RunOptions<'_>| Ok::<_, FlowError>(x + 1))
            .unwrap();
        // As if an idle thread had gone to look for work and never come back: the others
        // watch for a while, then look themselves.
        runtime.core.searching.store(true, Ordering::SeqCst);
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let results: Vec<u64> = (0..100)
                .map(|x| runtime.submit(x).unwrap().wait().unwrap())
                .collect();
            let _ = done.send(results);
        });
        let results = finished
            .recv_timeout(Duration::from_secs(60))
            .expect("every job ran (none waited for the search to end)");
        assert!(results.iter().copied().eq(1..=100));
    }
}
