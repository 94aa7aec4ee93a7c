//! What the runtime's test files share: a guard against deadlocks, a gate for jobs to wait
//! at, and drop counters for live values.

// Each test file uses part of it.
#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Runs `f` on another thread; fails (rather than hanging) if it deadlocks.
pub fn finishes<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("deadlocked: did not finish within 300 s"),
    }
}

/// Long enough that only a regression waits this long.
pub const GENEROUS: Duration = Duration::from_secs(20);

/// A gate that jobs wait at until it opens.
#[derive(Default)]
pub struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    /// Waits until the gate opens ([`GENEROUS`] at most); whether it did.
    pub fn wait(&self) -> bool {
        let open = self.open.lock().unwrap();
        let (open, _) = self
            .opened
            .wait_timeout_while(open, GENEROUS, |open| !*open)
            .unwrap();
        *open
    }

    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// Counts values alive and the most ever alive at once.
#[derive(Debug, Default)]
pub struct Live {
    now: AtomicI64,
    peak: AtomicI64,
}

impl Live {
    pub fn peak(&self) -> i64 {
        self.peak.load(Ordering::SeqCst)
    }
    pub fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A value that counts itself in its `Live`.
#[derive(Debug)]
pub struct Token(Arc<Live>);

impl Token {
    pub fn new(live: &Arc<Live>) -> Self {
        let now = live.now.fetch_add(1, Ordering::SeqCst) + 1;
        live.peak.fetch_max(now, Ordering::SeqCst);
        Token(Arc::clone(live))
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}
