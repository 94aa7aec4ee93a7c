//! Durable runs on PostgreSQL: the store conformance suite, each test in a schema of its own
//! (dropped at the end). Needs a server: `DATABASE_URL`, or `postgres` on 127.0.0.1:5432,
//! database `test`. Without one, every test fails saying so (it never skips). Besides the
//! suite: migrations, and faults of the real database (a dropped connection, a read-only
//! session) injected into a store's connection in the middle of a run.
//!
//! `cargo test -p routilux-suite --features postgres --test durable_postgres`

#[path = "durable_support/mod.rs"]
mod durable_support;

use durable_support::count;
use durable_support::flows::{Checkout, Order};
use durable_support::pg::{At, Fault, Injected, postgres, url};
use routilux::durable::{DurableError, PostgresStore, RunId, RunStatus, Store, StoreError};

conformance_suite!(postgres());

#[test]
fn schema_is_migrated_once() {
    let store = postgres();
    assert_eq!(store.schema_version().unwrap(), 2);
    let again = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    assert_eq!(again.schema_version().unwrap(), 2);
}

/// A database of schema version 1 (before leases), with a run in it, is brought to version 2
/// on open; its run waits for a worker like any other.
#[test]
fn version_1_database_is_upgraded_and_its_runs_are_claimed() {
    let store = postgres();
    let old = format!("{}_v1", store.schema);
    let v1 = include_str!("../routilux/src/durable/migrations/postgres/0001_init.sql");
    store
        .with_client(|c| {
            c.batch_execute(&format!(
                "CREATE SCHEMA \"{old}\"; SET search_path TO \"{old}\";
                 CREATE TABLE routilux_schema_version (
                     version INTEGER PRIMARY KEY,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
                 {v1}
                 INSERT INTO routilux_schema_version (version) VALUES (1);
                 INSERT INTO routilux_runs (id, flow, fingerprint, plan, inputs, status)
                 VALUES ('old-run', 'Old', 'f', 'flow Old', '[]', 'running');
                 SET search_path TO \"{}\"",
                store.schema
            ))
        })
        .unwrap();
    let upgraded = PostgresStore::connect_in_schema(&url(), &old).unwrap();
    assert_eq!(upgraded.schema_version().unwrap(), 2);
    let lease =
        routilux::durable::Store::claim(&upgraded, "Old", "w", std::time::Duration::from_secs(60));
    let lease = lease.unwrap().expect("the old run is claimable");
    assert_eq!((lease.run.as_str(), lease.token), ("old-run", 1));
    drop(upgraded);
    let drop_old = format!("DROP SCHEMA \"{old}\" CASCADE");
    store.with_client(|c| c.batch_execute(&drop_old)).unwrap();
}

#[test]
fn unreachable_server_is_a_typed_error() {
    let error =
        PostgresStore::connect("host=127.0.0.1 port=1 user=postgres dbname=test connect_timeout=5")
            .err()
            .expect("nothing listens on port 1");
    assert!(
        matches!(error, routilux::durable::StoreError::Connect(_)),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Faults of the real database: the store's connection dropped (its server process
// terminated) or its session made read-only, right before a chosen store call of a run.

/// The steps of `Checkout`.
const STEPS: [&str; 4] = ["hold", "payment", "mail", "label"];

fn order(id: u32, fail: bool) -> Order {
    Order {
        id,
        amount: 40 + u64::from(id),
        fail_at: fail.then(|| "ship".to_owned()),
    }
}

/// An error with its sources, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    text
}

/// What a run broken by a fault left in the database (read on another connection).
struct Left {
    /// The steps with a stored checkpoint.
    stored: Vec<String>,
    /// How many times each step ran (in any call), by step.
    runs: Vec<usize>,
}

/// Starts a `Checkout` run of `order` on `faulted` with `fault` injected at `at`, and runs
/// it: it must end with a store error (the database's), leave the run unfinished in the
/// store, and have stored checkpoints only of steps that ran.
fn broken_run(
    store: &PostgresStore,
    faulted: &PostgresStore,
    at: At,
    fault: Fault,
    order: &Order,
) -> (RunId, Left) {
    let injected = Injected::new(faulted, at, fault);
    let runs = Checkout::durable(&injected);
    let id = runs.start(order).unwrap();
    let error = runs.resume(&id).unwrap_err();
    assert!(injected.fired(), "the run never reached {at:?}");
    assert!(
        matches!(error, DurableError::Store(StoreError::Database(_))),
        "{at:?}, {fault:?}: {}",
        chain(&error)
    );
    if fault == Fault::ReadOnly {
        assert!(
            chain(&error).contains("read-only transaction"),
            "{}",
            chain(&error)
        );
    }

    let left = store.load_run(&id).unwrap().expect("the run is stored");
    assert_eq!(left.status, RunStatus::Running, "{at:?}, {fault:?}");
    assert_eq!(
        left.completion, None,
        "{at:?}, {fault:?}: no completion record"
    );
    assert!(
        left.undone.is_empty(),
        "{at:?}, {fault:?}: nothing was undone"
    );
    let stored: Vec<String> = left.checkpoints.iter().map(|c| c.step.clone()).collect();
    if let At::Checkpoint(step) = at {
        assert!(
            !stored.iter().any(|s| s == step),
            "{step}'s checkpoint failed"
        );
    }
    let ran: Vec<usize> = STEPS.iter().map(|s| count(&id, s, "run")).collect();
    for (step, &n) in STEPS.iter().zip(&ran) {
        if stored.iter().any(|s| s == step) {
            assert_eq!(n, 1, "`{step}` has a checkpoint: it ran, once");
        }
        assert_eq!(count(&id, step, "undo"), 0, "`{step}` was undone");
    }
    (id, Left { stored, runs: ran })
}

/// After the run was resumed: a step with a stored checkpoint did not run again; every
/// other step ran once more.
fn assert_resumed_from_checkpoints(id: &RunId, left: &Left) {
    for (step, before) in STEPS.iter().zip(&left.runs) {
        let again = usize::from(!left.stored.iter().any(|s| s == step));
        assert_eq!(
            count(id, step, "run"),
            before + again,
            "runs of `{step}` (stored before the resume: {:?})",
            left.stored
        );
    }
}

/// The store's connection drops in the middle of a run (its server process is terminated
/// before the checkpoint of `payment`): the run ends with the store's error, the store does
/// not reconnect (its next call fails at once), and a store on a new connection resumes the
/// run from its checkpoints.
#[test]
fn dropped_connection_mid_run_then_resumed_on_a_new_connection() {
    let store = postgres();
    let first = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    let (id, left) = broken_run(
        &store,
        &first,
        At::Checkpoint("payment"),
        Fault::Terminate,
        &order(1, false),
    );
    assert!(left.stored.iter().any(|s| s == "hold"), "{:?}", left.stored);
    assert_eq!(left.runs[1], 1, "`payment` ran; its checkpoint was lost");
    assert_eq!(left.runs[3], 0, "`label` needs `payment`'s result");
    let after = first.load_run(&id);
    assert!(matches!(after, Err(StoreError::Database(_))), "{after:?}");

    let second = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    let (payment, label) = Checkout::durable(&second).resume(&id).unwrap();
    assert_eq!(payment.key, format!("{id}/payment"));
    assert_eq!(label, "label 1 (41)");
    assert_resumed_from_checkpoints(&id, &left);
    assert_eq!(
        Checkout::durable(&*store).status(&id).unwrap(),
        RunStatus::Succeeded
    );
}

/// The connection drops right before the completion record: every step's checkpoint is
/// stored, the run is not complete; resumed, no step runs again.
#[test]
fn dropped_connection_at_the_completion_record() {
    let store = postgres();
    let first = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    let (id, left) = broken_run(
        &store,
        &first,
        At::Complete,
        Fault::Terminate,
        &order(2, false),
    );
    assert_eq!(left.stored.len(), STEPS.len(), "{:?}", left.stored);
    let second = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    let (_, label) = Checkout::durable(&second).resume(&id).unwrap();
    assert_eq!(label, "label 2 (42)");
    assert_resumed_from_checkpoints(&id, &left);
    assert_eq!(left.runs, [1, 1, 1, 1]);
}

/// A failing run whose connection drops before it is marked failing: nothing was undone
/// and the failure is not stored; resumed on a new connection, the failing step runs again,
/// fails, and the completed steps are undone once each.
#[test]
fn dropped_connection_before_the_undo() {
    let store = postgres();
    let first = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    let (id, left) = broken_run(
        &store,
        &first,
        At::MarkFailing,
        Fault::Terminate,
        &order(3, true),
    );
    assert_eq!(left.stored.len(), 3, "all but `label`: {:?}", left.stored);
    let second = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    let error = Checkout::durable(&second).resume(&id).unwrap_err();
    assert!(matches!(error, DurableError::Flow(_)), "{}", chain(&error));
    assert_resumed_from_checkpoints(&id, &left);
    for step in ["hold", "payment"] {
        assert_eq!(count(&id, step, "undo"), 1, "undos of `{step}`");
    }
    let run = store.load_run(&id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
}

/// The store's session turns read-only: a write fails with the database's error (never
/// taken for "already stored"), nothing is recorded as done; once writable again, the same
/// store (the same connection, its statements still prepared) resumes the run.
#[test]
fn read_only_session_fails_writes_loudly() {
    let store = postgres();
    let first = PostgresStore::connect_in_schema(&url(), &store.schema).unwrap();
    let writable = || {
        first
            .with_client(|c| c.batch_execute("SET default_transaction_read_only = off"))
            .unwrap();
    };

    first
        .with_client(|c| c.batch_execute("SET default_transaction_read_only = on"))
        .unwrap();
    let error = Checkout::durable(&first)
        .start(&order(4, false))
        .unwrap_err();
    assert!(
        matches!(error, DurableError::Store(StoreError::Database(_))),
        "{}",
        chain(&error)
    );
    assert!(
        chain(&error).contains("read-only transaction"),
        "{}",
        chain(&error)
    );
    assert!(Checkout::durable(&*store).unfinished().unwrap().is_empty());
    writable();

    for (n, at) in [(5, At::Checkpoint("payment")), (6, At::Complete)] {
        let (id, left) = broken_run(&store, &first, at, Fault::ReadOnly, &order(n, false));
        if at == At::Complete {
            assert_eq!(left.stored.len(), STEPS.len(), "{:?}", left.stored);
        }
        writable();
        let (_, label) = Checkout::durable(&first).resume(&id).unwrap();
        assert_eq!(label, format!("label {n} ({})", 40 + n));
        assert_resumed_from_checkpoints(&id, &left);
    }
}
