//! apalis (a Postgres job queue): the same four trivial steps as one job (in memory, no step
//! checkpoints: what a plain job queue gives), and as an `apalis-workflow` stepped flow (each
//! step a task of its own, so each step's result is stored), `n` jobs queued, then one worker
//! with a concurrency limit of `k` runs them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_postgres::{Config, PgPool, PostgresStorage};
use apalis_workflow::SteppedFlow;

/// Counts finished jobs; the worker stops at `target`.
#[derive(Clone)]
struct Finished {
    count: Arc<AtomicUsize>,
    target: usize,
}

impl Finished {
    fn new(target: usize) -> Self {
        Finished {
            count: Arc::new(AtomicUsize::new(0)),
            target,
        }
    }

    fn one(&self, wrk: &WorkerContext) {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            wrk.stop().expect("the worker stops");
        }
    }
}

async fn chain4(x: u64, wrk: WorkerContext, finished: Data<Finished>) -> Result<u64, BoxDynError> {
    let mut v = x;
    for _ in 0..4 {
        v = std::hint::black_box(v + 1);
    }
    finished.one(&wrk);
    Ok(v)
}

/// What one run measured.
pub struct Queued {
    pub submit: Duration,
    pub jobs_per_s: f64,
}

pub async fn pool() -> PgPool {
    let pool = PgPool::connect(&crate::db::url())
        .await
        .expect("apalis connects");
    PostgresStorage::setup(&pool)
        .await
        .expect("apalis's migrations");
    pool
}

fn queue_name(kind: &str, k: usize) -> String {
    format!("peers-{kind}-{k}-{}", std::process::id())
}

/// Runs a worker to its stop (the last job): what it took, as [`Queued`].
async fn timed<E: std::fmt::Debug>(
    run: impl Future<Output = Result<(), E>>,
    finished: &Finished,
    submit: Duration,
) -> Queued {
    let start = Instant::now();
    run.await.expect("the worker runs");
    let elapsed = start.elapsed();
    assert_eq!(finished.count.load(Ordering::Acquire), finished.target);
    Queued {
        submit,
        jobs_per_s: finished.target as f64 / elapsed.as_secs_f64(),
    }
}

/// `n` plain jobs, then one worker with concurrency `k`.
pub async fn jobs(pool: &PgPool, k: usize, n: usize) -> Queued {
    let queue = queue_name("jobs", k);
    let mut backend: PostgresStorage<u64> =
        PostgresStorage::new(pool).with_config(Config::default().queue(&queue));
    let start = Instant::now();
    backend
        .push_bulk((0..n as u64).collect())
        .await
        .expect("queued jobs");
    let submit = start.elapsed();
    let finished = Finished::new(n);
    let worker = WorkerBuilder::new(format!("w-{queue}"))
        .backend(backend)
        .data(finished.clone())
        .concurrency(k)
        .build(chain4);
    timed(worker.run(), &finished, submit).await
}

/// `n` stepped flows of four steps, then one worker with concurrency `k`.
pub async fn stepped(pool: &PgPool, k: usize, n: usize) -> Queued {
    let queue = queue_name("stepped", k);
    let mut backend = PostgresStorage::new(pool).with_config(Config::default().queue(&queue));
    let start = Instant::now();
    for x in 0..n as u64 {
        backend.push(x).await.expect("a queued flow");
    }
    let submit = start.elapsed();
    let finished = Finished::new(n);
    let flow = SteppedFlow::new("chain4")
        .and_then(|x: u64| async move { Ok::<_, BoxDynError>(std::hint::black_box(x + 1)) })
        .and_then(|x: u64| async move { Ok::<_, BoxDynError>(std::hint::black_box(x + 1)) })
        .and_then(|x: u64| async move { Ok::<_, BoxDynError>(std::hint::black_box(x + 1)) })
        .and_then(
            |x: u64, wrk: WorkerContext, finished: Data<Finished>| async move {
                finished.one(&wrk);
                Ok::<_, BoxDynError>(std::hint::black_box(x + 1))
            },
        );
    let worker = WorkerBuilder::new(format!("w-{queue}"))
        .backend(backend)
        .data(finished.clone())
        .concurrency(k)
        .build(flow);
    timed(worker.run(), &finished, submit).await
}
