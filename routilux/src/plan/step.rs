//! [`StepPlan`]: one step of a [`Plan`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::Plan;
use crate::policy::Policy;

/// One step of a [`Plan`].
#[derive(Clone, Debug)]
pub struct StepPlan {
    pub(super) name: Cow<'static, str>,
    pub(super) routine: Cow<'static, str>,
    pub(super) deps: u32,
    pub(super) reads: Cow<'static, [u32]>,
    pub(super) succs: Cow<'static, [u32]>,
    pub(super) policy: Policy,
    pub(super) doc: Cow<'static, str>,
    /// The slots of `reads` the step only waits for (`after`), ascending.
    pub(super) after: Cow<'static, [u32]>,
    /// The slot of the step's condition, and whether it runs when that is `false`.
    pub(super) condition: Option<(u32, bool)>,
    /// The plan of the flow the step runs, if it is a sub-flow.
    pub(super) inner: Option<InnerPlan>,
}

/// The plan of a sub-flow step's inner flow: a `flow!` flow's static plan, or a built
/// flow's.
#[derive(Clone)]
pub(crate) enum InnerPlan {
    /// `Inner::plan` of a `flow!` flow.
    Static(fn() -> &'static Plan),
    /// The plan of a [`DynFlow`](crate::DynFlow).
    Shared(Arc<Plan>),
}

impl InnerPlan {
    pub(crate) fn get(&self) -> &Plan {
        match self {
            InnerPlan::Static(plan) => plan(),
            InnerPlan::Shared(plan) => plan,
        }
    }
}

impl fmt::Debug for InnerPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InnerPlan")
            .field(&self.get().flow())
            .finish()
    }
}

impl StepPlan {
    #[doc(hidden)]
    #[must_use]
    pub const fn __from_static(
        name: &'static str,
        routine: &'static str,
        deps: u32,
        reads: &'static [u32],
        succs: &'static [u32],
        policy: Policy,
        doc: &'static str,
    ) -> Self {
        StepPlan {
            name: Cow::Borrowed(name),
            routine: Cow::Borrowed(routine),
            deps,
            reads: Cow::Borrowed(reads),
            succs: Cow::Borrowed(succs),
            policy,
            doc: Cow::Borrowed(doc),
            after: Cow::Borrowed(&[]),
            condition: None,
            inner: None,
        }
    }

    /// Marks a step that runs the flow whose plan `plan` returns (`None`: a routine).
    #[doc(hidden)]
    #[must_use]
    pub const fn __nested(mut self, plan: Option<fn() -> &'static Plan>) -> Self {
        if let Some(plan) = plan {
            // The old value is `None` (made by `__from_static`): nothing to drop.
            std::mem::forget(self.inner.replace(InnerPlan::Static(plan)));
        }
        self
    }

    /// Sets the slots of `reads` the step only waits for (`after`), ascending.
    #[doc(hidden)]
    #[must_use]
    pub const fn __after(mut self, after: &'static [u32]) -> Self {
        // The old value is borrowed (made by `__from_static`): nothing to drop.
        std::mem::forget(std::mem::replace(&mut self.after, Cow::Borrowed(after)));
        self
    }

    /// Sets the slot of the step's condition (`if flag`; `negated` for `if !flag`).
    #[doc(hidden)]
    #[must_use]
    pub const fn __condition(mut self, slot: u32, negated: bool) -> Self {
        self.condition = Some((slot, negated));
        self
    }

    /// The step's doc comment in the flow (empty when it has none).
    #[must_use]
    pub fn doc(&self) -> &str {
        &self.doc
    }

    /// The step's retries, backoff, and whether it can be undone.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The step's name, as declared in the flow.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the routine the step calls (for a sub-flow step, the inner flow's).
    #[must_use]
    pub fn routine(&self) -> &str {
        &self.routine
    }

    pub(crate) fn name_cow(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    /// How many distinct steps this step takes results from.
    #[must_use]
    pub fn dependency_count(&self) -> u32 {
        self.deps
    }

    /// The result slots the step reads, each once (inputs first, then steps in plan order).
    /// They include the slots it only waits for ([`after`](Self::after)) and its condition.
    #[must_use]
    pub fn reads(&self) -> &[u32] {
        &self.reads
    }

    /// The slots of [`reads`](Self::reads) the step only waits for, without taking their
    /// values (`step x = f(a) after b;` in `flow!`, [`Builder::after`](crate::Builder::after)),
    /// ascending. A slot the step also takes as an argument or condition is not listed.
    #[must_use]
    pub fn after(&self) -> &[u32] {
        &self.after
    }

    /// For a conditional step (`step x = f(a) if flag;`, [`Builder::when`](crate::Builder::when)):
    /// the slot of its `bool`, and whether the step runs when it is `false` (`if !flag`).
    #[must_use]
    pub fn condition(&self) -> Option<(u32, bool)> {
        self.condition
    }

    /// For a step that runs another flow (a sub-flow), that flow's plan.
    #[must_use]
    pub fn subflow(&self) -> Option<&Plan> {
        self.inner.as_ref().map(InnerPlan::get)
    }

    /// The plan indices of the steps that take this step's result, each once.
    #[must_use]
    pub fn successors(&self) -> &[u32] {
        &self.succs
    }
}
