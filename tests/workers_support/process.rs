//! Worker processes: the test binary re-run on one of its ignored child tests, with its
//! settings in the environment, and the parent's waits for them.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test may wait for anything (a guard against hangs, never a pass condition).
pub const GUARD: Duration = Duration::from_secs(120);

/// The child's setting `name` (set by [`spawn`]).
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// Waits until `done()` (checked every 20 ms), at most [`GUARD`].
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < GUARD, "waited {GUARD:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Child processes, killed if the test ends without waiting for them.
pub struct Children(pub Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts worker `name` of test `tag` on `schema`: this binary's ignored test `child`, with
/// a lease of 2 s unless `extra` sets `ROUTILUX_WORKER_LEASE_MS`.
pub fn spawn(child: &str, schema: &str, tag: &str, name: &str, extra: &[(&str, &str)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", child, "--ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env("ROUTILUX_WORKER_SCHEMA", schema)
        .env("ROUTILUX_WORKER_TAG", tag)
        .env("ROUTILUX_WORKER_NAME", name)
        .env("ROUTILUX_WORKER_LEASE_MS", "2000")
        .env_remove("ROUTILUX_WORKER_COUNT")
        .env_remove("ROUTILUX_WORKER_STALL")
        .stdout(Stdio::piped());
    for (key, value) in extra {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// Waits for a child to exit on its own; its report (the number it printed after
/// `worker NAME completed `).
pub fn finish(name: &str, child: &mut Child) -> u64 {
    wait_for(&format!("worker {name} to finish"), || {
        child.try_wait().unwrap().is_some()
    });
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "worker {name} failed: {status:?}\n{out}");
    let prefix = format!("worker {name} completed ");
    // The harness prints `test NAME ... ` before it, on the same line.
    let report = out
        .split(&prefix)
        .nth(1)
        .and_then(|r| r.split_whitespace().next());
    report
        .unwrap_or_else(|| panic!("no report from {name}: {out}"))
        .parse()
        .unwrap()
}
