//! [`RunData`]: the key/value store shared by the steps of one run.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

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
