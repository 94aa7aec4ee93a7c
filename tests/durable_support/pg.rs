//! What the PostgreSQL suites share (`durable_postgres`, `durable_workers`): the server's
//! address, a store in a schema of its own (dropped with it), and faults of the real database
//! injected into a store's connection at chosen moments (`Injected`).

use routilux::durable::{
    Checkpoint, Completion, NewRun, PostgresStore, RunId, Store, StoreError, StoredRun,
};

/// `DATABASE_URL`, or `postgres` on 127.0.0.1:5432, database `test`.
pub fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A store in a new schema, dropped with it.
pub struct SchemaStore {
    pub store: PostgresStore,
    pub schema: String,
}

impl std::ops::Deref for SchemaStore {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

impl Drop for SchemaStore {
    fn drop(&mut self) {
        let drop_schema = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let dropped = self
            .store
            .with_client(|client| client.batch_execute(&drop_schema));
        if dropped.is_err() {
            // The store's connection may be gone (a test terminated it): use another.
            if let Ok(other) = PostgresStore::connect_in_schema(&url(), &self.schema) {
                let _ = other.with_client(|client| client.batch_execute(&drop_schema));
            }
        }
    }
}

/// A store in a new schema; panics (saying that the suite needs a server) without one.
pub fn postgres() -> SchemaStore {
    let schema = format!("routilux_test_{}", RunId::new());
    let url = url();
    match PostgresStore::connect_in_schema(&url, &schema) {
        Ok(store) => SchemaStore { store, schema },
        Err(error) => panic!(
            "the PostgreSQL suite needs a server and could not use `{url}` (set DATABASE_URL): {error}"
        ),
    }
}

/// Where [`Injected`] breaks the store's connection: before the store call that matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The checkpoint of this step.
    Checkpoint(&'static str),
    /// `mark_failing` (before the first undo of a failing run).
    MarkFailing,
    /// `complete` (the completion record).
    Complete,
}

/// What [`Injected`] does to the store's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Terminates its server process (`pg_terminate_backend`, from another connection, and
    /// waits until it is gone): the connection drops.
    Terminate,
    /// Makes its session's transactions read-only (`SET default_transaction_read_only`).
    ReadOnly,
}

/// A `Store` that passes every call to a real [`PostgresStore`], and once, right before the
/// call `at`, breaks that store's connection with `fault` (a fault of the real database,
/// injected at a chosen moment; the call then meets it).
pub struct Injected<'s> {
    pub store: &'s PostgresStore,
    pub at: At,
    pub fault: Fault,
    fired: std::sync::atomic::AtomicBool,
}

impl<'s> Injected<'s> {
    pub fn new(store: &'s PostgresStore, at: At, fault: Fault) -> Self {
        Injected {
            store,
            at,
            fault,
            fired: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the fault was injected.
    pub fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn before(&self, here: At) {
        if here != self.at || self.fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        match self.fault {
            Fault::Terminate => terminate(self.store),
            Fault::ReadOnly => self
                .store
                .with_client(|c| c.batch_execute("SET default_transaction_read_only = on"))
                .expect("make the session read-only"),
        }
    }
}

/// The server process of `store`'s connection.
pub fn backend_pid(store: &PostgresStore) -> i32 {
    store
        .with_client(|c| c.query_one("SELECT pg_backend_pid()", &[]))
        .expect("read the backend's pid")
        .get(0)
}

/// Terminates the server process of `store`'s connection from a connection of its own, and
/// waits (up to 10 s, on the server) until it has exited.
pub fn terminate(store: &PostgresStore) {
    let pid = backend_pid(store);
    let schema: String = store
        .with_client(|c| c.query_one("SELECT current_schema()", &[]))
        .expect("read the store's schema")
        .get(0);
    let killer = PostgresStore::connect_in_schema(&url(), &schema).expect("a second connection");
    let gone: bool = killer
        .with_client(|c| c.query_one("SELECT pg_terminate_backend($1, 10000)", &[&pid]))
        .expect("terminate the store's backend")
        .get(0);
    assert!(gone, "backend {pid} was not terminated");
}

impl Store for Injected<'_> {
    fn create_run(&self, run: &NewRun<'_>) -> Result<(), StoreError> {
        self.store.create_run(run)
    }
    fn load_run(&self, id: &RunId) -> Result<Option<StoredRun>, StoreError> {
        self.store.load_run(id)
    }
    fn save_checkpoint(&self, id: &RunId, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        if let At::Checkpoint(step) = self.at
            && step == checkpoint.step
        {
            self.before(self.at);
        }
        self.store.save_checkpoint(id, checkpoint)
    }
    fn mark_failing(&self, id: &RunId, failure: &str) -> Result<(), StoreError> {
        self.before(At::MarkFailing);
        self.store.mark_failing(id, failure)
    }
    fn halt(&self, id: &RunId, step: &str, reason: &str) -> Result<(), StoreError> {
        self.store.halt(id, step, reason)
    }
    fn unhalt(&self, id: &RunId) -> Result<bool, StoreError> {
        self.store.unhalt(id)
    }
    fn record_undo(&self, id: &RunId, step: &str) -> Result<(), StoreError> {
        self.store.record_undo(id, step)
    }
    fn complete(&self, id: &RunId, completion: &Completion) -> Result<bool, StoreError> {
        self.before(At::Complete);
        self.store.complete(id, completion)
    }
    fn unfinished(&self, flow: &str) -> Result<Vec<RunId>, StoreError> {
        self.store.unfinished(flow)
    }
}
