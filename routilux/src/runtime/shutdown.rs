//! How a runtime stops (`shutdown`, and what dropping it does) and what it reports
//! (`metrics`).

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::Shutdown;
use super::error::ShutdownError;
use super::metrics::{Latencies, Metrics, Sum};
use super::queue::{Core, Entry, Queue};
use super::shard::Shard;

impl<I, O> Core<I, O> {
    /// Stops accepting jobs; with [`Shutdown::Cancel`], cancels the queued and running ones;
    /// then waits until every job has ended (unless called from a job).
    pub(crate) fn shutdown(&self, mode: Shutdown, wait: bool) -> Result<(), ShutdownError> {
        let mut queue = self.lock();
        queue.accepting = false;
        let cancelled: Vec<Entry<I, O>> = match mode {
            Shutdown::Drain => Vec::new(),
            Shutdown::Cancel => {
                self.len.store(0, Ordering::Relaxed);
                queue.chunk_entries = 0;
                let mut jobs: Vec<Entry<I, O>> = queue.jobs.drain(..).collect();
                for shard in &*self.shards {
                    let taken = shard.remove_all();
                    queue.ahead -= taken.len();
                    jobs.extend(taken);
                }
                jobs
            }
        };
        self.wake_submitters(&mut queue);
        drop(queue);
        if mode == Shutdown::Cancel {
            // A job taken out of a batch before this sees the flag when it starts, or is in
            // its shard's list of running jobs by now (both under the shard's lock).
            self.cancelling.store(true, Ordering::SeqCst);
            for shard in &*self.shards {
                shard.cancel_running();
            }
        }
        for entry in cancelled {
            self.cancel_entry(entry);
        }
        if !wait {
            return Ok(());
        }
        if self.on_pool() {
            return Err(ShutdownError::InsideJob);
        }
        let mut queue = self.lock();
        self.draining.fetch_add(1, Ordering::SeqCst);
        while !self.is_idle(&queue) {
            queue = self
                .idle
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.draining.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    /// Ends a queued entry as cancelled before it started (every input of a chunk not
    /// handed out yet); its inputs are dropped here, outside the queue's lock.
    pub(crate) fn cancel_entry(&self, entry: Entry<I, O>) {
        let cancelled = match entry {
            Entry::One(job) => usize::from(job.cell.cancel_queued()),
            Entry::Chunk(chunk) => {
                let n = chunk.cancel_rest();
                self.chunk_cancelled.fetch_add(n, Ordering::SeqCst);
                n
            }
        };
        self.cancelled_queued
            .fetch_add(cancelled as u64, Ordering::Relaxed);
    }

    /// Stops accepting jobs, without waiting (what dropping the runtime does).
    pub(crate) fn stop_accepting(&self) {
        let mut queue = self.lock();
        queue.accepting = false;
        self.wake_submitters(&mut queue);
    }

    /// Wakes every blocked submitter and waiting future, whatever the queue holds.
    fn wake_submitters(&self, queue: &mut Queue<I, O>) {
        self.room.notify_all();
        for waker in queue.wakers.drain(..) {
            waker.wake();
        }
    }

    pub(crate) fn is_accepting(&self) -> bool {
        self.lock().accepting
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let mut queue = self.lock();
        let queued = self.used(&mut queue, true);
        let held = queue.ahead.saturating_sub(queue.started_seen);
        let submitted = queue.submitted;
        let busy: usize = self.shards.iter().map(Shard::busy).sum();
        drop(queue);
        let running = busy.saturating_sub(held);
        let mut counts = [
            submitted,
            0,
            0,
            self.cancelled_queued.load(Ordering::Relaxed),
        ];
        let mut sums = <[Sum; 3]>::default();
        let mut recent = Vec::new();
        for shard in &*self.shards {
            shard.report(&mut counts, &mut sums, &mut recent);
        }
        let latencies = Latencies::merge(&sums, recent);
        Metrics::new((queued, running, self.capacity), counts, latencies)
    }
}
