//! [`Fingerprint`]: what a durable run remembers of its flow's plan, to refuse resuming a run
//! with a flow that has changed.

use std::fmt::Write as _;

use crate::plan::Plan;

/// A flow's plan as a durable run records it: one line per input and per step (its name,
/// kind, type and edges; types as [`std::any::type_name`] spells them), and a hash of them.
///
/// A run is resumed only by a flow with the same fingerprint; otherwise resuming is a
/// [`DurableError::FlowChanged`](super::DurableError::FlowChanged) naming the first
/// difference. (Types are compared by name: a struct whose fields changed but whose name did
/// not is the same type here; its stored values then fail to deserialize, a
/// [`DurableError::Serde`](super::DurableError::Serde).)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    description: String,
    hash: String,
}

impl Fingerprint {
    /// The fingerprint of `plan`, whose inputs and steps (in plan order) have the types
    /// `types`.
    #[must_use]
    pub fn of(plan: &Plan, types: &[&str]) -> Self {
        let mut d = format!("flow {}\n", plan.flow());
        let mut types = types.iter();
        let mut slots = Vec::new();
        for input in plan.inputs() {
            let ty = types.next().copied().unwrap_or("?");
            let _ = writeln!(d, "input {input}: {ty}");
            slots.push(input.to_owned());
        }
        slots.extend(plan.steps().iter().map(|s| s.name().to_owned()));
        let name = |slot: u32| slots.get(slot as usize).map_or("?", String::as_str);
        for step in plan.steps() {
            let ty = types.next().copied().unwrap_or("?");
            let policy = step.policy();
            let mut kind = Vec::new();
            for (flag, on) in [
                ("async", policy.is_async()),
                ("subflow", policy.is_subflow()),
                ("conditional", policy.is_conditional()),
                ("undoable", policy.is_undoable()),
                ("compensates", policy.compensates()),
            ] {
                if on {
                    kind.push(flag);
                }
            }
            let reads: Vec<&str> = step
                .reads()
                .iter()
                .filter(|r| !step.after().contains(r))
                .map(|&r| name(r))
                .collect();
            let after: Vec<&str> = step.after().iter().map(|&r| name(r)).collect();
            let _ = write!(
                d,
                "step {} = {}({}) [{}]: {ty}",
                step.name(),
                step.routine(),
                reads.join(", "),
                kind.join(" "),
            );
            if !after.is_empty() {
                let _ = write!(d, " after {}", after.join(", "));
            }
            if let Some((slot, negated)) = step.condition() {
                let _ = write!(d, " if {}{}", if negated { "!" } else { "" }, name(slot));
            }
            d.push('\n');
        }
        let hash = format!("{:016x}", fnv1a(d.as_bytes()));
        Fingerprint {
            description: d,
            hash,
        }
    }

    /// The hash, 16 hex digits.
    #[must_use]
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The description the hash is made from, one line per input and step.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The first line where `stored` (an earlier description) and this one differ, worded
    /// for an error; `None` if they are the same.
    #[must_use]
    pub fn difference(&self, stored: &str) -> Option<String> {
        let mut old = stored.lines();
        let mut new = self.description.lines();
        loop {
            match (old.next(), new.next()) {
                (None, None) => return None,
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => return Some(format!("was `{a}`, now `{b}`")),
                (Some(a), None) => return Some(format!("`{a}` was removed")),
                (None, Some(b)) => return Some(format!("`{b}` was added")),
            }
        }
    }
}

/// 64-bit FNV-1a: stable across Rust versions and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
