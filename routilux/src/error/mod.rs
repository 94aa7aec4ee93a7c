//! [`FlowError`]: why a run of a flow did not produce its result.

mod causes;
mod internal;
mod report;
mod undo;

use std::borrow::Cow;
use std::error::Error;
use std::fmt;

pub use causes::{StepPanicked, StepTimedOut};
pub(crate) use internal::{ElementFailed, Internal};
use report::DynError;
pub(crate) use report::box_dyn;
pub use undo::UndoError;

/// A boxed error as returned by fallible routines.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// What kind of failure ended a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A step returned `Err`; [`Error::source`] is that error.
    Failed,
    /// A step panicked; [`Error::source`] is a [`StepPanicked`].
    Panicked,
    /// A required input of a [`DynFlow`](crate::DynFlow) run was not given.
    MissingInput,
    /// A [`DynFlow`](crate::DynFlow) was used with a handle or inputs of another flow (or
    /// its [`Builder`](crate::Builder) was): [`Error::source`] is the
    /// [`BuildError`](crate::BuildError) naming the mistake.
    Misuse,
    /// The engine broke one of its own invariants (a bug in routilux: please report it).
    Internal,
    /// The run's [`CancelToken`](crate::CancelToken) was cancelled before every step ran.
    Cancelled,
    /// The run's deadline ([`RunOptions::timeout`](crate::RunOptions::timeout)) passed before
    /// every step ran.
    TimedOut,
}

/// The error of a run: which step failed and why.
///
/// The routine's own error is reachable through [`Error::source`] and can be downcast:
///
/// ```
/// use routilux::{flow, routine};
///
/// #[routine]
/// fn parse(raw: &str) -> Result<u64, std::num::ParseIntError> {
///     raw.trim().parse()
/// }
///
/// flow! {
///     flow Parse {
///         input raw: String;
///         step value = parse(raw);
///         return value;
///     }
/// }
///
/// let err = Parse::run("x".to_string()).unwrap_err();
/// assert_eq!(err.step(), Some("value"));
/// let cause = std::error::Error::source(&err).unwrap();
/// assert!(cause.downcast_ref::<std::num::ParseIntError>().is_some());
/// assert_eq!(err.to_string(), "flow `Parse` failed at step `value`: invalid digit found in string");
/// ```
pub struct FlowError {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    flow: Cow<'static, str>,
    step: Option<Cow<'static, str>>,
    source: Option<BoxError>,
    element: Option<usize>,
    undo_errors: Vec<UndoError>,
}

impl FlowError {
    pub(crate) fn new(
        kind: ErrorKind,
        flow: Cow<'static, str>,
        step: Option<Cow<'static, str>>,
        source: Option<BoxError>,
    ) -> Self {
        FlowError {
            inner: Box::new(Inner {
                kind,
                flow,
                step,
                source,
                element: None,
                undo_errors: Vec::new(),
            }),
        }
    }

    /// A step's failure: when it is an element of a map step that failed, the error names
    /// the element and its cause is the element's own error.
    pub(crate) fn step_failed(
        kind: ErrorKind,
        flow: Cow<'static, str>,
        step: Cow<'static, str>,
        source: BoxError,
    ) -> Self {
        let source = match source.downcast::<crate::subflow::SubflowFailed>() {
            Ok(inner) => {
                // The inner run's error, at the qualified step: `y/c`, with its own cause.
                let mut inner = inner.0;
                let prefix = format!("{step}/");
                let qualified = match inner.inner.step.take() {
                    Some(at) => format!("{prefix}{at}"),
                    None => step.into_owned(),
                };
                inner.inner.step = Some(qualified.into());
                inner.inner.flow = flow;
                for undo in &mut inner.inner.undo_errors {
                    undo.step = format!("{prefix}{}", undo.step).into();
                }
                return inner;
            }
            Err(source) => source,
        };
        match source.downcast::<ElementFailed>() {
            Ok(element) => {
                let kind = if element.panicked {
                    ErrorKind::Panicked
                } else {
                    kind
                };
                let ElementFailed {
                    index,
                    source,
                    undo_failures,
                    ..
                } = *element;
                let undo_errors = undo_failures
                    .into_iter()
                    .map(|(i, error)| UndoError::new(format!("{step}[{i}]").into(), 1, error))
                    .collect();
                // A map stopped by the run's cancellation (no element failed) whose undos
                // failed: the stop is the cause.
                let element = (index != usize::MAX).then_some(index);
                let mut error = FlowError::new(kind, flow, Some(step), Some(source));
                error.inner.element = element;
                error.inner.undo_errors = undo_errors;
                error
            }
            Err(source) => FlowError::new(kind, flow, Some(step), Some(source)),
        }
    }

    /// For a map step (`each`): the index of the element that failed.
    #[must_use]
    pub fn element(&self) -> Option<usize> {
        self.inner.element
    }

    /// Takes the undo errors out (to report them with another error).
    pub(crate) fn take_undo_errors(&mut self) -> Vec<UndoError> {
        std::mem::take(&mut self.inner.undo_errors)
    }

    /// Adds the run's undo errors after those already reported (a map step's elements).
    pub(crate) fn set_undo_errors(&mut self, errors: Vec<UndoError>) {
        self.inner.undo_errors.extend(errors);
    }

    /// The undos that failed while the run was being put back in order, in the order they
    /// were attempted (reverse completion order of their steps). Empty when every undo
    /// succeeded or nothing needed undoing.
    #[must_use]
    pub fn undo_errors(&self) -> &[UndoError] {
        &self.inner.undo_errors
    }

    /// The name of the step that failed, if the failure belongs to one step.
    #[must_use]
    pub fn step(&self) -> Option<&str> {
        self.inner.step.as_deref()
    }

    /// The name of the flow whose run failed.
    #[must_use]
    pub fn flow(&self) -> &str {
        &self.inner.flow
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether the failing step panicked (rather than returning `Err`).
    #[must_use]
    pub fn is_panic(&self) -> bool {
        self.inner.kind == ErrorKind::Panicked
    }

    /// Takes the cause out of the error, e.g. to downcast it by value with
    /// [`Box::downcast`].
    #[must_use]
    pub fn into_source(self) -> Option<BoxError> {
        self.inner.source
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        match inner.kind {
            ErrorKind::Cancelled => write!(f, "flow `{}` was cancelled", inner.flow)?,
            ErrorKind::TimedOut => write!(f, "flow `{}` timed out", inner.flow)?,
            _ => write!(f, "flow `{}` failed", inner.flow)?,
        }
        if let Some(step) = &inner.step {
            write!(f, " at step `{step}`")?;
        }
        if let Some(element) = inner.element {
            write!(f, " (element {element})")?;
        }
        match (&inner.kind, &inner.source) {
            (ErrorKind::Internal, Some(source)) => write!(f, ": internal error: {source}")?,
            (_, Some(_)) => {
                // `{:#}` shows the whole chain of causes, the way `anyhow` does.
                let mut cause = Error::source(self);
                while let Some(error) = cause {
                    write!(f, ": {error}")?;
                    cause = if f.alternate() { error.source() } else { None };
                }
            }
            (_, None) => {}
        }
        for undo in &inner.undo_errors {
            write!(f, "; {undo}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("FlowError")
            .field("kind", &inner.kind)
            .field("flow", &inner.flow)
            .field("step", &inner.step)
            .field("source", &inner.source)
            .field("undo_errors", &inner.undo_errors)
            .finish()
    }
}

impl Error for FlowError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.inner.source {
            Some(source) => match source.downcast_ref::<DynError>() {
                Some(report) => Some(report.0.error()),
                None => Some(&**source),
            },
            None => None,
        }
    }
}
