//! [`RunId`]: the id of a durable run.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The id of a durable run: 32 lowercase hex digits, unique across processes and machines
/// (time, a random seed and a counter). Stored as text.
///
/// ```
/// use routilux::durable::RunId;
///
/// let id = RunId::new();
/// assert_eq!(id.as_str().len(), 32);
/// assert_ne!(id, RunId::new());
/// assert_eq!(RunId::from("order-17").as_str(), "order-17");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// A new, unique id.
    #[must_use]
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // `RandomState` is seeded randomly per process (and per instance).
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u128(nanos);
        // The time keeps ids roughly ordered; the hash makes them unique.
        RunId(format!("{:016x}{:016x}", nanos as u64, hasher.finish()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RunId {
    fn default() -> Self {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An id of your own (an order number, ...): starting a run with an id that exists is an
/// error, so such ids make starts idempotent.
impl From<&str> for RunId {
    fn from(id: &str) -> Self {
        RunId(id.to_owned())
    }
}

impl From<String> for RunId {
    fn from(id: String) -> Self {
        RunId(id)
    }
}
