//! Tests of the access protocol: a hand-written `Exec` that breaks it fails the run.

use super::{Brand, Slot};
use crate::engine::{Access, Exec, execute};
use crate::error::BoxError;
use crate::{Builder, DynFlow, ErrorKind, RunOptions};

/// A flow with one input (slot 0) and two steps (slots 1 and 2), `b` reading `a`.
fn plan() -> DynFlow {
    let mut b = Builder::new("Guarded");
    let x = b.input::<u64>("x").unwrap();
    let a = b
        .step("a", &[x], |v: &[&u64]| Ok::<u64, std::fmt::Error>(*v[0]))
        .unwrap();
    b.step("b", &[a], |v: &[&u64]| Ok::<u64, std::fmt::Error>(*v[0]))
        .unwrap();
    b.build()
}

/// A hand-written `Exec` that misbehaves in one of several ways.
struct Rogue {
    slots: [Slot<u64>; 3],
    wrong: &'static str,
}

impl Exec for Rogue {
    fn run_step(&self, step: usize, access: &mut Access<'_>) -> Result<(), BoxError> {
        match (self.wrong, step) {
            // Reads `b`'s result from step `a`, which does not read it.
            ("read", 0) => {
                let _ = self.slots[2].get(access);
            }
            // Writes `b`'s slot from step `a`.
            ("write", 0) => self.slots[2].set(access, 7),
            _ => {
                let value = *self.slots[step].get(access);
                self.slots[step + 1].set(access, value);
            }
        }
        Ok(())
    }

    fn clear(&self, slot: usize, access: &mut Access<'_>) {
        self.slots[slot].clear(access);
    }
}

fn rogue(brand: &Brand, wrong: &'static str) -> Rogue {
    Rogue {
        slots: [
            Slot::new(brand, 0, 1),
            Slot::empty(brand, 1),
            Slot::empty(brand, 2),
        ],
        wrong,
    }
}

#[test]
fn accesses_the_plan_does_not_allow_fail_the_run_instead_of_racing() {
    let flow = plan();
    for wrong in ["read", "write"] {
        let brand = Brand::new();
        let exec = rogue(&brand, wrong);
        let err = execute(flow.plan(), &exec, brand, &RunOptions::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panicked, "{wrong}: {err}");
        assert!(
            err.to_string().contains("outside the run's plan"),
            "{wrong}: {err}"
        );
    }
    // A well-behaved run of the same `Exec` succeeds.
    let brand = Brand::new();
    let exec = rogue(&brand, "none");
    execute(flow.plan(), &exec, brand, &RunOptions::new()).unwrap();
}

#[test]
fn slots_of_another_run_cannot_be_touched() {
    let flow = plan();
    let other = Brand::new();
    let exec = rogue(&other, "none");
    let err = execute(flow.plan(), &exec, Brand::new(), &RunOptions::new()).unwrap_err();
    assert!(err.to_string().contains("outside the run's plan"), "{err}");
}
