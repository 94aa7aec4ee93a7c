//! Async steps: `#[routine] async fn` routines, the bridge between their futures and the
//! engine, and the small executor that drives them when a flow is run with the blocking
//! `run`.
//!
//! The engine stays one engine: an async step is a step whose policy says so
//! ([`Policy::is_async`](crate::Policy::is_async)). Its routine returns a [`Later`] instead
//! of a value; the run's owner (the future of `run_async`, or the thread that called `run`)
//! polls it, while the steps that are not async run on the pool as in any other run. No
//! executor lives in routilux: the future of `run_async` works on any executor, and
//! [`block_on`] is only a thread that parks until it is woken.

mod block_on;
mod call;
mod timer;

pub(crate) use block_on::block_here;
pub use block_on::block_on;
pub use call::{Later, Pending, Settle, Settled, StepFuture, Unbound, settle_later, settle_now};
pub(crate) use timer::Sleep;
