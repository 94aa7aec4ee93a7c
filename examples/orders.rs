//! An order pipeline that uses the whole step language: a map over the order lines in
//! batches, a fraud check that runs only for large orders, a payment sub-flow whose steps can
//! be undone, and a shipping label that waits for the stock reservation without reading it.
//!
//! Run it with `cargo run --example orders`. Two orders go through: a small one that ships,
//! and a large one whose shipping fails after it was paid, so the payment's steps are undone
//! (the card hold is released, the ledger entry reversed).
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::fmt;
use std::sync::Mutex;

use routilux::{Context, FlowError, RunOptions, Tracker, flow, routine};

/// What the payment systems and the warehouse were told, in order.
static LEDGER: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(entry: String) {
    LEDGER.lock().expect("ledger lock").push(entry);
}

/// One line of an order.
#[derive(Clone, Debug)]
pub struct Line {
    sku: &'static str,
    quantity: u32,
    unit_cents: u64,
}

/// A priced line: its gross amount.
#[derive(Debug)]
pub struct Priced {
    cents: u64,
}

/// Why a system said no.
#[derive(Debug)]
pub struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A card hold, released by [`release`] when the order fails later.
#[derive(Debug)]
pub struct Hold {
    id: String,
    cents: u64,
}

/// A ledger entry, reversed by [`reverse`].
#[derive(Debug)]
pub struct Entry(String);

const VAT_PERCENT: u64 = 20;

#[routine]
fn price(line: &Line, vat: &u64) -> Priced {
    let net = u64::from(line.quantity) * line.unit_cents;
    Priced {
        cents: net + net * vat / 100,
    }
}

#[routine]
fn total(lines: &[Priced]) -> u64 {
    lines.iter().map(|l| l.cents).sum()
}

#[routine]
fn is_large(cents: &u64) -> bool {
    *cents >= 100_000
}

#[routine]
fn fraud_check(customer: &str, cents: &u64) -> Result<bool, Refused> {
    if customer.starts_with("mallory") {
        return Err(Refused(format!("fraud check refused {customer}")));
    }
    record(format!("fraud check passed for {customer} ({cents} cents)"));
    Ok(true)
}

#[must_use]
#[routine(undo = release)]
pub fn hold_card(customer: &str, cents: &u64) -> Hold {
    let hold = Hold {
        id: format!("hold-{customer}"),
        cents: *cents,
    };
    record(format!("card hold {} for {cents} cents", hold.id));
    hold
}

pub fn release(hold: &Hold) {
    record(format!(
        "card hold {} released ({} cents)",
        hold.id, hold.cents
    ));
}

#[must_use]
#[routine(undo = reverse)]
pub fn book(hold: &Hold) -> Entry {
    record(format!(
        "ledger: {} cents booked against {}",
        hold.cents, hold.id
    ));
    Entry(format!("entry-{}", hold.id))
}

pub fn reverse(entry: &Entry, ctx: &Context) {
    record(format!(
        "ledger: {} reversed (by step {})",
        entry.0,
        ctx.step()
    ));
}

flow! {
    /// Holds the card and books the amount: undone as a whole if the order fails later.
    #[subflow]
    pub flow Payment {
        input customer: String;
        input cents: u64;
        step hold = hold_card(customer, cents);
        step entry = book(hold);
        return entry;
    }
}

#[routine]
fn reserve_stock(lines: &[Line]) -> u32 {
    let units = lines.iter().map(|l| l.quantity).sum();
    let skus: Vec<&str> = lines.iter().map(|l| l.sku).collect();
    record(format!(
        "warehouse: {units} units reserved ({})",
        skus.join(", ")
    ));
    units
}

#[routine]
fn ship(customer: &str, address: &str, entry: &Entry) -> Result<String, Refused> {
    if address.is_empty() {
        return Err(Refused(format!("no shipping address for {customer}")));
    }
    Ok(format!(
        "label for {customer} to {address}, paid by {}",
        entry.0
    ))
}

// A conditional step's result is an `Option`; its consumers take `&Option<T>`.
#[allow(clippy::ref_option)]
#[routine]
fn summary(cents: &u64, fraud: &Option<bool>, label: &String) -> String {
    let checked = if fraud.is_some() {
        "checked"
    } else {
        "not checked (small)"
    };
    format!("{label}: {cents} cents, fraud {checked}")
}

flow! {
    /// Prices an order, checks large ones for fraud, takes the payment and ships.
    pub flow Checkout {
        input customer: String;
        input address: String;
        input lines: Vec<Line>;
        #[step(batch = 2)]
        step priced = price(each lines, { VAT_PERCENT });
        step cents = total(priced);
        step large = is_large(cents);
        step fraud = fraud_check(customer, cents) if large;
        step paid = Payment(customer, cents) after fraud;
        step units = reserve_stock(lines);
        step label = ship(customer, address, paid) after units;
        step done = summary(cents, fraud, label);
        return done;
    }
}

fn lines(scale: u32) -> Vec<Line> {
    ["tea", "cups", "kettle", "tray", "spoons"]
        .iter()
        .zip(1..)
        .map(|(&sku, n)| Line {
            sku,
            quantity: n * scale,
            unit_cents: 250 * u64::from(n),
        })
        .collect()
}

fn show(result: &Result<String, FlowError>) {
    match result {
        Ok(summary) => println!("  ok: {summary}"),
        Err(error) => println!(
            "  failed at step {:?}: {error}",
            error.step().unwrap_or("?")
        ),
    }
    for entry in LEDGER.lock().expect("ledger lock").drain(..) {
        println!("  | {entry}");
    }
}

fn main() {
    let tracker = Tracker::new();
    println!("A small order:");
    let small = Checkout::run_with(
        RunOptions::new().observer(&tracker),
        "alice".into(),
        "1 Main St".into(),
        lines(1),
    );
    show(&small);

    println!("A large order with no shipping address:");
    let large = Checkout::run_with(
        RunOptions::new().observer(&tracker),
        "bob".into(),
        String::new(),
        lines(20),
    );
    show(&large);

    // The payment ran as runs of its own, under the prefix `paid/`.
    println!("{}", tracker.report());
}
