//! The leases of [`SqliteStore`](super::SqliteStore). SQLite has one writer at a time, so a
//! claim (one `UPDATE ... RETURNING` statement) needs no row locks; times are milliseconds
//! since the Unix epoch by this machine's clock (an SQLite file lives on one machine).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::durable::error::StoreError;
use crate::durable::id::RunId;
use crate::durable::store::Lease;

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// `duration` from now, in milliseconds since the Unix epoch.
fn until(duration: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

/// Claims the oldest claimable run of `flow` for `worker`.
pub(super) fn claim(
    conn: &Connection,
    flow: &str,
    worker: &str,
    lease: Duration,
) -> Result<Option<Lease>, StoreError> {
    conn.query_row(
        "UPDATE routilux_runs
         SET lease_owner = ?2, lease_until = ?4, claims = claims + 1,
             updated_at = CURRENT_TIMESTAMP
         WHERE seq = (
             SELECT seq FROM routilux_runs
             WHERE flow = ?1 AND status IN ('running', 'failing')
               AND (lease_until IS NULL OR lease_until <= ?3)
             ORDER BY seq LIMIT 1)
         RETURNING id, claims",
        params![flow, worker, now_ms(), until(lease)],
        |r| {
            Ok(Lease {
                run: RunId::from(r.get::<_, String>(0)?),
                worker: worker.to_owned(),
                token: r.get(1)?,
            })
        },
    )
    .optional()
    .map_err(db)
}

/// Extends `lease` if it is still held.
pub(super) fn renew(
    conn: &Connection,
    lease: &Lease,
    duration: Duration,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE routilux_runs SET lease_until = ?4
             WHERE id = ?1 AND lease_owner = ?2 AND claims = ?3
               AND status IN ('running', 'failing')",
            params![
                lease.run.as_str(),
                lease.worker,
                lease.token,
                until(duration)
            ],
        )
        .map_err(db)?;
    Ok(changed == 1)
}

/// Ends `lease` if it is still held.
pub(super) fn release(conn: &Connection, lease: &Lease) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE routilux_runs SET lease_owner = NULL, lease_until = NULL
         WHERE id = ?1 AND lease_owner = ?2 AND claims = ?3",
        params![lease.run.as_str(), lease.worker, lease.token],
    )
    .map_err(db)?;
    Ok(())
}
