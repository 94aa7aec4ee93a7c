//! [`DynError`]: a routine's error report (`anyhow::Error` and the like) boxed as an error.

use std::error::Error;
use std::fmt;

use super::BoxError;

/// The error of a routine that failed with an error report (`anyhow::Error` and the like:
/// not an `Error` itself, but it lends one). [`FlowError::source`](super::FlowError::source)
/// lends what the report lends, so that it can be downcast to the routine's original error;
/// display and debug output are the report's own.
pub(super) struct DynError(pub(super) Box<dyn Report>);

pub(super) trait Report: fmt::Display + fmt::Debug + Send + Sync {
    fn error(&self) -> &(dyn Error + Send + Sync + 'static);
}

impl<E> Report for E
where
    E: AsRef<dyn Error + Send + Sync + 'static> + fmt::Display + fmt::Debug + Send + Sync,
{
    fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.as_ref()
    }
}

impl fmt::Display for DynError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for DynError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Error for DynError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.error().source()
    }
}

/// Boxes an error that lends a `dyn Error` (a boxed error stays as it is; an error report
/// such as `anyhow::Error` is wrapped, see [`DynError`]).
pub(crate) fn box_dyn<E>(error: E) -> BoxError
where
    E: AsRef<dyn Error + Send + Sync + 'static> + fmt::Display + fmt::Debug + Send + Sync + 'static,
{
    let mut error = Some(error);
    let as_any: &mut dyn std::any::Any = &mut error;
    if let Some(boxed) = as_any
        .downcast_mut::<Option<BoxError>>()
        .and_then(Option::take)
    {
        return boxed;
    }
    match error {
        Some(error) => Box::new(DynError(Box::new(error))),
        None => unreachable!("taken only when it is a `BoxError`"),
    }
}
