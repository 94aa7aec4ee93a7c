//! Durable runs on SQLite files (in the system's temporary directory): the store conformance
//! suite (`durable_support/conformance.rs`).

#[path = "durable_support/mod.rs"]
mod durable_support;

use durable_support::Faulty;
use durable_support::flows::{Checkout, Order};
use routilux::durable::{RunId, RunStatus, SqliteStore};

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

#[test]
fn run_does_not_read_back_the_run_it_just_recorded() {
    let store = sqlite();
    let counting = Faulty::new(&*store, "");
    let order = Order {
        id: 3,
        amount: 30,
        fail_at: None,
    };
    let runs = Checkout::durable(&counting);
    let (payment, label) = runs.run(order.clone()).unwrap();
    assert_eq!((payment.amount, label.as_str()), (30, "label 3 (30)"));
    assert_eq!(counting.loads(), 0);
    // What it stored is what `start` + `resume` store: the run reads back as finished.
    let id = RunId::from(payment.key.split_once('/').unwrap().0.to_owned());
    assert_eq!(runs.status(&id).unwrap(), RunStatus::Succeeded);
    assert_eq!(runs.output(&id).unwrap().unwrap().1, label);
    // A failing run undoes and records its failure the same way.
    let failing = Order {
        fail_at: Some("ship".to_owned()),
        ..order
    };
    let before = counting.loads();
    assert!(runs.run(failing).is_err());
    assert_eq!(counting.loads(), before);
}
