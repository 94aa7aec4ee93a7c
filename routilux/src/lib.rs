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
/// Declares a flow: its inputs, its steps and what a run returns.
///
/// ```text
/// flow! {
///     [/// doc] [#[attr] ...] [vis] flow Name {
///         input NAME: TYPE;                 // zero or more: the parameters of `run`
///         [/// doc] [#[step(OPTION = VALUE, ...)]]
///         step NAME = ROUTINE(ARG, ...);    // ROUTINE: a `#[routine]` fn or a `Step` type (a path is fine)
///         return NAME; | return (NAME, ...);  // optional; without it `run` returns `()`
///     }
/// }
/// ```
///
/// Each `ARG` names an input or a step; the routine receives `&` of its value. Steps may be
/// declared in any order. Inputs and results must be `Send + Sync`: steps read them from
/// several threads.
///
/// # What it declares
///
/// `struct Name` (with the flow's attributes and doc comment), and:
///
/// - `fn run(inputs...) -> Result<Output, FlowError>`: a run with the default [`RunOptions`];
/// - `fn run_with(options, inputs...) -> Result<Output, FlowError>`: `options` is anything
///   that converts into [`RunOptions`] (a [`Schedule`], a `&rayon::ThreadPool`, ...);
/// - `fn plan() -> &'static Plan`: the steps in topological order and their layers; attach an
///   observer to every run of the flow with [`Plan::attach_observer`];
/// - `fn graph() -> Graph`: the flow's static description (inputs, steps with their routine,
///   doc comment, retries and undo, edges, layers), without running it; draw it with
///   [`Graph::to_dot`] or [`Graph::to_mermaid`], or serialize it with the `serde` feature.
///
/// `Output` is the returned step's result type, a tuple for `return (A, B, ...)`, or `()`.
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
///     /// Counts words and finds the longest.
///     pub flow Words {
///         input text: String;
///         step n = count(list);       // declared before `list`: the graph decides the order
///         /// The words, in order.
///         step list = words(text);
///         step long = longest(list);  // runs at the same time as `n`
///         return (n, long);
///     }
/// }
///
/// let (n, long) = Words::run_with(Schedule::Layered, "a flow of words".into())?;
/// assert_eq!((n, long.as_str()), (4, "words"));
///
/// let graph = Words::graph();
/// assert_eq!(graph.doc, "Counts words and finds the longest.");
/// assert_eq!(graph.step("list").unwrap().doc, "The words, in order.");
/// assert_eq!(graph.layers, [vec!["list"], vec!["n", "long"]]);
/// assert_eq!(Words::plan().steps().len(), 3);
/// # Ok::<(), routilux::FlowError>(())
/// ```
///
/// # Step options
///
/// A step may carry doc comments (kept in [`Graph`] and [`StepPlan::doc`]) and one
/// `#[step(...)]` attribute whose options override the routine's own (see
/// [`#[routine]`](routine)) for this step only:
///
/// | option | value | meaning |
/// |---|---|---|
/// | `retries = N` | a constant `u32` | retry a failed attempt up to `N` times |
/// | `backoff = EXPR` | a constant [`Backoff`] | the wait before each retry |
/// | `batch = N` | a `usize` (map steps) | elements per task of a map step |
/// | `max_concurrency = N` | a `usize` (map steps) | elements of a map step in flight at once |
/// | `timeout = EXPR` | a constant [`Duration`](std::time::Duration) (async steps) | how long one attempt may take |
/// | `limit = NAME` | a `static` [`Limit`] | take a permit of the limit before starting |
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use routilux::{flow, routine, Backoff};
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
///
/// /// Fails twice, then succeeds.
/// #[routine]
/// fn flaky(x: &u32) -> Result<u32, std::io::Error> {
///     if CALLS.fetch_add(1, Ordering::Relaxed) < 2 {
///         return Err(std::io::Error::other("not yet"));
///     }
///     Ok(x * 2)
/// }
///
/// flow! {
///     flow Patient {
///         input x: u32;
///         /// Retried here, though `flaky` itself is not.
///         #[step(retries = 2, backoff = Backoff::fixed(Duration::from_millis(1)))]
///         step y = flaky(x);
///         return y;
///     }
/// }
///
/// assert_eq!(Patient::run(21)?, 42);
/// assert_eq!(CALLS.load(Ordering::Relaxed), 3);
/// assert_eq!(Patient::graph().step("y").unwrap().retries, 2);
/// # Ok::<(), routilux::FlowError>(())
/// ```
///
/// # Compile errors
///
/// Every wiring mistake is a compile error at its token, all of them in one compile: unknown
/// names (with a suggestion when one is close), cycles (named in full), self-dependencies,
/// duplicate names, `return` of unknown names; wrong argument types or counts are rustc's
/// errors at the argument. A flow with errors still declares `Name` and its functions, so that
/// code using it adds no errors of its own (when a `return` name is unknown, `run` returns
/// `Result<!, FlowError>` until it is fixed: `let _ = Name::run(..)`, `Name::run(..)?` and
/// `let x: T = Name::run(..)?` all type-check).
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

/// Makes a function usable as a step of a [`flow!`]; the function stays callable as written.
///
/// The function must be a free, non-generic, non-`async` `fn` whose parameters are shared
/// references (`&T`): a step receives `&` of each result it depends on, with deref coercion as
/// in a plain call (`&str` for a `String`, `&[T]` for a `Vec<T>`). A parameter of type
/// `&Context` is not an argument: the flow passes the step's [`Context`] there (its attempt,
/// a cancellation check, per-run [`RunData`]).
///
/// It returns a `T`, or a `Result<T, E>` whose `Err` fails the step. `E` may be:
///
/// - an error type: `E: std::error::Error + Send + Sync + 'static`;
/// - a boxed error, `Box<dyn std::error::Error + Send + Sync>`;
/// - an error report that lends a `&(dyn Error + Send + Sync)`, such as `anyhow::Error`
///   (`anyhow::Result<T>` works).
///
/// The [`FlowError`]'s [`source`](std::error::Error::source) is then the error the routine
/// made: the error itself, the boxed error (not the box), or the error inside the report
/// (for `anyhow`, the error it was made from, or the context around it, whose own source is
/// the error; `{:#}` prints the whole chain). Each can be downcast to its original type.
///
/// A return type spelled `Result` (including aliases such as `std::io::Result<T>`) is taken
/// as fallible; to make a `Result` itself the step's value, name it through a type alias with
/// another name.
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
///
/// # Options
///
/// `#[routine(OPTION = VALUE, ...)]` sets the policy of every step that calls the routine
/// (a step overrides `retries` and `backoff` with [`#[step(...)]`](flow#step-options)):
///
/// | option | value | meaning |
/// |---|---|---|
/// | `retries = N` | a constant `u32` | retry a failed attempt up to `N` times (`N + 1` attempts; default 0) |
/// | `backoff = EXPR` | a constant [`Backoff`] | the wait before each retry (default: none) |
/// | `fallback = EXPR` | an expression of the step's result type | when the last attempt fails, the step succeeds with this value instead of failing the run |
/// | `undo = FUNCTION` | a function (or `async fn`) of the step's result (see below) | when the run fails after the step succeeded, reverts what the step did |
/// | `timeout = EXPR` | a constant [`Duration`](std::time::Duration) (`async fn` only) | how long one attempt may take: past it the attempt fails with [`StepTimedOut`] |
/// | `limit = NAME` | a `static` [`Limit`] | every step of this routine takes a permit of the limit before starting |
///
/// `fallback` needs a routine that returns `Result`; its expression is evaluated when it is
/// used, without access to the arguments. A panic is never retried nor replaced: it fails the
/// run. (A [`Step`] sets the same policy with `RETRIES`, `BACKOFF`, `compensate` and `undo`,
/// and can also retry its undo.)
///
/// # Undo
///
/// `#[routine(undo = release)] fn reserve(trip: &Trip) -> Result<Booking, E>` makes the step
/// undoable without a hand-written [`Step`]: when the run fails (a later step failed, or the
/// run was cancelled or timed out), `release` is called with the step's result, newest first
/// among the completed undoable steps (see [Failure](crate#failure)). `release` is one of
///
/// - `fn release(booking: &Booking) -> Result<(), E2>`,
/// - `fn release(booking: &Booking, ctx: &Context) -> Result<(), E2>` (the undo's [`Context`]:
///   its attempt, the run's [`RunData`]),
///
/// or either of them returning `()` when it cannot fail. `Booking` is the step's result: the
/// routine's return type, or `T` of its `Result<T, E>`. `E2` may be any error a routine may
/// fail with (an error type, a boxed error, an `anyhow::Error`); an undo that fails or panics
/// is reported in [`FlowError::undo_errors`] and the remaining undos still run. The undo is
/// tried once. A value that came from `fallback` (or [`Compensation::Continue`]) is never
/// undone: nothing happened to undo. The step's result is kept until the run ends, for its
/// undo. A function of another signature is a compile error at the `undo = ...` token.
///
/// ```
/// use std::sync::Mutex;
/// use routilux::{flow, routine, Context};
///
/// static CANCELLED: Mutex<Vec<u32>> = Mutex::new(Vec::new());
///
/// #[routine(undo = release)]
/// fn reserve(nights: &u32) -> Result<u32, std::io::Error> {
///     Ok(100 + nights) // a room number
/// }
///
/// /// Gives the room back.
/// fn release(room: &u32, ctx: &Context) -> Result<(), std::io::Error> {
///     assert_eq!(ctx.step(), "room");
///     CANCELLED.lock().unwrap().push(*room);
///     Ok(())
/// }
///
/// #[routine]
/// fn pay(room: &u32) -> Result<(), std::io::Error> {
///     Err(std::io::Error::other(format!("card declined for room {room}")))
/// }
///
/// flow! {
///     flow Stay {
///         input nights: u32;
///         step room = reserve(nights);
///         step paid = pay(room);
///         return paid;
///     }
/// }
///
/// let err = Stay::run(3).unwrap_err();
/// assert_eq!(err.step(), Some("paid"));
/// assert!(err.undo_errors().is_empty());
/// assert_eq!(*CANCELLED.lock().unwrap(), [103]);
/// ```
///
/// ```
/// use std::time::Duration;
/// use routilux::{flow, routine, Backoff, Context};
///
/// /// Succeeds on the third attempt.
/// #[routine(retries = 3, backoff = Backoff::exponential(Duration::from_millis(1)))]
/// fn fetch(id: &u32, ctx: &Context) -> Result<String, std::io::Error> {
///     if ctx.attempt() < 3 {
///         return Err(std::io::Error::other("timed out"));
///     }
///     Ok(format!("item {id}"))
/// }
///
/// /// Never succeeds: every run gets the fallback after two attempts.
/// #[routine(retries = 1, fallback = String::from("unknown"))]
/// fn owner(id: &u32) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
///     Err(format!("no owner for {id}").into())
/// }
///
/// flow! {
///     flow Item {
///         input id: u32;
///         step item = fetch(id);
///         step who = owner(id);
///         return (item, who);
///     }
/// }
///
/// let (item, who) = Item::run(7)?;
/// assert_eq!((item.as_str(), who.as_str()), ("item 7", "unknown"));
/// # Ok::<(), routilux::FlowError>(())
/// ```
///
/// Beside the function, the attribute declares a hidden type of the same name (in the type
/// namespace) through which `flow!` learns the result type. It also allows
/// `clippy::trivially_copy_pass_by_ref` on the function, since routines take `&T` by contract.
pub use routilux_macros::routine;
