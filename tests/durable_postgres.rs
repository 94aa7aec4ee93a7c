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
