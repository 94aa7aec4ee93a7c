//! Per-flow state: one typed value owned by a runtime, seen by every job's steps.
//!
//! The runtime hands each job a fresh [`RunData`] holding a reference to the state, under a
//! key of its own; [`Context::state`] finds it there. Nothing is locked on the way: the state
//! is an `Arc<S>` read by every job at once, so `S` brings its own synchronisation (atomics,
//! a `Mutex`, a connection pool's own locking).

use std::any::Any;
use std::sync::Arc;

use crate::context::{Context, RunData};

/// The [`RunData`] key the runtime's state is stored under.
const STATE_KEY: &str = "routilux::runtime::state";

/// A runtime's state, type-erased.
#[derive(Clone)]
pub(crate) struct SharedState(pub(crate) Arc<dyn Any + Send + Sync>);

impl SharedState {
    /// A job's own run data, holding the state.
    pub(crate) fn run_data(&self) -> RunData {
        let data = RunData::new();
        data.insert(STATE_KEY, self.clone());
        data
    }

    pub(crate) fn get<S: Any + Send + Sync>(&self) -> Option<Arc<S>> {
        Arc::clone(&self.0).downcast::<S>().ok()
    }
}

/// Finds the runtime state of type `S` in a run's data.
pub(crate) fn state_in<S: Any + Send + Sync>(data: &RunData) -> Option<Arc<S>> {
    data.with::<SharedState, _>(STATE_KEY, SharedState::get::<S>)
        .flatten()
}

impl Context {
    /// The state of the [`Runtime`](crate::Runtime) this run is a job of, if it has one of
    /// type `S` (see [`RuntimeBuilder::state`](crate::RuntimeBuilder::state)).
    ///
    /// Every job sees the same value, at the same time: `S` synchronises itself. Do not
    /// hold one of its locks while submitting to or waiting on the runtime: a waiting job
    /// may run another queued job on the same thread, which would then wait for that lock
    /// forever.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use routilux::{flow, routine, Context, RunOptions, Runtime};
    ///
    /// #[derive(Default)]
    /// struct Seen(AtomicU64);
    ///
    /// #[routine]
    /// fn count(x: &u64, ctx: &Context) -> u64 {
    ///     let seen = ctx.state::<Seen>().expect("run by the runtime");
    ///     seen.0.fetch_add(1, Ordering::Relaxed) + x
    /// }
    ///
    /// flow! { flow Count { input x: u64; step n = count(x); return n; } }
    ///
    /// let runtime = Runtime::builder()
    ///     .state(Seen::default())
    ///     .build(|x: u64, options: RunOptions<'_>| Count::run_with(options, x))?;
    /// for handle in (0..10).map(|x| runtime.submit(x)).collect::<Result<Vec<_>, _>>()? {
    ///     handle.wait()?;
    /// }
    /// assert_eq!(runtime.state::<Seen>().unwrap().0.load(Ordering::Relaxed), 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn state<S: Any + Send + Sync>(&self) -> Option<Arc<S>> {
        state_in(self.data())
    }
}
