//! The connection of a [`PostgresStore`](super::PostgresStore) and the statements prepared on
//! it: each of the store's statements is prepared once per connection (a named statement on
//! the server) and then runs in one round trip, where the client would otherwise prepare a
//! statement handed as text on every call (a second round trip).

use std::collections::HashMap;

use postgres::{Client, Statement};

/// A connection and its prepared statements, by their SQL.
pub(super) struct Conn {
    /// The connection.
    pub(super) client: Client,
    /// The statements prepared on `client`. A prepared statement lives as long as the
    /// connection (it is not undone by a rolled-back transaction), so the map is never
    /// cleared while `client` lives.
    prepared: HashMap<&'static str, Statement>,
}

impl Conn {
    pub(super) fn new(client: Client) -> Self {
        Conn {
            client,
            prepared: HashMap::new(),
        }
    }

    /// Statement `sql`, prepared on this connection the first time it is asked for (the server
    /// infers its parameters' types, as for a statement handed as text).
    pub(super) fn prepare(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }
}
