//! The durable flows of the suites.

use std::collections::BTreeMap;

use routilux::durable::Halt;
use routilux::{Context, flow, routine};
use serde::{Deserialize, Serialize};

use super::{crash_point, effect};

/// A step's failure.
#[derive(Debug)]
pub struct Declined(pub String);

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "declined: {}", self.0)
    }
}

impl std::error::Error for Declined {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: u32,
    pub amount: u64,
    /// The step that fails (`ship`), if any.
    pub fail_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub order: u32,
    pub amount: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The idempotency key the payment was made with.
    pub key: String,
    pub amount: u64,
}

/// Logs the step's effect, then passes its `step:NAME` failpoint.
fn did(ctx: &Context) {
    effect(ctx, "run");
    crash_point(&format!("step:{}", ctx.step()));
}

/// Logs the undo, then passes its `undo-step:NAME` failpoint.
fn undid(ctx: &Context) {
    effect(ctx, "undo");
    crash_point(&format!("undo-step:{}", ctx.step()));
}

#[routine(undo = release)]
pub fn reserve(order: &Order, ctx: &Context) -> Result<Hold, Declined> {
    did(ctx);
    Ok(Hold {
        order: order.id,
        amount: order.amount,
    })
}

pub fn release(_: &Hold, ctx: &Context) -> Result<(), Declined> {
    undid(ctx);
    Ok(())
}

#[routine(undo = refund)]
pub fn charge(hold: &Hold, ctx: &Context) -> Result<Payment, Declined> {
    did(ctx);
    Ok(Payment {
        key: ctx.idempotency_key().unwrap_or_default(),
        amount: hold.amount,
    })
}

pub fn refund(_: &Payment, ctx: &Context) -> Result<(), Declined> {
    undid(ctx);
    Ok(())
}

#[routine]
pub fn email(order: &Order, ctx: &Context) -> String {
    did(ctx);
    format!("mail for order {}", order.id)
}

#[routine]
pub fn ship(order: &Order, payment: &Payment, ctx: &Context) -> Result<String, Declined> {
    did(ctx);
    if order.fail_at.as_deref() == Some("ship") {
        return Err(Declined(format!("no courier for order {}", order.id)));
    }
    Ok(format!("label {} ({})", order.id, payment.amount))
}

flow! {
    /// A saga: reserve, charge, mail and ship an order; a failure undoes the charge and the
    /// reservation.
    #[durable]
    pub flow Checkout {
        input order: Order;
        step hold = reserve(order);
        step payment = charge(hold);
        step mail = email(order);
        step label = ship(order, payment) after mail;
        return (payment, label);
    }
}

/// Values of every shape serde has, to round-trip through the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    Unit,
    Pair(i64, String),
    Named {
        items: Vec<Option<u8>>,
        map: BTreeMap<String, f64>,
    },
}

#[routine]
pub fn shapes(seed: &u32, ctx: &Context) -> Vec<Shape> {
    did(ctx);
    vec![
        Shape::Unit,
        Shape::Pair(-i64::from(*seed), "é \"quoted\" \n line".to_owned()),
        Shape::Named {
            items: vec![Some(1), None, Some(255)],
            map: BTreeMap::from([("pi".to_owned(), 3.25), ("neg".to_owned(), -0.5)]),
        },
    ]
}

#[routine]
pub fn describe(shapes: &[Shape], label: &str, ctx: &Context) -> (String, usize) {
    did(ctx);
    (format!("{label}: {shapes:?}"), shapes.len())
}

flow! {
    #[durable]
    pub flow Shapes {
        input seed: u32;
        input label: String;
        step all = shapes(seed);
        step text = describe(all, label);
        return (all, text);
    }
}

/// Two versions of one flow: `Tally` whose step `n` changes type.
pub mod v1 {
    use super::*;

    #[routine]
    pub fn count(x: &u32, ctx: &Context) -> u32 {
        did(ctx);
        x + 1
    }

    flow! {
        #[durable]
        pub flow Tally {
            input x: u32;
            step n = count(x);
            return n;
        }
    }
}

pub mod v2 {
    use super::*;

    #[routine]
    pub fn count(x: &u32, ctx: &Context) -> u64 {
        did(ctx);
        u64::from(*x) + 1
    }

    flow! {
        #[durable]
        pub flow Tally {
            input x: u32;
            step n = count(x);
            return n;
        }
    }
}

/// The file whose existence approves run `run` (for `Approval`).
pub fn approval_path(run: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("routilux-approval-{run}"))
}

#[routine]
pub fn request(order: &Order, ctx: &Context) -> u64 {
    did(ctx);
    order.amount
}

/// Halts the run until its approval file exists.
#[routine]
pub fn approve(amount: &u64, ctx: &Context) -> Result<u64, Halt> {
    did(ctx);
    let key = ctx.idempotency_key().unwrap_or_default();
    let run = key.split('/').next().unwrap_or_default();
    if approval_path(run).exists() {
        Ok(*amount)
    } else {
        Err(Halt::new(format!("waiting for approval of {amount}")))
    }
}

#[routine]
pub fn settle(amount: &u64, ctx: &Context) -> String {
    did(ctx);
    format!("settled {amount}")
}

flow! {
    /// A payment that waits for an approval: halted until it comes, then resumed.
    #[durable]
    pub flow Approval {
        input order: Order;
        step amount = request(order);
        step approved = approve(amount);
        step settled = settle(approved);
        return settled;
    }
}
