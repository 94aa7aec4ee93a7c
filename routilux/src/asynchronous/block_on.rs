//! The smallest executor: the calling thread polls one future and parks until it is woken.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Wakes the parked thread.
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on the calling thread, parking it while the future waits.
///
/// This is what the blocking `run` of a flow with async steps uses. It has no reactor: a
/// step that needs one (tokio's sockets and timers) must run under that runtime, with
/// `run_async`.
pub fn block_on<F: Future>(future: F) -> F::Output {
    wait(future, false)
}

/// [`block_on`] for the engine: on a thread of a rayon pool, it runs the pool's other jobs
/// while the future waits, as rayon's own joins do, so that a run waiting for its steps never
/// holds a pool thread that those steps need.
pub(crate) fn block_here<F: Future>(future: F) -> F::Output {
    wait(future, rayon::current_thread_index().is_some())
}

fn wait<F: Future>(future: F, in_pool: bool) -> F::Output {
    let mut future = pin!(future);
    let unpark = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        while !unpark.woken.swap(false, Ordering::Acquire) {
            if in_pool {
                if let Some(rayon::Yield::Executed) = rayon::yield_now() {
                    continue;
                }
                std::thread::park_timeout(std::time::Duration::from_micros(100));
            } else {
                std::thread::park();
            }
        }
    }
}
