//! The job runtime's per-thread batches: a pool thread takes several queued jobs per visit
//! to the queue. Jobs waiting in a thread's batch must stay counted against the capacity,
//! cancellable, cancelled by `shutdown(Cancel)`, and runnable by other threads while their
//! own thread is busy; none may be lost or run twice. No timing assertions: hand-offs go
//! through channels; a test that would hang fails after a generous bound instead.

mod runtime_support;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Barrier};

use routilux::{JobError, JobHandle, JobStatus, RunOptions, Runtime, Shutdown, SubmitError};
use runtime_support::{Live, Token, finishes};

enum Cmd {
    /// Tells the sender it runs, then waits for the gate to close.
    Hold(Sender<()>, Receiver<()>),
    Value(u64),
}

fn commands(threads: usize, capacity: usize) -> Runtime<Cmd, u64> {
    Runtime::builder()
        .threads(threads)
        .capacity(capacity)
        .build(|cmd: Cmd, _options: RunOptions<'_>| match cmd {
            Cmd::Hold(started, gate) => {
                started.send(()).unwrap();
                let _ = gate.recv();
                Ok(0)
            }
            Cmd::Value(x) => Ok(x),
        })
        .unwrap()
}

/// Submits a job that holds a pool thread until the returned gate is dropped; returns once
/// it runs.
fn hold(runtime: &Runtime<Cmd, u64>) -> (JobHandle<u64>, Sender<()>) {
    let (started_tx, started) = mpsc::channel();
    let (gate, gate_rx) = mpsc::channel();
    let handle = runtime.submit(Cmd::Hold(started_tx, gate_rx)).unwrap();
    started.recv().unwrap();
    (handle, gate)
}

/// The holds, the jobs and the gates of [`batch_behind_a_held_job`].
type Setup = (Vec<JobHandle<u64>>, Vec<JobHandle<u64>>, Vec<Sender<()>>);

/// Two threads; leaves one thread (A) running a held job with three jobs waiting in its
/// batch behind it, four jobs in the queue, and the other thread (B) held. Returns the
/// holds (B's first), the jobs (values 2..=8, the batch's first) and the gates.
fn batch_behind_a_held_job(runtime: &Runtime<Cmd, u64>) -> Setup {
    let (first, first_gate) = hold(runtime);
    let (second, second_gate) = hold(runtime);
    let (started_tx, started) = mpsc::channel();
    let (third_gate, gate_rx) = mpsc::channel();
    let third = runtime.submit(Cmd::Hold(started_tx, gate_rx)).unwrap();
    let jobs: Vec<JobHandle<u64>> = (2..=8)
        .map(|x| runtime.submit(Cmd::Value(x)).unwrap())
        .collect();
    assert_eq!(runtime.metrics().queued, 8);
    // The first hold's thread takes half the queue (4 jobs) and starts the third hold.
    drop(first_gate);
    assert_eq!(first.wait().unwrap(), 0);
    started.recv().unwrap();
    (vec![second, third], jobs, vec![second_gate, third_gate])
}

#[test]
fn jobs_in_a_busy_threads_batch_are_counted_cancelled_and_stolen() {
    finishes(|| {
        let runtime = commands(2, 64);
        let (holds, mut jobs, mut gates) = batch_behind_a_held_job(&runtime);
        let m = runtime.metrics();
        assert_eq!((m.queued, m.running), (7, 2));
        // The job of value 3 waits in the busy thread's batch: cancelling it takes it out.
        let cancelled = jobs.remove(1);
        assert_eq!(cancelled.status(), JobStatus::Queued);
        assert!(cancelled.cancel());
        assert_eq!(cancelled.status(), JobStatus::Cancelled);
        assert!(matches!(cancelled.wait(), Err(JobError::Cancelled)));
        assert_eq!(runtime.metrics().queued, 6);
        // Once the other thread is free, it runs the queue and then steals the batch: every
        // job ends while the thread that took them is still held.
        drop(gates.remove(0));
        let values: Vec<u64> = jobs.into_iter().map(|h| h.wait().unwrap()).collect();
        assert_eq!(values, [2, 4, 5, 6, 7, 8]);
        assert_eq!(holds[1].status(), JobStatus::Running);
        drop(gates);
        for hold in holds {
            assert_eq!(hold.wait().unwrap(), 0);
        }
        runtime.shutdown(Shutdown::Drain).unwrap();
        let m = runtime.metrics();
        assert_eq!((m.submitted, m.completed, m.cancelled), (10, 9, 1));
        assert_eq!((m.queued, m.running), (0, 0));
    });
}

#[test]
fn shutdown_cancel_ends_the_jobs_in_batches() {
    finishes(|| {
        let runtime = Arc::new(commands(2, 64));
        let (holds, jobs, gates) = batch_behind_a_held_job(&runtime);
        let shutdown = {
            let runtime = Arc::clone(&runtime);
            std::thread::spawn(move || runtime.shutdown(Shutdown::Cancel))
        };
        for job in jobs {
            assert!(matches!(job.wait(), Err(JobError::Cancelled)));
        }
        drop(gates);
        for hold in holds {
            // The holds ignore their tokens: they end as they would have.
            assert_eq!(hold.wait().unwrap(), 0);
        }
        shutdown.join().unwrap().unwrap();
        let m = runtime.metrics();
        assert_eq!((m.submitted, m.completed, m.cancelled), (10, 3, 7));
        assert_eq!((m.queued, m.running), (0, 0));
    });
}

#[test]
fn a_full_queue_counts_the_batches() {
    finishes(|| {
        // A capacity of 16 on 2 threads: a thread takes 2 jobs per visit; the busy one
        // holds one in its batch, 6 wait in the queue: room for 9 more.
        let runtime = commands(2, 16);
        let (holds, jobs, gates) = batch_behind_a_held_job(&runtime);
        assert_eq!(runtime.metrics().queued, 7);
        let more: Vec<JobHandle<u64>> = (9..18)
            .map(|x| runtime.try_submit(Cmd::Value(x)).ok().unwrap())
            .collect();
        assert!(matches!(
            runtime.try_submit(Cmd::Value(18)),
            Err(SubmitError::Full(Cmd::Value(18)))
        ));
        drop(gates);
        let sum: u64 = jobs
            .into_iter()
            .chain(more)
            .map(|h| h.wait().unwrap())
            .sum();
        assert_eq!(sum, (2..18).sum::<u64>());
        for hold in holds {
            assert_eq!(hold.wait().unwrap(), 0);
        }
    });
}

/// One job of the stress tests: its index, a live counter, and the runs of each index.
struct Counted {
    index: usize,
    _live: Token,
}

fn counted_runtime(runs: &Arc<Vec<AtomicU8>>) -> Runtime<Counted, usize> {
    let runs = Arc::clone(runs);
    Runtime::builder()
        .threads(2)
        .capacity(16)
        .build(move |job: Counted, _: RunOptions<'_>| {
            runs[job.index].fetch_add(1, Ordering::SeqCst);
            Ok(job.index)
        })
        .unwrap()
}

#[test]
fn cancels_racing_with_batches_lose_and_duplicate_nothing() {
    const SUBMITTERS: usize = 4;
    const EACH: usize = 5_000;
    finishes(|| {
        let live = Arc::new(Live::default());
        let runs: Arc<Vec<AtomicU8>> =
            Arc::new((0..SUBMITTERS * EACH).map(|_| AtomicU8::new(0)).collect());
        let runtime = counted_runtime(&runs);
        let (done, cancelled) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for t in 0..SUBMITTERS {
                let (runtime, live, runs) = (&runtime, &live, &runs);
                let (done, cancelled) = (&done, &cancelled);
                s.spawn(move || {
                    let mut pending: Vec<(usize, JobHandle<usize>)> = Vec::new();
                    for i in 0..EACH {
                        let index = t * EACH + i;
                        let job = Counted {
                            index,
                            _live: Token::new(live),
                        };
                        pending.push((index, runtime.submit(job).ok().unwrap()));
                        // Cancel every third job a little after submitting it.
                        if i % 3 == 0 && pending.len() > 2 {
                            let at = pending.len() - 3;
                            pending[at].1.cancel();
                        }
                        if pending.len() >= 8 {
                            for (index, handle) in pending.drain(..4) {
                                settle(index, handle, runs, done, cancelled);
                            }
                        }
                    }
                    for (index, handle) in pending {
                        settle(index, handle, runs, done, cancelled);
                    }
                });
            }
        });
        runtime.shutdown(Shutdown::Drain).unwrap();
        let m = runtime.metrics();
        let (done, cancelled) = (done.into_inner(), cancelled.into_inner());
        assert_eq!(done + cancelled, SUBMITTERS * EACH);
        assert_eq!(m.submitted, (SUBMITTERS * EACH) as u64);
        assert_eq!((m.completed, m.cancelled), (done as u64, cancelled as u64));
        assert!(runs.iter().all(|r| r.load(Ordering::SeqCst) <= 1));
        let ran = runs
            .iter()
            .filter(|r| r.load(Ordering::SeqCst) == 1)
            .count();
        assert_eq!(
            ran, done,
            "a cancelled job ran, or a job ran without a result"
        );
        assert_eq!(live.now(), 0);
    });
}

/// Checks one job's end: done once with its own index, or cancelled before it ran.
fn settle(
    index: usize,
    handle: JobHandle<usize>,
    runs: &[AtomicU8],
    done: &AtomicUsize,
    cancelled: &AtomicUsize,
) {
    match handle.wait() {
        Ok(value) => {
            assert_eq!(value, index);
            assert_eq!(runs[index].load(Ordering::SeqCst), 1);
            done.fetch_add(1, Ordering::SeqCst);
        }
        Err(JobError::Cancelled) => {
            assert_eq!(runs[index].load(Ordering::SeqCst), 0);
            cancelled.fetch_add(1, Ordering::SeqCst);
        }
        Err(e) => panic!("job {index}: {e}"),
    }
}

#[test]
fn shutdown_cancel_racing_with_submitters_ends_every_job() {
    const SUBMITTERS: usize = 4;
    const EACH: usize = 5_000;
    finishes(|| {
        let live = Arc::new(Live::default());
        let runs: Arc<Vec<AtomicU8>> =
            Arc::new((0..SUBMITTERS * EACH).map(|_| AtomicU8::new(0)).collect());
        let runtime = counted_runtime(&runs);
        let (done, cancelled, refused) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let barrier = Barrier::new(SUBMITTERS + 1);
        std::thread::scope(|s| {
            for t in 0..SUBMITTERS {
                let (runtime, live, runs, barrier) = (&runtime, &live, &runs, &barrier);
                let (done, cancelled, refused) = (&done, &cancelled, &refused);
                s.spawn(move || {
                    let mut pending = Vec::new();
                    for i in 0..EACH {
                        if i == EACH / 4 {
                            barrier.wait();
                        }
                        let index = t * EACH + i;
                        let job = Counted {
                            index,
                            _live: Token::new(live),
                        };
                        match runtime.submit(job) {
                            Ok(handle) => pending.push((index, handle)),
                            Err(SubmitError::ShutDown(_)) => {
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(SubmitError::Full(_)) => panic!("submit does not give up"),
                        }
                        if pending.len() >= 64 {
                            for (index, handle) in pending.drain(..32) {
                                settle(index, handle, runs, done, cancelled);
                            }
                        }
                    }
                    for (index, handle) in pending {
                        settle(index, handle, runs, done, cancelled);
                    }
                });
            }
            barrier.wait();
            runtime.shutdown(Shutdown::Cancel).unwrap();
        });
        let m = runtime.metrics();
        let (done, cancelled) = (done.into_inner(), cancelled.into_inner());
        assert_eq!(done + cancelled + refused.into_inner(), SUBMITTERS * EACH);
        assert_eq!(m.submitted, (done + cancelled) as u64);
        assert_eq!((m.completed, m.cancelled), (done as u64, cancelled as u64));
        assert!(runs.iter().all(|r| r.load(Ordering::SeqCst) <= 1));
        let ran = runs
            .iter()
            .filter(|r| r.load(Ordering::SeqCst) == 1)
            .count();
        assert_eq!(
            ran, done,
            "a cancelled job ran, or a job ran without a result"
        );
        assert_eq!((m.queued, m.running), (0, 0));
        assert_eq!(live.now(), 0);
    });
}
