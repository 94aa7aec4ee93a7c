//! durare (DBOS's model): a workflow of four trivial `#[durare::step]`s (four checkpoints),
//! started and awaited by callers, on its own Postgres schema.

use std::sync::Arc;
use std::time::{Duration, Instant};

use durare::{DurableContext, DurableEngine, PostgresProvider, Result, WorkflowOptions};

#[durare::step]
async fn add1(ctx: &DurableContext, x: u64) -> Result<u64> {
    Ok(std::hint::black_box(x + 1))
}

#[durare::workflow]
async fn chain4(ctx: DurableContext, x: u64) -> Result<u64> {
    let a = add1(&ctx, x).await?;
    let b = add1(&ctx, a).await?;
    let c = add1(&ctx, b).await?;
    add1(&ctx, c).await
}

/// An engine on a schema of its own (dropped by [`Engine::drop_schema`]).
pub struct Engine {
    engine: Arc<DurableEngine>,
    schema: String,
}

impl Engine {
    pub async fn new(tag: &str) -> Engine {
        let schema = format!("durare_{tag}_{}", std::process::id());
        let provider = PostgresProvider::connect_with_schema(&crate::db::url(), &schema)
            .await
            .expect("durare connects");
        let engine = DurableEngine::new(Arc::new(provider))
            .await
            .expect("durare's engine");
        Engine {
            engine: Arc::new(engine),
            schema,
        }
    }

    async fn job(&self, id: String, x: u64) {
        let handle = self
            .engine
            .start_with(Chain4, x, WorkflowOptions::with_id(id))
            .await
            .expect("a started workflow");
        assert_eq!(handle.await.expect("a workflow's result"), x + 4);
    }

    /// Mean time of one job run by one caller, `n` jobs after `n / 10` of warm-up.
    pub async fn one_at_a_time(&self, n: usize) -> Duration {
        for i in 0..n / 10 {
            self.job(format!("warm-{i}"), i as u64).await;
        }
        let start = Instant::now();
        for i in 0..n {
            self.job(format!("one-{i}"), i as u64).await;
        }
        start.elapsed() / u32::try_from(n).expect("a small count")
    }

    /// `k` tasks run `n / k` jobs one at a time each: jobs per second.
    pub async fn callers(&self, k: usize, n: usize) -> f64 {
        let start = Instant::now();
        let tasks: Vec<_> = (0..k)
            .map(|t| {
                let engine = Engine {
                    engine: Arc::clone(&self.engine),
                    schema: self.schema.clone(),
                };
                tokio::spawn(async move {
                    for i in 0..n / k {
                        engine.job(format!("k{k}-{t}-{i}"), i as u64).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a caller");
        }
        (n / k * k) as f64 / start.elapsed().as_secs_f64()
    }

    /// The schema's name, for the caller to drop.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}
