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
//!   returns `T` or `Result<T, E>` (`E: std::error::Error + Send + Sync + 'static`). The
//!   function stays callable as written.
//! - [`flow!`] declares `input`s, `step`s (in any order: the graph decides) and what `run`
//!   returns. The generated type has `run(inputs...)` and `run_with(options, inputs...)`.
//! - [`Schedule`] and [`RunOptions`] pick how a run is carried out; [`FlowError`] says which
//!   step failed and why (a panicking step is an error too, never a crash).
//! - [`Builder`] assembles flows at run time for the same engine.
//!
//! # Failure
//!
//! The first failing step stops the run: no new step starts, steps already running finish,
//! and the steps that depend on the failed one never start. Results are dropped as soon as
//! their last consumer has finished (returned results are kept), so a long flow holds only
//! what is still needed.
#![deny(missing_docs)]

mod builder;
mod engine;
mod error;
mod observe;
mod options;
mod plan;
mod slot;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use builder::{BuildError, Builder, DynFlow, Handle, Inputs, Outputs};
pub use error::{BoxError, ErrorKind, FlowError, StepPanicked};
pub use observe::Observer;
pub use options::{RunOptions, Schedule};
pub use plan::{Plan, StepPlan};
pub use routilux_macros::{flow, routine};
