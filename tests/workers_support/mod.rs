//! What the worker tests' processes share: a 4-step durable flow whose steps log every
//! execution (run, step, worker) to a file per worker process, and return the worker's name
//! with their value (so that a stored checkpoint tells which worker computed it). Shared by
//! `durable_workers` and `durable_kills` (each uses part of it).

#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use routilux::{Context, flow, routine};
use serde::{Deserialize, Serialize};

/// This process's worker name and execution log.
static WORKER: OnceLock<(String, Mutex<File>)> = OnceLock::new();

/// Names this process's worker and opens its execution log (append mode).
pub fn set_worker(name: &str, log: &Path) {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the execution log");
    assert!(
        WORKER.set((name.to_owned(), Mutex::new(file))).is_ok(),
        "one worker per process"
    );
}

/// The log of worker `name` in test `tag`.
pub fn log_path(tag: &str, name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("routilux-workers-{tag}-{name}.log"))
}

/// Logs this execution (one `write` of a whole line in append mode: a process killed right
/// after keeps it), and returns the worker's name.
fn did(ctx: &Context) -> String {
    log_execution(ctx, "")
}

/// Logs an execution of this step's work, its name followed by `suffix` (`.undo` for its
/// undo), and returns the worker's name.
pub fn log_execution(ctx: &Context, suffix: &str) -> String {
    let (name, file) = WORKER.get().expect("set_worker first");
    let key = ctx
        .idempotency_key()
        .expect("a durable run gives steps a key");
    let (run, step) = key.split_once('/').expect("key is RUN/STEP");
    let line = format!("{run} {step}{suffix} {name}\n");
    file.lock()
        .unwrap()
        .write_all(line.as_bytes())
        .expect("append to the execution log");
    name.clone()
}

/// A job: a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub n: u64,
}

/// A step's value and the worker that computed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub value: u64,
    pub worker: String,
}

#[routine]
pub fn first(job: &Job, ctx: &Context) -> Stamp {
    Stamp {
        worker: did(ctx),
        value: job.n + 1,
    }
}

#[routine]
pub fn second(prev: &Stamp, ctx: &Context) -> Stamp {
    Stamp {
        worker: did(ctx),
        value: prev.value * 2,
    }
}

#[routine]
pub fn third(prev: &Stamp, ctx: &Context) -> Stamp {
    Stamp {
        worker: did(ctx),
        value: prev.value + 3,
    }
}

#[routine]
pub fn fourth(prev: &Stamp, ctx: &Context) -> Stamp {
    Stamp {
        worker: did(ctx),
        value: prev.value * 5,
    }
}

/// What job `n` returns.
pub fn expected(n: u64) -> u64 {
    ((n + 1) * 2 + 3) * 5
}

flow! {
    /// Four steps in a chain.
    #[durable]
    pub flow Jobs {
        input job: Job;
        step a = first(job);
        step b = second(a);
        step c = third(b);
        step d = fourth(c);
        return d;
    }
}

/// The steps, in order.
pub const STEPS: [&str; 4] = ["a", "b", "c", "d"];

/// Every execution logged in test `tag` by workers `names`: `(run, step) -> workers`.
pub fn executions(
    tag: &str,
    names: &[String],
) -> std::collections::HashMap<(String, String), Vec<String>> {
    let mut all = std::collections::HashMap::<_, Vec<String>>::new();
    for name in names {
        let text = std::fs::read_to_string(log_path(tag, name)).unwrap_or_default();
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (Some(run), Some(step), Some(worker), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                panic!("a torn line in the log of `{name}`: {line:?}");
            };
            all.entry((run.to_owned(), step.to_owned()))
                .or_default()
                .push(worker.to_owned());
        }
    }
    all
}

pub mod checks;
pub mod process;
pub mod sagas;
