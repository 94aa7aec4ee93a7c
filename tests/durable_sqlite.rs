//! Durable runs on SQLite files (in the system's temporary directory): the store conformance
//! suite (`durable_support/conformance.rs`).

#[path = "durable_support/mod.rs"]
mod durable_support;

use routilux::durable::{RunId, SqliteStore};

/// A store in a new SQLite file, removed when dropped.
struct TempStore {
    store: Option<SqliteStore>,
    path: std::path::PathBuf,
}

impl std::ops::Deref for TempStore {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        self.store.as_ref().expect("open until dropped")
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        drop(self.store.take());
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

fn sqlite() -> TempStore {
    let path = std::env::temp_dir().join(format!("routilux-test-{}.db", RunId::new()));
    let store = SqliteStore::open(&path).expect("open a SQLite file in the temp dir");
    TempStore {
        store: Some(store),
        path,
    }
}

conformance_suite!(sqlite());

#[test]
fn schema_is_migrated_once() {
    let store = sqlite();
    assert_eq!(store.schema_version().unwrap(), 2);
    // Opening again finds the schema up to date.
    let again = SqliteStore::open(&store.path).unwrap();
    assert_eq!(again.schema_version().unwrap(), 2);
}

#[test]
fn open_fails_with_a_typed_error() {
    let dir = std::env::temp_dir().join(format!("routilux-no-such-dir-{}", RunId::new()));
    let error = SqliteStore::open(dir.join("x.db"))
        .err()
        .expect("a missing directory");
    assert!(
        matches!(error, routilux::durable::StoreError::Connect(_)),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot open the durable store"),
        "{error}"
    );
}
