//! Crate-internal causes: a broken engine invariant ([`Internal`]) and a failed element of a
//! map step ([`ElementFailed`]).

use std::error::Error;
use std::fmt;

use super::BoxError;

/// An engine invariant that did not hold.
#[derive(Debug)]
pub(crate) struct Internal(pub(crate) &'static str);

impl fmt::Display for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for Internal {}

/// An element of a map step failed: its index and its error. The engine unwraps it into
/// [`FlowError::element`](super::FlowError::element) and the error itself; it shows only in
/// an undo error.
#[derive(Debug)]
pub(crate) struct ElementFailed {
    pub(super) index: usize,
    pub(super) panicked: bool,
    pub(super) source: BoxError,
    /// Completed elements whose undo failed after this failure: index and error.
    pub(super) undo_failures: Vec<(usize, BoxError)>,
}

impl ElementFailed {
    pub(crate) fn new(index: usize, panicked: bool, source: BoxError) -> Self {
        ElementFailed {
            index,
            panicked,
            source,
            undo_failures: Vec::new(),
        }
    }

    pub(crate) fn with_undo_failures(mut self, failures: Vec<(usize, BoxError)>) -> Self {
        self.undo_failures = failures;
        self
    }
}

impl fmt::Display for ElementFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "element {}: {}", self.index, self.source)
    }
}

impl Error for ElementFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}
