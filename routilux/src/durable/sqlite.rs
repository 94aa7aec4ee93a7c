//! [`SqliteStore`]: durable runs in an SQLite file (embedded; one machine, any number of
//! processes taking turns).

mod lease;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::error::StoreError;
use super::id::RunId;
use super::rows::{completion_from, completion_row, halted};
use super::store::{Checkpoint, Completion, Lease, NewRun, RunStatus, Store, StoredRun};

/// The schema's migrations, in order: `(version, SQL)`.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/sqlite/0001_init.sql")),
    (2, include_str!("migrations/sqlite/0002_leases.sql")),
];

/// Durable runs in an SQLite file (feature `sqlite`).
///
/// Opening applies the schema's migrations (see [the schema](super#the-schema)). The file is
/// in WAL mode with `synchronous = FULL`: a commit survives a crash of the process and of the
/// machine. Several processes may open the same file; their writes take turns (each waits up
/// to 30 s for the others' locks).
///
/// ```
/// # fn main() -> Result<(), routilux::durable::StoreError> {
/// use routilux::durable::{SqliteStore, Store, RunId};
///
/// let path = std::env::temp_dir().join(format!("routilux-doc-{}.db", RunId::new()));
/// let store = SqliteStore::open(&path)?;
/// assert_eq!(store.unfinished("Checkout")?, []);
/// # drop(store); let _ = std::fs::remove_file(&path);
/// # Ok(())
/// # }
/// ```
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn db(error: rusqlite::Error) -> StoreError {
    StoreError::database(error)
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Connect`], [`StoreError::Migration`], [`StoreError::SchemaTooNew`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::Connect(e.into()))?;
        Self::with_connection(conn)
    }

    /// A store in a new in-memory database (for tests: it is gone when the store is dropped).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Connect(e.into()))?;
        Self::with_connection(conn)
    }

    fn with_connection(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| StoreError::Connect(e.into()))?;
        // `journal_mode` answers with the mode (an in-memory database stays `memory`).
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(|e| StoreError::Connect(e.into()))?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(|e| StoreError::Connect(e.into()))?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held left no transaction open (rusqlite rolls back on
        // drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The schema version of the database.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        version(&self.conn()).map_err(db)
    }
}

impl SqliteStore {
    /// Writes the completion record (naming the worker of `lease`, whose lease ends).
    fn complete_as(
        &self,
        id: &RunId,
        completion: &Completion,
        lease: Option<&Lease>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let (succeeded, output, step, message, undo, status) = completion_row(completion);
        let worker = lease.map(|l| l.worker.as_str());
        let inserted = tx
            .execute(
                "INSERT INTO routilux_completions
                 (run_id, succeeded, output, failed_step, message, undo_errors, worker)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (run_id) DO NOTHING",
                params![id.as_str(), succeeded, output, step, message, undo, worker],
            )
            .map_err(db)?;
        if inserted == 1 {
            tx.execute(
                "UPDATE routilux_runs SET status = ?2, lease_owner = NULL, lease_until = NULL,
                 updated_at = CURRENT_TIMESTAMP WHERE id = ?1",
                params![id.as_str(), status.as_str()],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(inserted == 1)
    }
}

fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM routilux_schema_version",
        [],
        |row| row.get(0),
    )
}

/// Applies the migrations the database lacks, in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::Connect(e.into()))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS routilux_schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
         )",
    )
    .map_err(|e| StoreError::Migration {
        version: 0,
        source: e.into(),
    })?;
    let found = version(&tx).map_err(db)?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for &(number, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        tx.execute_batch(sql)
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO routilux_schema_version (version) VALUES (?1)",
                    [number],
                )
            })
            .map_err(|e| StoreError::Migration {
                version: number,
                source: e.into(),
            })?;
    }
    tx.commit().map_err(db)
}

impl Store for SqliteStore {
    fn create_run(&self, run: &NewRun<'_>) -> Result<(), StoreError> {
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO routilux_runs (id, flow, fingerprint, plan, inputs, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'running') ON CONFLICT (id) DO NOTHING",
                params![
                    run.id.as_str(),
                    run.flow,
                    run.fingerprint,
                    run.plan,
                    run.inputs
                ],
            )
            .map_err(db)?;
        if inserted == 0 {
            return Err(StoreError::Duplicate(run.id.clone()));
        }
        Ok(())
    }

    fn load_run(&self, id: &RunId) -> Result<Option<StoredRun>, StoreError> {
        let mut conn = self.conn();
        // One read transaction: a consistent view of the run.
        let tx = conn.transaction().map_err(db)?;
        let row = tx
            .query_row(
                "SELECT flow, fingerprint, plan, inputs, status, failure, halted_step, halt_reason
                 FROM routilux_runs WHERE id = ?1",
                [id.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                    ))
                },
            )
            .optional()
            .map_err(db)?;
        let Some((flow, fingerprint, plan, inputs, status, failure, halted_step, halt_reason)) =
            row
        else {
            return Ok(None);
        };
        let checkpoints = tx
            .prepare(
                "SELECT step, value, compensated FROM routilux_checkpoints
                 WHERE run_id = ?1 ORDER BY seq",
            )
            .and_then(|mut s| {
                s.query_map([id.as_str()], |r| {
                    Ok(Checkpoint {
                        step: r.get(0)?,
                        value: r.get(1)?,
                        compensated: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db)?;
        let undone = tx
            .prepare("SELECT step FROM routilux_undos WHERE run_id = ?1 ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([id.as_str()], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(db)?;
        let completion = tx
            .query_row(
                "SELECT succeeded, output, failed_step, message, undo_errors
                 FROM routilux_completions WHERE run_id = ?1",
                [id.as_str()],
                |r| {
                    Ok((
                        r.get::<_, bool>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(db)?;
        tx.finish().map_err(db)?;
        let completion = completion
            .map(|(ok, output, step, message, undo)| {
                completion_from(ok, output, step, message, &undo)
            })
            .transpose()?;
        Ok(Some(StoredRun {
            id: id.clone(),
            flow,
            fingerprint,
            plan,
            inputs,
            status: RunStatus::parse(&status)?,
            failure,
            halted: halted(halted_step, halt_reason),
            checkpoints,
            undone,
            completion,
        }))
    }

    fn save_checkpoint(&self, id: &RunId, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO routilux_checkpoints (run_id, step, value, compensated)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (run_id, step) DO NOTHING",
                params![
                    id.as_str(),
                    checkpoint.step,
                    checkpoint.value,
                    checkpoint.compensated
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::NoRun(id.clone()),
                _ => db(e),
            })?;
        Ok(inserted == 1)
    }

    fn mark_failing(&self, id: &RunId, failure: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE routilux_runs SET status = 'failing', failure = ?2,
                 updated_at = CURRENT_TIMESTAMP WHERE id = ?1 AND status = 'running'",
                params![id.as_str(), failure],
            )
            .map_err(db)?;
        Ok(())
    }

    fn halt(&self, id: &RunId, step: &str, reason: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE routilux_runs SET status = 'halted', halted_step = ?2, halt_reason = ?3,
                 updated_at = CURRENT_TIMESTAMP WHERE id = ?1 AND status = 'running'",
                params![id.as_str(), step, reason],
            )
            .map_err(db)?;
        Ok(())
    }

    fn unhalt(&self, id: &RunId) -> Result<bool, StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE routilux_runs SET status = 'running', halted_step = NULL,
                 halt_reason = NULL, updated_at = CURRENT_TIMESTAMP
                 WHERE id = ?1 AND status = 'halted'",
                [id.as_str()],
            )
            .map_err(db)?;
        Ok(changed == 1)
    }

    fn record_undo(&self, id: &RunId, step: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO routilux_undos (run_id, step) VALUES (?1, ?2)
                 ON CONFLICT (run_id, step) DO NOTHING",
                params![id.as_str(), step],
            )
            .map_err(db)?;
        Ok(())
    }

    fn complete(&self, id: &RunId, completion: &Completion) -> Result<bool, StoreError> {
        self.complete_as(id, completion, None)
    }

    fn unfinished(&self, flow: &str) -> Result<Vec<RunId>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT id FROM routilux_runs
                 WHERE flow = ?1 AND status IN ('running', 'failing') ORDER BY seq",
            )
            .map_err(db)?;
        statement
            .query_map([flow], |r| r.get::<_, String>(0).map(RunId::from))
            .and_then(Iterator::collect)
            .map_err(db)
    }

    fn claim(
        &self,
        flow: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        lease::claim(&self.conn(), flow, worker, lease)
    }

    fn renew(&self, lease: &Lease, duration: Duration) -> Result<bool, StoreError> {
        lease::renew(&self.conn(), lease, duration)
    }

    fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        lease::release(&self.conn(), lease)
    }

    fn complete_leased(&self, lease: &Lease, completion: &Completion) -> Result<bool, StoreError> {
        self.complete_as(&lease.run, completion, Some(lease))
    }
}
