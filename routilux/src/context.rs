//! [`Context`]: what a step may ask about the run it belongs to, and [`RunData`], the run's
//! shared key/value store.

use std::any::Any;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::ptr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use crate::limit::Lending;
use crate::subflow::Nest;

/// The run a step belongs to: its id, the step's attempt number, cancellation, and the run's
/// [`RunData`].
///
/// A `#[routine]` receives it by declaring a parameter of type `&Context` (anywhere in its
/// parameter list; `flow!` does not pass it as an argument). [`Step`](crate::Step)
/// implementations always receive it.
///
/// ```
/// use routilux::{flow, routine, Context};
///
/// #[routine(retries = 2)]
/// fn flaky(ctx: &Context) -> Result<u32, std::fmt::Error> {
///     // Fails on the first two attempts.
///     if ctx.attempt() < 3 { Err(std::fmt::Error) } else { Ok(ctx.attempt()) }
/// }
///
/// flow! { flow Flaky { step value = flaky(); return value; } }
///
/// assert_eq!(Flaky::run()?, 3);
/// # Ok::<(), routilux::FlowError>(())
/// ```
pub struct Context {
    run_id: u64,
    flow: *const str,
    step: *const str,
    attempt: u32,
    attempts: u32,
    stopped: *const (dyn Fn() -> bool + Sync),
    data: *const RunData,
    /// For a step that runs a sub-flow (or undoes one): what the inner run inherits.
    nest: *const Nest<'static>,
    /// For a step that holds permits of limits: what runs nested in it may use.
    lending: *const Lending<'static>,
}

// SAFETY: a `Context` only lives while the engine runs the step it describes, and everything
// it points to (names, the run's stop check, the run's data) is `Sync` and outlives that.
unsafe impl Sync for Context {}
// SAFETY: as above; sending `&Context` to a scoped thread inside the step is fine.
unsafe impl Send for Context {}

impl Context {
    pub(crate) fn new(
        run_id: u64,
        names: (&str, &str),
        attempt: (u32, u32),
        stopped: &(dyn Fn() -> bool + Sync),
        data: &RunData,
    ) -> Self {
        // The lifetimes are erased here; `enter` hands the context out only for the duration
        // of a call that borrows all of it.
        let stopped: *const (dyn Fn() -> bool + Sync + '_) = stopped;
        // SAFETY: only the trait object's lifetime bound changes; the layout is the same.
        let stopped = unsafe {
            std::mem::transmute::<
                *const (dyn Fn() -> bool + Sync + '_),
                *const (dyn Fn() -> bool + Sync + 'static),
            >(stopped)
        };
        Context {
            run_id,
            flow: names.0,
            step: names.1,
            attempt: attempt.0,
            attempts: attempt.1,
            stopped,
            data,
            nest: ptr::null(),
            lending: ptr::null(),
        }
    }

    /// The context of a step that holds permits: runs started inside it take turns on them.
    pub(crate) fn lending(mut self, lending: &Lending<'_>) -> Self {
        // Lifetime erased as for the other pointers.
        self.lending = ptr::from_ref(lending).cast::<Lending<'static>>();
        self
    }

    /// The permits the step lends to the runs started inside it, if it holds any.
    pub(crate) fn lent(&self) -> Option<&Lending<'_>> {
        // SAFETY: as for `nest`: the lending outlives the context.
        unsafe { self.lending.as_ref() }
    }

    /// The context of a step that runs (or undoes) a sub-flow.
    pub(crate) fn nested(mut self, nest: &Nest<'_>) -> Self {
        // Lifetime erased as for the other pointers: `enter` lends the context only while
        // everything it points to lives.
        self.nest = ptr::from_ref(nest).cast::<Nest<'static>>();
        self
    }

    /// What an inner run started by this step inherits, if the step runs a sub-flow.
    pub(crate) fn nest(&self) -> Option<&Nest<'_>> {
        // SAFETY: as for `flow`: the nest outlives the context.
        unsafe { self.nest.as_ref() }
    }

    /// A number identifying the run, unique within the process.
    #[must_use]
    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    /// The name of the flow.
    #[must_use]
    pub fn flow(&self) -> &str {
        // SAFETY: see the type's Send/Sync note: the name outlives the context.
        unsafe { &*self.flow }
    }

    /// The name of the step, as declared in the flow.
    #[must_use]
    pub fn step(&self) -> &str {
        // SAFETY: as for `flow`.
        unsafe { &*self.step }
    }

    /// Which attempt this is: 1 for the first run of the step, 2 for its first retry, ...
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How many attempts the step gets in all (its retries plus one).
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether this is the step's last attempt: if it fails, it is not retried.
    #[must_use]
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.attempts
    }

    /// Whether the run is stopping: cancelled, past its deadline, or failed elsewhere. A long
    /// step should check it now and then and give up early.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        // SAFETY: as for `flow`.
        unsafe { (*self.stopped)() }
    }

    /// `Err(Cancelled)` when [`is_cancelled`](Self::is_cancelled), for use with `?`.
    ///
    /// # Errors
    /// [`Cancelled`] when the run is stopping.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// The run's key/value data, shared by all its steps (and the caller, see
    /// [`RunOptions::data`](crate::RunOptions::data)).
    #[must_use]
    pub fn data(&self) -> &RunData {
        // SAFETY: as for `flow`.
        unsafe { &*self.data }
    }

    /// Makes this the current context for the duration of `f`.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(*const Context);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(ptr::from_ref(self))));
        f()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("run_id", &self.run_id)
            .field("flow", &self.flow())
            .field("step", &self.step())
            .field("attempt", &self.attempt)
            .field("max_attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
}

/// Calls `f` with the context of the step running on this thread (a detached context with
/// run id 0 outside any run).
#[doc(hidden)]
pub fn with_current<R>(f: impl FnOnce(&Context) -> R) -> R {
    let current = CURRENT.with(Cell::get);
    if current.is_null() {
        let data = RunData::new();
        let never = || false;
        let detached = Context::new(0, ("", ""), (1, 1), &never, &data);
        f(&detached)
    } else {
        // SAFETY: `enter` set the pointer for the duration of a call that borrows the context,
        // and we are inside that call on the same thread.
        f(unsafe { &*current })
    }
}

/// The error of [`Context::check`]: the run is stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the run was cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Key/value data shared by the steps of one run (Routilux's job context).
///
/// Each run has its own; pass one in with [`RunOptions::data`](crate::RunOptions::data) to
/// seed it and read it back after the run.
///
/// ```
/// use routilux::RunData;
///
/// let data = RunData::new();
/// data.insert("user", 42_u64);
/// assert_eq!(data.get::<u64>("user"), Some(42));
/// assert_eq!(data.get::<String>("user"), None); // wrong type
/// ```
///
/// No lock is held while user code runs: the closures given to [`with`](Self::with) and
/// [`update`](Self::update) may use the store again, the same key included.
///
/// ```
/// use routilux::RunData;
///
/// let data = RunData::new();
/// data.insert("a", 1_u64);
/// let both = data.with::<u64, _>("a", |a| a + data.get::<u64>("a").unwrap());
/// assert_eq!(both, Some(2));
/// ```
#[derive(Default)]
pub struct RunData {
    state: Mutex<DataState>,
    /// Signalled whenever an [`update`](RunData::update) ends.
    updated: Condvar,
}

type Value = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
struct DataState {
    map: HashMap<String, Value>,
    /// The keys whose `update` is running, with the thread running it.
    updating: HashMap<String, ThreadId>,
}

impl RunData {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        RunData::default()
    }

    /// Stores `value` under `key`, replacing what was there. Returns whether a value was
    /// replaced.
    pub fn insert<T: Any + Send + Sync>(&self, key: impl Into<String>, value: T) -> bool {
        let value: Value = Arc::new(value);
        self.lock().map.insert(key.into(), value).is_some()
    }

    /// A clone of the value under `key`, if there is one of type `T`.
    #[must_use]
    pub fn get<T: Any + Clone>(&self, key: &str) -> Option<T> {
        self.with(key, T::clone)
    }

    /// Calls `f` on the value under `key`, if there is one of type `T`.
    ///
    /// `f` sees the value as it was when `with` was called, even if another thread replaces
    /// or updates it meanwhile; the store is not locked while `f` runs, so `f` may read and
    /// write it (the same key included).
    pub fn with<T: Any, R>(&self, key: &str, f: impl FnOnce(&T) -> R) -> Option<R> {
        let value = Arc::clone(self.lock().map.get(key)?);
        (*value).downcast_ref::<T>().map(f)
    }

    /// Updates the value under `key`, inserting `T::default()` first if it is missing (or of
    /// another type). Returns what `f` returns.
    ///
    /// `f` works on a copy, stored under `key` when `f` returns:
    ///
    /// - updates of one key are atomic: two threads updating the same key run one after the
    ///   other, neither update is lost (a counter incremented from parallel steps counts every
    ///   increment);
    /// - the store is not locked while `f` runs: `f` may read any key (reading `key` gives the
    ///   value before this update), and update or insert other keys; what `f` leaves replaces
    ///   whatever was [`insert`](Self::insert)ed under `key` meanwhile;
    /// - if `f` panics, the value is left as it was;
    /// - calling `update` on the same key from inside `f` panics (as a second
    ///   [`RefCell::borrow_mut`](std::cell::RefCell::borrow_mut) does) rather than deadlocking.
    ///
    /// For a value that cannot be cloned, store a `Mutex<T>` with [`insert`](Self::insert)
    /// and lock it inside [`with`](Self::with).
    ///
    /// ```
    /// use routilux::RunData;
    ///
    /// let data = RunData::new();
    /// data.update::<u32, _>("calls", |c| *c += 1);
    /// let seen = data.update::<u32, _>("calls", |c| {
    ///     *c += 1;
    ///     data.get::<u32>("calls") // the value before this update
    /// });
    /// assert_eq!(seen, Some(1));
    /// assert_eq!(data.get::<u32>("calls"), Some(2));
    /// ```
    ///
    /// # Panics
    /// If `f` (directly or not) updates `key` again on the same thread.
    pub fn update<T: Any + Send + Sync + Default + Clone, R>(
        &self,
        key: &str,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let me = std::thread::current().id();
        let mut state = self.lock();
        while let Some(&owner) = state.updating.get(key) {
            if owner == me {
                drop(state);
                panic!(
                    "routilux::RunData::update: key `{key}` is already being updated on this \
                     thread (update called again from inside its own closure)"
                );
            }
            state = self
                .updated
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let mut value: T = state
            .map
            .get(key)
            .and_then(|v| (**v).downcast_ref::<T>())
            .cloned()
            .unwrap_or_default();
        state.updating.insert(key.to_owned(), me);
        drop(state);

        /// Ends the update, storing the new value unless `f` panicked.
        struct Updating<'d, 'k> {
            data: &'d RunData,
            key: &'k str,
            value: Option<Value>,
        }
        impl Drop for Updating<'_, '_> {
            fn drop(&mut self) {
                let mut state = self.data.lock();
                if let Some(value) = self.value.take() {
                    state.map.insert(self.key.to_owned(), value);
                }
                state.updating.remove(self.key);
                drop(state);
                self.data.updated.notify_all();
            }
        }
        let mut updating = Updating {
            data: self,
            key,
            value: None,
        };
        let result = f(&mut value);
        updating.value = Some(Arc::new(value));
        drop(updating);
        result
    }

    /// Removes the value under `key`; returns whether there was one.
    pub fn remove(&self, key: &str) -> bool {
        self.lock().map.remove(key).is_some()
    }

    /// The keys, sorted.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().map.keys().cloned().collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> MutexGuard<'_, DataState> {
        // No user code runs while the lock is held, and every operation above leaves the
        // state consistent, so a poisoned lock (a panic in a value's destructor) is still
        // usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for RunData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunData")
            .field("keys", &self.keys())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on another thread; fails (rather than hanging) if it does not finish within
    /// 30 seconds, e.g. because it deadlocked.
    fn finishes<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("deadlocked: did not finish within 30 s"),
        }
    }

    #[test]
    fn with_may_use_the_store_again() {
        let seen = finishes(|| {
            let data = RunData::new();
            data.insert("a", 1_u64);
            let inner = data.with::<u64, _>("a", |a| {
                let again = data.with::<u64, _>("a", |b| a + b);
                data.insert("b", 5_u64);
                let removed = data.remove("a");
                (data.get::<u64>("a"), again, removed)
            });
            (inner, data.get::<u64>("b"), data.keys())
        });
        assert_eq!(seen.0, Some((None, Some(2), true)));
        assert_eq!(seen.1, Some(5));
        assert_eq!(seen.2, ["b"]);
    }

    #[test]
    fn update_may_use_the_store_again() {
        let seen = finishes(|| {
            let data = RunData::new();
            data.insert("a", 1_u64);
            // Update inside a read of the same key.
            let read = data.with::<u64, _>("a", |a| {
                data.update::<u64, _>("a", |v| *v += 10);
                *a
            });
            // A read of the same key and an update of another inside an update.
            let before = data.update::<u64, _>("a", |v| {
                *v += 100;
                data.update::<u64, _>("b", |b| *b = 7);
                data.get::<u64>("a")
            });
            (read, before, data.get::<u64>("a"), data.get::<u64>("b"))
        });
        assert_eq!(seen, (Some(1), Some(11), Some(111), Some(7)));
    }

    #[test]
    fn a_nested_update_of_the_same_key_panics_and_leaves_the_value() {
        let (panicked, after) = finishes(|| {
            let data = RunData::new();
            data.insert("a", 1_u64);
            let nested = catch_unwind(AssertUnwindSafe(|| {
                data.update::<u64, _>("a", |v| {
                    *v = 50;
                    data.update::<u64, _>("a", |w| *w += 1);
                });
            }));
            // The key is usable again afterwards, and the failed update left no trace.
            data.update::<u64, _>("a", |v| *v += 1);
            (nested.is_err(), data.get::<u64>("a"))
        });
        assert!(panicked);
        assert_eq!(after, Some(2));
    }

    #[test]
    fn parallel_updates_lose_nothing() {
        let total = finishes(|| {
            let data = RunData::new();
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for _ in 0..500 {
                            data.update::<u64, _>("n", |n| *n += 1);
                        }
                    });
                }
            });
            data.get::<u64>("n")
        });
        assert_eq!(total, Some(2000));
    }
}
