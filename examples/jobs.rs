//! A job runtime at work: 100,000 orders through a four-step flow on a `Runtime`, at most
//! 256 in flight, with a progress bar, then the runtime's report.
//!
//! Run it with `cargo run --release --example jobs --features routilux-examples/progress`
//! (an argument sets the number of orders; the feature brings the progress bar).
//! One order in 1,000 has no items and fails validation: the run goes on, and the report
//! counts it.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use routilux::{Context, RunOptions, Runtime, flow, routine};

/// One order: its number and how many items at which unit price.
pub struct Order {
    id: u64,
    items: u32,
    unit_cents: u64,
}

/// Why an order was refused.
#[derive(Debug)]
pub struct Invalid(u64);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} has no items", self.0)
    }
}

impl std::error::Error for Invalid {}

/// What every job adds to: the runtime's per-flow state.
#[derive(Default)]
struct Books {
    revenue_cents: AtomicU64,
}

#[routine]
fn validate(order: &Order) -> Result<u32, Invalid> {
    if order.items == 0 {
        Err(Invalid(order.id))
    } else {
        Ok(order.items)
    }
}

#[routine]
fn subtotal(order: &Order, items: &u32) -> u64 {
    order.unit_cents * u64::from(*items)
}

#[routine]
fn tax(subtotal: &u64) -> u64 {
    subtotal / 5
}

#[routine]
fn book(subtotal: &u64, tax: &u64, ctx: &Context) -> u64 {
    let total = subtotal + tax;
    if let Some(books) = ctx.state::<Books>() {
        books.revenue_cents.fetch_add(total, Ordering::Relaxed);
    }
    total
}

flow! {
    /// Validates an order, prices it, adds tax and books the total.
    pub flow Checkout {
        input order: Order;
        step items = validate(order);
        step sub = subtotal(order, items);
        step vat = tax(sub);
        step total = book(sub, vat);
        return total;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orders: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    let runtime = Runtime::builder()
        .capacity(1024)
        .state(Books::default())
        .build(|order: Order, options: RunOptions<'_>| Checkout::run_with(options, order))?;

    let bar = ProgressBar::new(orders);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} orders, {per_sec}, eta {eta}",
    )?);
    let started = Instant::now();
    let stream = (0..orders).map(|id| Order {
        id,
        items: u32::try_from(id % 1000).unwrap_or(1),
        unit_cents: 250 + id % 7,
    });
    let (mut booked, mut refused) = (0_u64, 0_u64);
    for (_, result) in runtime.map_unordered(stream, 256) {
        match result {
            Ok(_) => booked += 1,
            Err(_) => refused += 1,
        }
        bar.inc(1);
    }
    bar.finish();
    let took = started.elapsed();

    let books = runtime
        .state::<Books>()
        .ok_or("the runtime has its books")?;
    let revenue = books.revenue_cents.load(Ordering::Relaxed);
    println!(
        "{booked} orders booked, {refused} refused, revenue {}.{:02} in {took:.2?} on {} threads",
        revenue / 100,
        revenue % 100,
        runtime.pool().current_num_threads()
    );
    println!("{}", runtime.metrics());
    Ok(())
}
