//! Durable runs on PostgreSQL: the store conformance suite, each test in a schema of its own
//! (dropped at the end). Needs a server: `DATABASE_URL`, or `postgres` on 127.0.0.1:5432,
//! database `test`. Without one, every test fails saying so (it never skips).
//!
//! `cargo test -p routilux-suite --features postgres --test durable_postgres`

#[path = "durable_support/mod.rs"]
mod durable_support;

use routilux::durable::{PostgresStore, RunId};

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A store in a new schema, dropped with it.
struct SchemaStore {
    store: PostgresStore,
    schema: String,
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
        let _ = self
            .store
            .with_client(|client| client.batch_execute(&drop_schema));
    }
}

fn postgres() -> SchemaStore {
    let schema = format!("routilux_test_{}", RunId::new());
    let url = url();
    match PostgresStore::connect_in_schema(&url, &schema) {
        Ok(store) => SchemaStore { store, schema },
        Err(error) => panic!(
            "the PostgreSQL suite needs a server and could not use `{url}` (set DATABASE_URL): {error}"
        ),
    }
}

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
