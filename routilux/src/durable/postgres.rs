//! [`PostgresStore`]: durable runs in a PostgreSQL database, shared by processes on any number
//! of machines.

mod conn;
mod lease;
mod migrate;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::{Client, NoTls};

use conn::Conn;
use migrate::{migrate, version};

use super::error::StoreError;
use super::id::RunId;
use super::rows::{completion_from, completion_row, halted};
use super::store::{Checkpoint, Completion, Lease, NewRun, RunStatus, Store, StoredRun};

/// Durable runs in PostgreSQL (feature `postgres`), through the synchronous `postgres` client
/// (one connection, shared by the run's threads).
///
/// Opening applies the schema's migrations (see [the schema](super#the-schema)) in the
/// connection's `search_path` schema (usually `public`);
/// [`connect_in_schema`](Self::connect_in_schema) uses a schema of its own. Commits follow the
/// server's `synchronous_commit`.
///
/// ```no_run
/// # fn main() -> Result<(), routilux::durable::StoreError> {
/// use routilux::durable::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1/test")?;
/// # Ok(())
/// # }
/// ```
pub struct PostgresStore {
    conn: Mutex<Conn>,
}

fn db(error: postgres::Error) -> StoreError {
    StoreError::database(error)
}

const CREATE_RUN: &str = "INSERT INTO routilux_runs (id, flow, fingerprint, plan, inputs, status)
     VALUES ($1, $2, $3, $4, $5, 'running') ON CONFLICT (id) DO NOTHING";
const LOAD_RUN: &str =
    "SELECT flow, fingerprint, plan, inputs, status, failure, halted_step, halt_reason
     FROM routilux_runs WHERE id = $1";
const LOAD_CHECKPOINTS: &str = "SELECT step, value, compensated FROM routilux_checkpoints
     WHERE run_id = $1 ORDER BY seq";
const LOAD_UNDOS: &str = "SELECT step FROM routilux_undos WHERE run_id = $1 ORDER BY seq";
const LOAD_COMPLETION: &str = "SELECT succeeded, output, failed_step, message, undo_errors
     FROM routilux_completions WHERE run_id = $1";
const SAVE_CHECKPOINT: &str = "INSERT INTO routilux_checkpoints (run_id, step, value, compensated)
     VALUES ($1, $2, $3, $4) ON CONFLICT (run_id, step) DO NOTHING";
const MARK_FAILING: &str =
    "UPDATE routilux_runs SET status = 'failing', failure = $2, updated_at = now()
     WHERE id = $1 AND status = 'running'";
const HALT: &str = "UPDATE routilux_runs SET status = 'halted', halted_step = $2, halt_reason = $3,
     updated_at = now() WHERE id = $1 AND status = 'running'";
const UNHALT: &str = "UPDATE routilux_runs SET status = 'running', halted_step = NULL,
     halt_reason = NULL, updated_at = now() WHERE id = $1 AND status = 'halted'";
const RECORD_UNDO: &str = "INSERT INTO routilux_undos (run_id, step) VALUES ($1, $2)
     ON CONFLICT (run_id, step) DO NOTHING";
/// The completion record and the run's final status in one statement (one round trip, atomic
/// on its own): the run is updated only if the record was inserted, so the statement changes
/// one row exactly when this call wrote the record.
const COMPLETE: &str = "WITH done AS (
         INSERT INTO routilux_completions
         (run_id, succeeded, output, failed_step, message, undo_errors, worker)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id) DO NOTHING
         RETURNING run_id)
     UPDATE routilux_runs SET status = $8, lease_owner = NULL, lease_until = NULL,
         updated_at = now() WHERE id = (SELECT run_id FROM done)";
const UNFINISHED: &str = "SELECT id FROM routilux_runs
     WHERE flow = $1 AND status IN ('running', 'failing') ORDER BY seq";

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/database` or `host=... user=...`),
    /// without TLS, and brings the schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Connect`], [`StoreError::Migration`], [`StoreError::SchemaTooNew`].
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let client = Client::connect(url, NoTls).map_err(|e| StoreError::Connect(e.into()))?;
        Self::setup(client, None)
    }

    /// Connects as [`connect`](Self::connect) and keeps the tables in schema `schema`
    /// (created if missing; the connection's `search_path`).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let client = Client::connect(url, NoTls).map_err(|e| StoreError::Connect(e.into()))?;
        Self::setup(client, Some(schema))
    }

    fn setup(mut client: Client, schema: Option<&str>) -> Result<Self, StoreError> {
        if let Some(schema) = schema {
            let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {quoted}; SET search_path TO {quoted}"
                ))
                .map_err(|e| StoreError::Connect(e.into()))?;
        }
        migrate(&mut client)?;
        Ok(PostgresStore {
            conn: Mutex::new(Conn::new(client)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        // A panic while the lock was held left no transaction open (a dropped transaction
        // rolls back), so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `f` with the store's connection (between the store's own transactions), for
    /// queries of your own: reports over `routilux_runs`, or dropping a test's schema.
    ///
    /// The store keeps its statements prepared on this connection: leave them be
    /// (`DEALLOCATE` or `DISCARD` would make the store's next queries fail). They resolve
    /// table names by the `search_path` in effect when they were first prepared.
    pub fn with_client<R>(&self, f: impl FnOnce(&mut Client) -> R) -> R {
        f(&mut self.conn().client)
    }

    /// The schema version of the database.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.client.transaction().map_err(db)?;
        version(&mut tx).map_err(db)
    }
}

impl PostgresStore {
    /// Writes the completion record (naming the worker of `lease`, whose lease ends).
    fn complete_as(
        &self,
        id: &RunId,
        completion: &Completion,
        lease: Option<&Lease>,
    ) -> Result<bool, StoreError> {
        let (succeeded, output, step, message, undo, status) = completion_row(completion);
        let worker = lease.map(|l| l.worker.as_str());
        let written = self
            .execute(
                COMPLETE,
                &[
                    &id.as_str(),
                    &succeeded,
                    &output,
                    &step,
                    &message,
                    &undo,
                    &worker,
                    &status.as_str(),
                ],
            )
            .map_err(db)?;
        Ok(written == 1)
    }

    /// Runs statement `sql` (prepared once on the connection) with `params`, outside an
    /// explicit transaction: the rows it changed.
    fn execute(
        &self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let mut conn = self.conn();
        let statement = conn.prepare(sql)?;
        conn.client.execute(&statement, params)
    }
}

impl Store for PostgresStore {
    fn create_run(&self, run: &NewRun<'_>) -> Result<(), StoreError> {
        let inserted = self
            .execute(
                CREATE_RUN,
                &[
                    &run.id.as_str(),
                    &run.flow,
                    &run.fingerprint,
                    &run.plan,
                    &run.inputs,
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
        let [load_run, load_checkpoints, load_undos, load_completion] =
            [LOAD_RUN, LOAD_CHECKPOINTS, LOAD_UNDOS, LOAD_COMPLETION].map(|sql| conn.prepare(sql));
        let (load_run, load_checkpoints, load_undos, load_completion) = (
            load_run.map_err(db)?,
            load_checkpoints.map_err(db)?,
            load_undos.map_err(db)?,
            load_completion.map_err(db)?,
        );
        let mut tx = conn
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db)?;
        let key = id.as_str();
        let Some(run) = tx.query_opt(&load_run, &[&key]).map_err(db)? else {
            return Ok(None);
        };
        let checkpoints = tx
            .query(&load_checkpoints, &[&key])
            .map_err(db)?
            .iter()
            .map(|r| Checkpoint {
                step: r.get(0),
                value: r.get(1),
                compensated: r.get(2),
            })
            .collect();
        let undone = tx
            .query(&load_undos, &[&key])
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let completion = tx.query_opt(&load_completion, &[&key]).map_err(db)?;
        tx.commit().map_err(db)?;
        let completion = completion
            .map(|r| {
                let undo: String = r.get(4);
                completion_from(r.get(0), r.get(1), r.get(2), r.get(3), &undo)
            })
            .transpose()?;
        let status: String = run.get(4);
        Ok(Some(StoredRun {
            id: id.clone(),
            flow: run.get(0),
            fingerprint: run.get(1),
            plan: run.get(2),
            inputs: run.get(3),
            status: RunStatus::parse(&status)?,
            failure: run.get(5),
            halted: halted(run.get(6), run.get(7)),
            checkpoints,
            undone,
            completion,
        }))
    }

    fn save_checkpoint(&self, id: &RunId, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        let inserted = self
            .execute(
                SAVE_CHECKPOINT,
                &[
                    &id.as_str(),
                    &checkpoint.step,
                    &checkpoint.value,
                    &checkpoint.compensated,
                ],
            )
            .map_err(|e| {
                if e.code() == Some(&postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
                    StoreError::NoRun(id.clone())
                } else {
                    db(e)
                }
            })?;
        Ok(inserted == 1)
    }

    fn mark_failing(&self, id: &RunId, failure: &str) -> Result<(), StoreError> {
        self.execute(MARK_FAILING, &[&id.as_str(), &failure])
            .map_err(db)?;
        Ok(())
    }

    fn halt(&self, id: &RunId, step: &str, reason: &str) -> Result<(), StoreError> {
        self.execute(HALT, &[&id.as_str(), &step, &reason])
            .map_err(db)?;
        Ok(())
    }

    fn unhalt(&self, id: &RunId) -> Result<bool, StoreError> {
        let changed = self.execute(UNHALT, &[&id.as_str()]).map_err(db)?;
        Ok(changed == 1)
    }

    fn record_undo(&self, id: &RunId, step: &str) -> Result<(), StoreError> {
        self.execute(RECORD_UNDO, &[&id.as_str(), &step])
            .map_err(db)?;
        Ok(())
    }

    fn complete(&self, id: &RunId, completion: &Completion) -> Result<bool, StoreError> {
        self.complete_as(id, completion, None)
    }

    fn unfinished(&self, flow: &str) -> Result<Vec<RunId>, StoreError> {
        let mut conn = self.conn();
        let statement = conn.prepare(UNFINISHED).map_err(db)?;
        Ok(conn
            .client
            .query(&statement, &[&flow])
            .map_err(db)?
            .iter()
            .map(|r| RunId::from(r.get::<_, String>(0)))
            .collect())
    }

    fn claim(
        &self,
        flow: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        lease::claim(&mut self.conn(), flow, worker, lease)
    }

    fn renew(&self, lease: &Lease, duration: Duration) -> Result<bool, StoreError> {
        lease::renew(&mut self.conn(), lease, duration)
    }

    fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        lease::release(&mut self.conn(), lease)
    }

    fn complete_leased(&self, lease: &Lease, completion: &Completion) -> Result<bool, StoreError> {
        self.complete_as(&lease.run, completion, Some(lease))
    }
}
