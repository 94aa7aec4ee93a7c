//! The leases of [`PostgresStore`](super::PostgresStore): claims with `FOR UPDATE SKIP
//! LOCKED`, so that workers claiming at once each get another run without waiting for each
//! other; every time is the server's (`now()`), so the workers' clocks do not matter.

use std::time::Duration;

use super::conn::Conn;
use super::db;
use crate::durable::error::StoreError;
use crate::durable::id::RunId;
use crate::durable::store::Lease;

const CLAIM: &str = "UPDATE routilux_runs
     SET lease_owner = $2, lease_until = now() + make_interval(secs => $3),
         claims = claims + 1, updated_at = now()
     WHERE seq = (
         SELECT seq FROM routilux_runs
         WHERE flow = $1 AND status IN ('running', 'failing')
           AND (lease_until IS NULL OR lease_until <= now())
         ORDER BY seq LIMIT 1
         FOR UPDATE SKIP LOCKED)
     RETURNING id, claims";
const RENEW: &str = "UPDATE routilux_runs SET lease_until = now() + make_interval(secs => $4)
     WHERE id = $1 AND lease_owner = $2 AND claims = $3
       AND status IN ('running', 'failing')";
const RELEASE: &str = "UPDATE routilux_runs SET lease_owner = NULL, lease_until = NULL
     WHERE id = $1 AND lease_owner = $2 AND claims = $3";

/// Claims the oldest claimable run of `flow` for `worker`.
pub(super) fn claim(
    conn: &mut Conn,
    flow: &str,
    worker: &str,
    lease: Duration,
) -> Result<Option<Lease>, StoreError> {
    let claim = conn.prepare(CLAIM).map_err(db)?;
    let row = conn
        .client
        .query_opt(&claim, &[&flow, &worker, &lease.as_secs_f64()])
        .map_err(db)?;
    Ok(row.map(|r| Lease {
        run: RunId::from(r.get::<_, String>(0)),
        worker: worker.to_owned(),
        token: r.get(1),
    }))
}

/// Extends `lease` if it is still held.
pub(super) fn renew(
    conn: &mut Conn,
    lease: &Lease,
    duration: Duration,
) -> Result<bool, StoreError> {
    let renew = conn.prepare(RENEW).map_err(db)?;
    let changed = conn
        .client
        .execute(
            &renew,
            &[
                &lease.run.as_str(),
                &lease.worker,
                &lease.token,
                &duration.as_secs_f64(),
            ],
        )
        .map_err(db)?;
    Ok(changed == 1)
}

/// Ends `lease` if it is still held.
pub(super) fn release(conn: &mut Conn, lease: &Lease) -> Result<(), StoreError> {
    let release = conn.prepare(RELEASE).map_err(db)?;
    conn.client
        .execute(
            &release,
            &[&lease.run.as_str(), &lease.worker, &lease.token],
        )
        .map_err(db)?;
    Ok(())
}
