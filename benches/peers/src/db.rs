//! The server the three libraries share: its URL, its durability settings, and the bare
//! commit every figure is compared with.

use std::time::{Duration, Instant};

use routilux::durable::{PostgresStore, RunId};

/// `DATABASE_URL`, or the local server of the development and CI machines.
pub fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A routilux store in a schema of its own, dropped with it.
pub struct Schema {
    pub store: PostgresStore,
    pub name: String,
}

impl Schema {
    pub fn new(tag: &str) -> Self {
        let name = format!("peers_{tag}_{}", RunId::new());
        let url = url();
        let store = PostgresStore::connect_in_schema(&url, &name).unwrap_or_else(|e| {
            panic!("this bench needs a PostgreSQL server; `{url}` (set DATABASE_URL): {e}")
        });
        Schema { store, name }
    }

    /// Another connection to the same schema (one per worker thread).
    pub fn connect(&self) -> PostgresStore {
        PostgresStore::connect_in_schema(&url(), &self.name).expect("a second connection")
    }

    pub fn exec(&self, sql: &str) {
        self.store
            .with_client(|c| c.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn show(&self, setting: &str) -> String {
        self.store
            .with_client(|c| c.query_one(&format!("SHOW {setting}"), &[]))
            .expect("SHOW")
            .get(0)
    }

    /// The mean of `n` bare commits (`BEGIN; INSERT; COMMIT`, one round trip).
    pub fn bare_commit(&self, n: usize) -> Duration {
        self.exec("CREATE TABLE IF NOT EXISTS bare (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)");
        let once = || self.exec("BEGIN; INSERT INTO bare (v) VALUES (1); COMMIT");
        for _ in 0..n / 4 {
            once();
        }
        let start = Instant::now();
        for _ in 0..n {
            once();
        }
        start.elapsed() / u32::try_from(n).expect("a small count")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let _ = self.store.with_client(|c| c.batch_execute(&sql));
    }
}
