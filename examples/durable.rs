//! A checkout that survives a crash: every completed step is stored in an `SQLite` file (or a
//! `PostgreSQL` database), so the next start of the program resumes the run where it stopped,
//! without charging the card twice.
//!
//! ```text
//! cargo run --example durable --features routilux-examples/durable -- --crash   # dies half-way
//! cargo run --example durable --features routilux-examples/durable              # resumes it
//! ```
//!
//! The database is `routilux-durable-example.db` in the system's temporary directory; with the
//! `postgres` feature (`--features routilux-examples/postgres`) and `DATABASE_URL` set, it is
//! that `PostgreSQL` database.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::error::Error;

use routilux::durable::{Durable, Store};
use routilux::{Context, flow, routine};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    id: u32,
    cents: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Payment {
    /// The idempotency key the card was charged with: a payment service that sees it twice
    /// charges once.
    key: String,
    cents: u64,
}

#[routine]
fn reserve(order: &Order) -> String {
    println!("  reserve: holding the items of order {}", order.id);
    format!("hold-{}", order.id)
}

#[routine(undo = refund)]
fn charge(order: &Order, ctx: &Context) -> Payment {
    let key = ctx.idempotency_key().unwrap_or_default();
    println!("  charge:  {} cents, idempotency key {key}", order.cents);
    Payment {
        key,
        cents: order.cents,
    }
}

fn refund(payment: &Payment) {
    println!("  refund:  {} cents ({})", payment.cents, payment.key);
}

#[routine]
fn ship(hold: &str, payment: &Payment) -> String {
    if std::env::args().any(|a| a == "--crash") {
        println!("  ship:    the process dies now (--crash); start it again to resume");
        std::process::abort();
    }
    println!("  ship:    sending {hold}");
    format!("label for {hold}, paid {} cents", payment.cents)
}

flow! {
    /// Reserve, charge, ship: a card charged once, even across crashes.
    #[durable]
    flow Checkout {
        input order: Order;
        step hold = reserve(order);
        step payment = charge(order);
        step label = ship(hold, payment);
        return label;
    }
}

fn open() -> Result<Box<dyn Store>, Box<dyn Error>> {
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("DATABASE_URL") {
        println!("store: PostgreSQL at {url}");
        return Ok(Box::new(routilux::durable::PostgresStore::connect(&url)?));
    }
    let path = std::env::temp_dir().join("routilux-durable-example.db");
    println!("store: SQLite file {}", path.display());
    Ok(Box::new(routilux::durable::SqliteStore::open(path)?))
}

fn main() -> Result<(), Box<dyn Error>> {
    let store = open()?;
    let runs: Durable<'_, Checkout> = Checkout::durable(&*store);
    let unfinished = runs.unfinished()?;
    if unfinished.is_empty() {
        let order = Order {
            id: 42,
            cents: 1999,
        };
        let id = runs.start(&order)?;
        println!("run {id}: started");
        let label = runs.resume(&id)?;
        println!("run {id}: done: {label}");
    }
    for id in unfinished {
        println!("run {id}: resuming after a crash (stored steps are not run again)");
        let label = runs.resume(&id)?;
        println!("run {id}: done: {label}");
        println!("status: {:?}", runs.status(&id)?);
    }
    Ok(())
}
