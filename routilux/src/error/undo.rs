//! [`UndoError`]: an undo that failed while a failed run was being put back in order.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;

use super::BoxError;

/// An undo that failed (after its retries) while a failed run was being put back in order.
#[derive(Debug)]
pub struct UndoError {
    pub(super) step: Cow<'static, str>,
    attempts: u32,
    error: BoxError,
}

impl UndoError {
    pub(crate) fn new(step: Cow<'static, str>, attempts: u32, error: BoxError) -> Self {
        UndoError {
            step,
            attempts,
            error,
        }
    }

    /// The step whose undo failed.
    #[must_use]
    pub fn step(&self) -> &str {
        &self.step
    }

    /// How many times the undo was attempted.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The last attempt's error (a [`StepPanicked`](super::StepPanicked) if it panicked).
    #[must_use]
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }
}

impl fmt::Display for UndoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "undo of step `{}` failed", self.step)?;
        if self.attempts > 1 {
            write!(f, " {} times", self.attempts)?;
        }
        write!(f, ": {}", self.error)
    }
}

impl Error for UndoError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.error)
    }
}
