//! The causes the engine itself gives a failed step: [`StepTimedOut`] and [`StepPanicked`].

use std::error::Error;
use std::fmt;

/// The error of an attempt of an async step that ran past its timeout
/// (`#[step(timeout = ...)]` or `#[routine(timeout = ...)]`): its future was dropped. Retries
/// and compensation apply to it as to the step's own errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTimedOut {
    after: std::time::Duration,
}

impl StepTimedOut {
    pub(crate) fn new(after: std::time::Duration) -> Self {
        StepTimedOut { after }
    }

    /// The step's timeout.
    #[must_use]
    pub fn after(&self) -> std::time::Duration {
        self.after
    }
}

impl fmt::Display for StepTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the step did not finish within its timeout of {:?}",
            self.after
        )
    }
}

impl std::error::Error for StepTimedOut {}

/// The cause of a [`FlowError`](super::FlowError) whose step panicked: the panic's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepPanicked {
    message: String,
}

impl StepPanicked {
    pub(crate) fn new(message: String) -> Self {
        StepPanicked { message }
    }

    pub(crate) fn from_payload(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_owned()
        };
        StepPanicked { message }
    }

    /// The panic message (`"panic with a non-string payload"` when it was not a string).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StepPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked: {}", self.message)
    }
}

impl Error for StepPanicked {}
