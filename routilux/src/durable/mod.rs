//! Durable runs (feature `durable`): every completed step's result is stored, so that a run
//! survives a crash or a deploy and is resumed, by this process or another, where it stopped.
//!
//! A flow opts in with `#[durable]`; its inputs and step results must implement serde's
//! `Serialize` and `DeserializeOwned` (a type that does not is a compile error naming it). A
//! `pub` durable flow names its input and result types and routines in a public trait impl
//! ([`DurableFlow`]), so they must be public too (E0446 otherwise), as for `#[subflow]`.
//! `Name::durable(&store)` gives its [`Durable`] runs:
//!
//! ```
//! # #[cfg(feature = "sqlite")] fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use routilux::durable::{RunStatus, SqliteStore};
//! use routilux::{flow, routine, Context};
//!
//! #[routine]
//! fn reserve(qty: &u32) -> u32 { 100 + qty }
//!
//! #[routine]
//! fn charge(room: &u32, ctx: &Context) -> String {
//!     // The same key on every attempt and in every process that resumes the run.
//!     format!("charged room {room} once, key {}", ctx.idempotency_key().unwrap())
//! }
//!
//! flow! {
//!     #[durable]
//!     flow Booking {
//!         input qty: u32;
//!         step room = reserve(qty);
//!         step receipt = charge(room);
//!         return receipt;
//!     }
//! }
//!
//! # let path = std::env::temp_dir().join(format!("routilux-doc-{}.db", routilux::durable::RunId::new()));
//! let store = SqliteStore::open(&path)?;
//! let runs = Booking::durable(&store);
//! let id = runs.start(&3)?;          // recorded, not run yet
//! let receipt = runs.resume(&id)?;   // here or in another process, after a crash too
//! assert!(receipt.starts_with("charged room 103 once"));
//! assert_eq!(runs.status(&id)?, RunStatus::Succeeded);
//! assert_eq!(runs.output(&id)?, Some(receipt)); // read back by id
//! # drop(store); let _ = std::fs::remove_file(&path);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))] fn main() {}
//! ```
//!
//! # Guarantees
//!
//! - **Steps run at least once.** A step's result is stored (its *checkpoint*) before any step
//!   that depends on it starts. A resumed run loads the stored results and runs only the steps
//!   without one; a step that was running when the process died runs again. Steps with
//!   external effects pass [`Context::idempotency_key`](crate::Context::idempotency_key)
//!   (`RUN_ID/STEP`, stable across retries and resumes) to the service they call, so that a
//!   repeated call changes nothing.
//! - **Completion records are written exactly once.** A run ends with one completion record
//!   (its output, or its failure), written in one transaction with its final status; a
//!   finished run is never run again: resuming it returns the stored outcome.
//! - **Failed runs undo every completed step**, newest first, from the stored results — those
//!   of steps completed by a process that crashed included. Each finished undo is recorded and
//!   never repeated; an undo interrupted by a crash before its record was stored runs again on
//!   resume (undos are at least once too: give them the idempotency key). A run that crashed
//!   while failing resumes its undo without running any step.
//! - **A changed flow is refused.** Each run stores its flow's [`Fingerprint`] (steps, their
//!   kinds, types and edges); resuming it with a flow whose fingerprint differs is
//!   [`DurableError::FlowChanged`], naming the first difference.
//! - **A step can halt its run** by returning [`Halt`] (waiting for an approval, say): the run
//!   stops without undoing anything, its status is [`RunStatus::Halted`], and
//!   [`Durable::resume`] continues it later, in any process, from the halting step.
//! - **A store failure stops the run** without undoing anything ([`DurableError::Store`]);
//!   everything committed stays, and the run can be resumed once the store is back.
//!
//! Not yet: async steps and sub-flow steps in durable flows ([`DurableError::Unsupported`]);
//! a map step's elements are checkpointed together, as the step's result.
//!
//! # Workers
//!
//! Any number of processes share the runs of one store with [`Worker`]s
//! (`Name::durable(&store).worker(WorkerOptions::new())`): a run recorded with
//! [`Durable::start`] in any process waits until a worker claims it with a lease
//! ([`Store::claim`]; `FOR UPDATE SKIP LOCKED` on PostgreSQL), renews the lease on a thread of
//! its own while it runs, and writes its completion record. A worker that dies holds its run
//! until the lease expires; then another worker claims it and resumes it from its
//! checkpoints, as [`Durable::resume`] would. A worker that could not renew in time (stalled
//! past its lease) stops the run without undoing anything ([`DurableError::LeaseLost`]) and
//! leaves it to the new holder; it may at worst have run a step again whose checkpoint it had
//! not stored (steps are at least once) — the completion record is still written once.
//! Runs run with [`Durable::resume`] or [`Durable::run`] take no lease: while workers serve a
//! flow, submit its runs with [`Durable::start`] and resume only halted ones by hand (or
//! from a worker-free process).
//!
//! # Stores
//!
//! - [`SqliteStore`] (feature `sqlite`): a file, for one machine;
//! - [`PostgresStore`] (feature `postgres`): a database shared by many processes;
//! - or any [`Store`] of your own.
//!
//! # The schema
//!
//! Both stores apply their migrations (shipped as SQL in `routilux/src/durable/migrations/`)
//! when opened, in one transaction, recording each in `routilux_schema_version (version,
//! applied_at)`. Version 1:
//!
//! | table | one row per | columns |
//! |---|---|---|
//! | `routilux_runs` | run | `seq` (order of creation), `id` (unique), `flow`, `fingerprint`, `plan` (the fingerprint's description), `inputs` (JSON array), `status` (`running`, `failing`, `succeeded`, `failed`), `failure`, `created_at`, `updated_at` |
//! | `routilux_checkpoints` | completed step | `seq`, `run_id`, `step` (unique per run), `value` (JSON), `compensated`, `created_at` |
//! | `routilux_undos` | finished undo | `seq`, `run_id`, `step` (unique per run), `created_at` |
//! | `routilux_completions` | finished run | `run_id` (primary key: one per run), `succeeded`, `output` (JSON array), `failed_step`, `message`, `undo_errors` (JSON array), `created_at` |
//!
//! Version 2 (leases, for [workers](#workers)) adds to `routilux_runs` `lease_owner` (the
//! worker holding the run), `lease_until` (when its lease expires: the server's
//! `TIMESTAMPTZ` on PostgreSQL, milliseconds since the Unix epoch on SQLite) and `claims`
//! (how many times it was claimed: the lease's token), with the partial index
//! `routilux_runs_claimable (flow, seq)` over running and failing runs; and to
//! `routilux_completions` `worker` (the worker that wrote the record; `NULL` outside
//! workers).

mod checkpointable;
mod error;
mod exec;
mod failpoint;
mod fingerprint;
mod halt;
mod id;
mod key;
mod lease;
#[cfg(feature = "postgres")]
mod postgres;
// Shared by the SQL stores: unused (and so not built) without one.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rows;
mod runner;
#[cfg(feature = "sqlite")]
mod sqlite;
mod state;
mod store;
mod worker;

pub use checkpointable::Checkpointable;
pub use error::{DurableError, StoreError};
#[doc(hidden)]
pub use failpoint::install_failpoint_hook;
pub use fingerprint::Fingerprint;
pub use halt::Halt;
pub use id::RunId;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use runner::{Durable, DurableFlow};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{
    Checkpoint, Completion, Failure, Halted, Lease, NewRun, RunStatus, Store, StoredRun,
};
pub use worker::{Worked, Worker, WorkerOptions, WorkerReport};

/// What the code generated for `#[durable]` flows needs (re-exported by `__private`).
#[doc(hidden)]
pub mod generated {
    pub use super::checkpointable::{
        Json, NotSerde, ViaSerde, assert_checkpointable, list_from_json, list_to_json, unknown_step,
    };
    pub use super::exec::{DurableSlots, execute};
    pub use super::runner::{Durable, DurableFlow};
    pub use super::state::RunState;
    pub use super::store::Store;
    pub use serde_json::{Error, Value};
}
