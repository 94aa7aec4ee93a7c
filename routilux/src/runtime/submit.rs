//! Submitting: queuing one job (waiting for room as the caller asks), a run of jobs under
//! one lock, or a run of inputs as one chunk (for the runtime's streams), and taking a
//! cancelled job out of the queue.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::cell::JobCell;
use super::chunk::Chunk;
use super::error::{JobError, SubmitError};
use super::handle::{Helper, JobHandle};
use super::queue::{Core, Entry, Job, Queue};

/// How long a blocked submitter sleeps before it looks at the queue again.
const ROOM_WAIT: Duration = Duration::from_millis(1);

/// A stream's jobs in flight: a chunk (with the next input whose result to yield), or one
/// job queued alone (or refused).
pub(crate) enum InFlight<I, O> {
    Chunk {
        chunk: Arc<Chunk<I, O>>,
        next: usize,
    },
    One(Result<JobHandle<O>, JobError>),
}

impl<I, O> InFlight<I, O> {
    /// How many jobs it holds whose results were not yielded.
    pub(crate) fn len(&self) -> usize {
        match self {
            InFlight::Chunk { chunk, next } => chunk.len() - next,
            InFlight::One(_) => 1,
        }
    }
}

/// How `push` waits for room.
pub(crate) enum Wait<'w> {
    /// Not at all.
    No,
    /// Blocking the thread (or helping, on a pool thread).
    Block,
    /// Registering a future's waker.
    Wake(&'w Waker),
}

impl<I: Send + 'static, O: Send + 'static> Core<I, O> {
    /// Queues a job, waiting for room as `wait` says.
    pub(crate) fn push(
        self: &Arc<Self>,
        inputs: I,
        wait: &Wait<'_>,
    ) -> Result<JobHandle<O>, SubmitError<I>> {
        // Made before taking the lock (the id is set under it, while the cell is ours).
        let mut cell = Arc::new(JobCell::new(0));
        let queued = Instant::now();
        let mut queue = self.lock();
        loop {
            if !queue.accepting {
                return Err(SubmitError::ShutDown(inputs));
            }
            if !self.is_full(&mut queue) {
                break;
            }
            match wait {
                Wait::No => return Err(SubmitError::Full(inputs)),
                Wait::Wake(waker) => {
                    // Said before looking again: a job that starts from a batch after this
                    // look wakes us (see `Core::next_job`).
                    self.waiting_for_room.store(true, Ordering::SeqCst);
                    if !self.is_full(&mut queue) {
                        continue;
                    }
                    if !queue.wakers.iter().any(|w| w.will_wake(waker)) {
                        queue.wakers.push((*waker).clone());
                    }
                    return Err(SubmitError::Full(inputs));
                }
                Wait::Block if self.on_pool() => {
                    // Waiting here could hold the last thread that drains the queue: make
                    // room by running the oldest job on this thread instead.
                    drop(queue);
                    Arc::clone(self).help_one();
                    queue = self.lock();
                }
                Wait::Block => {
                    // Woken at half capacity; but look again after a millisecond, in case the
                    // queued jobs wait for this one.
                    queue.blocked += 1;
                    queue = self
                        .room
                        .wait_timeout(queue, ROOM_WAIT)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    queue.blocked -= 1;
                }
            }
        }
        let id = queue.next_id;
        queue.next_id += 1;
        queue.submitted += 1;
        if let Some(cell) = Arc::get_mut(&mut cell) {
            cell.id = id;
        }
        queue.jobs.push_back(Entry::One(Job {
            inputs,
            cell: Arc::clone(&cell),
            queued,
        }));
        self.len.store(queue.jobs.len(), Ordering::Relaxed);
        let spawn = self.drainers_to_spawn(&queue) > 0;
        if spawn {
            queue.drainers += 1;
        }
        drop(queue);
        if spawn {
            self.spawn_drainer();
        }
        let helper: Arc<dyn Helper> = Arc::clone(self) as Arc<dyn Helper>;
        Ok(JobHandle::new(cell, helper))
    }

    /// Queues up to `n` jobs from `inputs` under one lock, appending their handles to
    /// `out`: as many as there is room for now; the rest one by one, waiting for room as
    /// [`push`](Self::push) does with [`Wait::Block`]. An input the runtime refused (it was
    /// shut down) is dropped and gets [`JobError::NotSubmitted`] in its place.
    pub(crate) fn push_many(
        self: &Arc<Self>,
        inputs: &mut impl Iterator<Item = I>,
        n: usize,
        out: &mut VecDeque<Result<JobHandle<O>, JobError>>,
    ) {
        // The inputs and the cells are made before taking the lock (user code runs in
        // `next`; the ids are set under it, while the cells are ours).
        let mut jobs: Vec<(I, Arc<JobCell<O>>)> = inputs
            .take(n)
            .map(|inputs| (inputs, Arc::new(JobCell::new(0))))
            .collect();
        let queued = Instant::now();
        let mut queue = self.lock();
        let room = if queue.accepting && !self.is_full(&mut queue) {
            self.capacity().saturating_sub(self.used(&mut queue, false))
        } else {
            0
        };
        let mut rest = jobs.split_off(room.min(jobs.len()));
        let helper: Arc<dyn Helper> = Arc::clone(self) as Arc<dyn Helper>;
        for (inputs, mut cell) in jobs {
            if let Some(cell) = Arc::get_mut(&mut cell) {
                cell.id = queue.next_id;
            }
            queue.next_id += 1;
            queue.submitted += 1;
            queue.jobs.push_back(Entry::One(Job {
                inputs,
                cell: Arc::clone(&cell),
                queued,
            }));
            out.push_back(Ok(JobHandle::new(cell, Arc::clone(&helper))));
        }
        self.queued(queue);
        for (inputs, cell) in rest.drain(..) {
            drop(cell);
            out.push_back(self.push(inputs, &Wait::Block).map_err(|e| match e {
                SubmitError::Full(_) | SubmitError::ShutDown(_) => JobError::NotSubmitted,
            }));
        }
    }

    /// Queues up to `n` inputs from `inputs` as one chunk (see `chunk.rs`) if there is room
    /// for them all now. If there is room for some only, queues those as a chunk and
    /// returns the others (taken from `inputs`, in order) for the caller to queue next;
    /// with no room at all, queues them one by one, waiting for room, as
    /// [`push_many`](Self::push_many) does. What was queued is appended to `out`.
    pub(crate) fn push_chunk(
        self: &Arc<Self>,
        inputs: &mut impl Iterator<Item = I>,
        n: usize,
        out: &mut VecDeque<InFlight<I, O>>,
    ) -> Vec<I> {
        // The inputs and the chunk are made before taking the lock (user code runs in
        // `next`); the id is set under it.
        let inputs: Vec<I> = inputs.take(n).collect();
        let len = inputs.len();
        if len == 0 {
            return Vec::new();
        }
        let mut chunk = Chunk::new(inputs, self.workers, Instant::now());
        let mut queue = self.lock();
        let room = if queue.accepting {
            self.capacity().saturating_sub(self.used(&mut queue, true))
        } else {
            0
        };
        if len <= room {
            chunk.id = queue.next_id;
            let chunk = Arc::new(chunk);
            queue.next_id += len as u64;
            queue.submitted += len as u64;
            queue.chunk_items += len;
            queue.chunk_entries += 1;
            queue.jobs.push_back(Entry::Chunk(Arc::clone(&chunk)));
            self.queued(queue);
            out.push_back(InFlight::Chunk { chunk, next: 0 });
            return Vec::new();
        }
        drop(queue);
        let mut inputs = chunk.into_inputs();
        if room > 0 {
            // Room for some: those now (this queues at least one of them, or waits for
            // room), the others later.
            let rest = inputs.split_off(room);
            let mut left = self.push_chunk(&mut inputs.into_iter(), room, out);
            left.extend(rest);
            return left;
        }
        let mut handles = VecDeque::with_capacity(len);
        self.push_many(&mut inputs.into_iter(), len, &mut handles);
        out.extend(handles.into_iter().map(InFlight::One));
        Vec::new()
    }

    /// Jobs were just queued (with the queue's lock, released here): publishes the queue's
    /// length and spawns the drain tasks they need.
    pub(crate) fn queued(self: &Arc<Self>, mut queue: MutexGuard<'_, Queue<I, O>>) {
        self.len.store(queue.jobs.len(), Ordering::Relaxed);
        let spawn = self.drainers_to_spawn(&queue);
        queue.drainers += spawn;
        drop(queue);
        for _ in 0..spawn {
            self.spawn_drainer();
        }
    }

    /// Takes the queued job `id` out of the queue (it was cancelled), if it is still there.
    pub(crate) fn remove(&self, id: u64) {
        self.cancelled_queued.fetch_add(1, Ordering::Relaxed);
        let mut queue = self.lock();
        let mut job = (queue.jobs.iter())
            .position(|entry| matches!(entry, Entry::One(job) if job.cell.id == id))
            .and_then(|at| match queue.jobs.remove(at) {
                Some(Entry::One(job)) => Some(job),
                _ => None,
            });
        if job.is_none() {
            // Perhaps taken into a thread's batch (if it has not started meanwhile).
            job = self.shards.iter().find_map(|shard| shard.remove(id));
            if job.is_some() {
                queue.ahead -= 1;
            }
        }
        if job.is_some() {
            self.len.store(queue.jobs.len(), Ordering::Relaxed);
            self.made_room(&mut queue);
            if self.draining.load(Ordering::SeqCst) > 0 && self.is_idle(&queue) {
                self.idle.notify_all();
            }
        }
        drop(queue);
        drop(job);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::runtime::Runtime;

    /// A gate jobs wait at until it opens (for 20 s at most, so that a bug fails).
    #[derive(Default)]
    struct Gate(Mutex<bool>, Condvar);

    impl Gate {
        fn wait(&self) {
            let open = self.0.lock().unwrap();
            drop(
                self.1
                    .wait_timeout_while(open, Duration::from_secs(20), |o| !*o),
            );
        }
        fn open(&self) {
            *self.0.lock().unwrap() = true;
            self.1.notify_all();
        }
    }

    #[test]
    fn a_run_of_inputs_with_room_for_some_queues_those_as_a_chunk_and_gives_the_rest_back() {
        let gate = Arc::new(Gate::default());
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap(),
        );
        let waits = Arc::clone(&gate);
        let runtime = Runtime::builder()
            .pool(pool)
            .capacity(8)
            .build(move |x: u64, _: crate::RunOptions<'_>| {
                waits.wait();
                Ok::<_, crate::FlowError>(x)
            })
            .unwrap();
        // Two jobs run (and wait at the gate), three wait in the queue: room for 5 more.
        let mut handles: Vec<_> = (100..102).map(|x| runtime.submit(x).unwrap()).collect();
        while runtime.metrics().running < 2 {
            std::thread::yield_now();
        }
        handles.extend((102..105).map(|x| runtime.submit(x).unwrap()));

        let mut out = VecDeque::new();
        let rest = runtime.core.push_chunk(&mut (0..20), 20, &mut out);
        assert_eq!(
            rest,
            (5..20).collect::<Vec<u64>>(),
            "the inputs with no room yet"
        );
        let lens: Vec<usize> = out.iter().map(InFlight::len).collect();
        assert!(
            matches!(out.front(), Some(InFlight::Chunk { .. })) && lens == [5],
            "one chunk of the five that fit, not {lens:?} single jobs"
        );
        gate.open();
        for (handle, x) in handles.into_iter().zip(100..) {
            assert_eq!(handle.wait().unwrap(), x);
        }
        if let Some(InFlight::Chunk { chunk, .. }) = out.front() {
            for at in 0..5 {
                while !chunk.block(at, Duration::from_secs(20)) {}
                // SAFETY: this test is the chunk's one consumer, reading each input once.
                assert_eq!(unsafe { chunk.take(at) }.unwrap().unwrap(), at as u64);
            }
        }
    }
}
