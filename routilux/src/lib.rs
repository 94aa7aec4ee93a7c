//! Compile-time-checked flows whose independent steps run in parallel on rayon.
//!
//! Write each step as a plain function marked [`#[routine]`](routine), wire the steps together
//! in a [`flow!`], and call the generated `run`. A missing, misspelled or duplicate name, a
//! cycle or a type mismatch is a compile error at your token; at run time every step whose
//! inputs are ready runs in parallel.
//!
//! ```
//! use routilux::{flow, routine};
//!
//! #[routine]
//! fn parse(raw: &str) -> Result<Vec<u64>, std::num::ParseIntError> {
//!     raw.split(',').map(|s| s.trim().parse()).collect()
//! }
//!
//! #[routine]
//! fn total(values: &[u64]) -> u64 { values.iter().sum() }
//!
//! #[routine]
//! fn largest(values: &[u64]) -> u64 { values.iter().copied().max().unwrap_or(0) }
//!
//! #[routine]
//! fn render(sum: &u64, max: &u64) -> String { format!("sum={sum} max={max}") }
//!
//! flow! {
//!     /// Summarises a comma-separated list of numbers.
//!     pub flow Summary {
//!         input raw: String;
//!         step values = parse(raw);
//!         step sum = total(values);
//!         step max = largest(values);
//!         step report = render(sum, max);
//!         return report;
//!     }
//! }
//!
//! fn main() -> Result<(), routilux::FlowError> {
//!     let report: String = Summary::run("3, 4, 5".to_string())?;
//!     assert_eq!(report, "sum=12 max=5");
//!     Ok(())
//! }
//! ```
//!
//! # The pieces
//!
//! - [`#[routine]`](routine) on a free `fn` whose parameters are shared references and which
//!   returns `T` or `Result<T, E>` (`E` an error type, a `Box<dyn Error + Send + Sync>` or an
//!   `anyhow::Error`), with options for retries, backoff, a fallback value and an undo. The
//!   function stays callable as written.
//! - [`flow!`] declares `input`s, `step`s (in any order: the graph decides, `#[step(...)]`
//!   options per step) and what `run` returns. The generated type has `run(inputs...)`,
//!   `run_with(options, inputs...)`, `plan()` and `graph()`.
//! - [`Schedule`] and [`RunOptions`] pick how a run is carried out; [`FlowError`] says which
//!   step failed and why (a panicking step is an error too, never a crash).
//! - [`Builder`] assembles flows at run time for the same engine.
//! - [`Step`] is a step with undo, undo retries and compensation, implemented by hand on your
//!   own type;
//!   [`Context`] gives a step its attempt, a cancellation check and per-run [`RunData`].
//! - [`Observer`] hears every lifecycle event; [`Tracker`] is one that keeps statistics and
//!   timelines ([`RunRecord::to_chrome_trace`], [`RunRecord::to_svg`]); `Name::graph()`
//!   ([`Graph`]) draws a flow as DOT or Mermaid.
//!
//! # Failure
//!
//! The first failing step stops the run: no new step starts, steps already running finish,
//! and the steps that depend on the failed one never start. Failed attempts are retried as
//! the step's policy says; then every completed undoable step is undone, newest first (a value
//! that came from a fallback or [`Compensation::Continue`] is never undone). A
//! [`CancelToken`] or a timeout ends a run the same way. Results are dropped as soon as their
//! last consumer has finished (returned results are kept), so a long flow holds only what is
//! still needed.
//!
//! # Features
//!
//! - `serde`: [`Graph`] implements `serde::Serialize`.
//! - `tracing`: a `tracing` span per run and per step attempt (target `routilux`).
//! - `durable`: [`durable`] runs, checkpointed to a store (`#[durable]` flows); `sqlite` and
//!   `postgres` add the two stores (each implies `durable`).
#![deny(missing_docs)]

mod async_step;
mod asynchronous;
mod builder;
mod cancel;
mod context;
#[cfg(feature = "durable")]
pub mod durable;
mod engine;
mod error;
mod graph;
mod limit;
mod map;
mod observe;
mod options;
mod plan;
mod policy;
mod runtime;
mod slot;
mod step;
mod subflow;
#[cfg(feature = "tracing")]
mod trace;
mod track;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use async_step::AsyncStep;
pub use asynchronous::block_on;
pub use builder::{
    BuildError, Builder, Condition, Deps, DynFlow, DynSubflow, FlowStep, Handle, Inputs, MapOutput,
    Outputs, SubflowOutputs, When,
};
pub use cancel::CancelToken;
pub use context::{Cancelled, Context, RunData};
pub use error::{BoxError, ErrorKind, FlowError, StepPanicked, StepTimedOut, UndoError};
pub use graph::{EdgeKind, Graph, GraphEdge, GraphInput, GraphStep};
pub use limit::Limit;
pub use observe::{Observer, RunInfo};
pub use options::{RunOptions, Schedule};
pub use plan::{Plan, StepPlan};
pub use policy::{Backoff, Policy};
#[doc = include_str!("../docs/flow.md")]
///
#[doc = include_str!("../docs/step-language.md")]
pub use routilux_macros::flow;
pub use runtime::{
    Batches, BuildRuntimeError, ChannelBatches, DEFAULT_CAPACITY, JobError, JobHandle, JobId,
    JobStatus, Map, MapStream, MapStreamUnordered, MapUnordered, Metrics, Runtime, RuntimeBuilder,
    Shutdown, ShutdownError, Submit, SubmitError, batches,
};
pub use step::{Args, Compensation, Step};
pub use track::{Outcome, Report, RunRecord, Span, StepStats, Tracker};

#[doc = include_str!("../docs/routine.md")]
pub use routilux_macros::routine;
