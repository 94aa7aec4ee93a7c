//! [`Halt`]: the error with which a step halts its durable run, to be resumed later.

use std::fmt;

/// Returned by a step as its error, halts a durable run (Reactor's `halt`): the run stops
/// without undoing anything, its status becomes [`RunStatus::Halted`](super::RunStatus::Halted)
/// and [`Durable::resume`](super::Durable::resume) (later, in any process) continues it,
/// running the halting step again (its earlier steps are loaded from their checkpoints).
///
/// A step returns it as its error: its own error type, or boxed
/// (`Err(Halt::new("..").into())` in a routine returning `Box<dyn Error + Send + Sync>`).
/// In a run that is not durable it is an ordinary error.
///
/// ```
/// use routilux::durable::Halt;
///
/// let halt = Halt::new("waiting for a manager's approval");
/// assert_eq!(halt.reason(), "waiting for a manager's approval");
/// assert_eq!(halt.to_string(), "halted: waiting for a manager's approval");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Halt {
    reason: String,
}

impl Halt {
    /// A halt, and why.
    pub fn new(reason: impl Into<String>) -> Self {
        Halt {
            reason: reason.into(),
        }
    }

    /// Why the step halted.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "halted: {}", self.reason)
    }
}

impl std::error::Error for Halt {}
