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
//! - [`Step`] is a step with undo and compensation, implemented by hand on your own type;
//!   [`Context`] gives a step its attempt, a cancellation check and per-run [`RunData`].
//! - [`Observer`] hears every lifecycle event; [`Tracker`] is one that keeps statistics and
//!   timelines ([`RunRecord::to_chrome_trace`], [`RunRecord::to_svg`]); `Name::graph()`
//!   ([`Graph`]) draws a flow as DOT or Mermaid.
//!
//! # Failure
//!
//! The first failing step stops the run: no new step starts, steps already running finish,
//! and the steps that depend on the failed one never start. Failed attempts are retried as
//! the step's policy says; then every completed undoable step is undone, newest first. A
//! [`CancelToken`] or a timeout ends a run the same way. Results are dropped as soon as their
//! last consumer has finished (returned results are kept), so a long flow holds only what is
//! still needed.
//!
//! # Features
//!
//! - `serde`: [`Graph`] implements `serde::Serialize`.
//! - `tracing`: a `tracing` span per run and per step attempt (target `routilux`).
#![deny(missing_docs)]

mod builder;
mod cancel;
mod context;
mod engine;
mod error;
mod graph;
mod observe;
mod options;
mod plan;
mod policy;
mod slot;
mod step;
#[cfg(feature = "tracing")]
mod trace;
mod track;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use builder::{BuildError, Builder, DynFlow, Handle, Inputs, Outputs};
pub use cancel::CancelToken;
pub use context::{Cancelled, Context, RunData};
pub use error::{BoxError, ErrorKind, FlowError, StepPanicked, UndoError};
pub use graph::{Graph, GraphEdge, GraphInput, GraphStep};
pub use observe::{Observer, RunInfo};
pub use options::{RunOptions, Schedule};
pub use plan::{Plan, StepPlan};
pub use policy::{Backoff, Policy};
/// Declares a flow: its inputs, its steps and what a run returns.
///
/// ```text
/// flow! {
///     [#[attr] ...] [vis] flow Name {
///         input NAME: TYPE;                 // zero or more: the parameters of `run`
///         step NAME = ROUTINE(ARG, ...);    // ROUTINE: a `#[routine]` fn (a path is fine)
///         return NAME; | return (NAME, ...);  // optional; without it `run` returns `()`
///     }
/// }
/// ```
///
/// Each `ARG` names an input or a step; the routine receives `&` of its value. Steps may be
/// declared in any order. The macro declares `struct Name` with:
///
/// - `fn run(inputs...) -> Result<Output, FlowError>`: the default [`RunOptions`];
/// - `fn run_with(options, inputs...) -> Result<Output, FlowError>`: `options` is anything
///   that converts into [`RunOptions`] (a [`Schedule`], a `&rayon::ThreadPool`, ...);
/// - `fn plan() -> &'static Plan`: the steps in topological order and their layers.
///
/// Inputs and results must be `Send + Sync`: steps read them from several threads.
///
/// Every wiring mistake is a compile error at its token, all of them in one compile: unknown
/// names (with a suggestion when one is close), cycles (named in full), self-dependencies,
/// duplicate names, `return` of unknown names; wrong argument types or counts are rustc's
/// errors at the argument.
///
/// ```
/// use routilux::{flow, routine, Schedule};
///
/// #[routine]
/// fn words(text: &str) -> Vec<String> {
///     text.split_whitespace().map(str::to_owned).collect()
/// }
///
/// #[routine]
/// fn count(words: &[String]) -> usize { words.len() }
///
/// #[routine]
/// fn longest(words: &[String]) -> String {
///     words.iter().max_by_key(|w| w.len()).cloned().unwrap_or_default()
/// }
///
/// flow! {
///     pub flow Words {
///         input text: String;
///         step n = count(list);       // declared before `list`: the graph decides the order
///         step list = words(text);
///         step long = longest(list);  // runs at the same time as `n`
///         return (n, long);
///     }
/// }
///
/// let (n, long) = Words::run_with(Schedule::Layered, "a flow of words".into())?;
/// assert_eq!((n, long.as_str()), (4, "words"));
/// # Ok::<(), routilux::FlowError>(())
/// ```
pub use routilux_macros::flow;
pub use step::{Args, Compensation, Step};
pub use track::{Outcome, Report, RunRecord, Span, StepStats, Tracker};

/// Makes a function usable as a step of a [`flow!`]; the function stays callable as written.
///
/// The function must be a free, non-generic, non-`async` `fn` whose parameters are shared
/// references (`&T`): a step receives `&` of each result it depends on, with deref coercion as
/// in a plain call (`&str` for a `String`, `&[T]` for a `Vec<T>`). It returns a `T` or a
/// `Result<T, E>` with `E: std::error::Error + Send + Sync + 'static`; an `Err` fails the run
/// and is kept as the [`FlowError`]'s source. A return type spelled `Result` (including
/// aliases such as `std::io::Result<T>`) is taken as fallible; to make a `Result` itself the
/// step's value, name it through a type alias with another name.
///
/// Beside the function, the attribute declares a hidden type of the same name (in the type
/// namespace) through which `flow!` learns the result type. It also allows
/// `clippy::trivially_copy_pass_by_ref` on the function, since routines take `&T` by contract.
///
/// ```
/// use routilux::routine;
///
/// #[routine]
/// fn parse(raw: &str) -> Result<u64, std::num::ParseIntError> {
///     raw.trim().parse()
/// }
///
/// assert_eq!(parse(" 42 ")?, 42);
/// # Ok::<(), std::num::ParseIntError>(())
/// ```
pub use routilux_macros::routine;
