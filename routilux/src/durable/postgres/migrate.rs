//! The schema's migrations on PostgreSQL, applied when a
//! [`PostgresStore`](super::PostgresStore) opens.

use postgres::{Client, Transaction};

use super::db;
use crate::durable::error::StoreError;

/// The schema's migrations, in order: `(version, SQL)`.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_leases.sql")),
];

/// Serializes migrations between processes opening the same database at once.
const MIGRATION_LOCK: i64 = 0x726f_7574_696c_7578; // "routilux"

/// The schema version of the database.
pub(super) fn version(tx: &mut Transaction<'_>) -> Result<u32, postgres::Error> {
    let row = tx.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM routilux_schema_version",
        &[],
    )?;
    Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or(0))
}

/// Applies the migrations the database lacks, in one transaction, under an advisory lock.
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    let failed = |version: u32| {
        move |e: postgres::Error| StoreError::Migration {
            version,
            source: e.into(),
        }
    };
    let mut tx = client
        .transaction()
        .map_err(|e| StoreError::Connect(e.into()))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(failed(0))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS routilux_schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .map_err(failed(0))?;
    let found = version(&mut tx).map_err(db)?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for &(number, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        tx.batch_execute(sql).map_err(failed(number))?;
        let number_i32 = i32::try_from(number).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO routilux_schema_version (version) VALUES ($1)",
            &[&number_i32],
        )
        .map_err(failed(number))?;
    }
    tx.commit().map_err(db)
}
