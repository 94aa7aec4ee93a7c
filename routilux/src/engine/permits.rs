//! The engine's side of [`Limit`]s: which limits a run's steps take permits of, taking them
//! before a step starts (without holding a thread: see `drive`), and lending them to the runs
//! started inside the step.

use std::sync::{Mutex, PoisonError};

use super::notify::STEP_WAITING;
use super::{Exec, Run};
use crate::error::ErrorKind;
use crate::limit::{Acquire, Held, Lending, Limit, NoPermits};
use crate::options::RunOptions;
use crate::plan::Hot;
use crate::subflow::Nest;

/// The limits of one run.
pub(crate) struct Limits<'a> {
    /// The run's own limit ([`RunOptions::max_concurrency`]); a sub-flow's run shares its
    /// parent's.
    own: Option<&'a Limit>,
    /// The shared limit of every step of the run ([`RunOptions::limit`]).
    shared: Option<&'a Limit>,
    /// The permits of the step this run was started in, if it holds any.
    lent: Option<&'a Lending<'a>>,
    /// Whether some step of the run takes a permit.
    pub(super) gated: bool,
    /// Per step (when gated): the permits the owner took for it, until the step runs. Kept
    /// with their lifetime erased (a cell of `Held<'a>` would make `Run` invariant in `'a`):
    /// they point to limits that outlive the run, and the table is dropped with the run.
    held: Box<[Mutex<Option<Held<'static>>>]>,
}

/// Where a run's own limit lives: in the frame that calls the run.
pub(crate) fn own_limit(options: &RunOptions<'_>, parent: Option<&Nest<'_>>) -> Option<Limit> {
    match parent {
        Some(nest) if nest.own_limit.is_some() => None,
        _ => options.get_max_concurrency().map(Limit::new),
    }
}

impl<'a> Limits<'a> {
    pub(crate) fn new(
        hot: &Hot,
        options: &RunOptions<'a>,
        parent: Option<&'a Nest<'a>>,
        own: Option<&'a Limit>,
        lent: Option<&'a Lending<'a>>,
    ) -> Self {
        let own = own.or_else(|| parent.and_then(|nest| nest.own_limit));
        let shared = options.get_limit();
        let gated = own.is_some() || shared.is_some() || hot.any_limited;
        Limits {
            own,
            shared,
            lent,
            gated,
            held: if gated {
                hot.steps.iter().map(|_| Mutex::new(None)).collect()
            } else {
                Box::new([])
            },
        }
    }

    /// The run's own limit, for the sub-flows it runs.
    pub(crate) fn own(&self) -> Option<&'a Limit> {
        self.own
    }

    /// The limits step `policy_limit`'s step takes, in the order they are taken: the run's
    /// own first (nobody else waits for it), then the shared ones by address (so that two
    /// steps never wait for each other's), each once.
    fn of(&self, policy_limit: Option<&'a Limit>) -> ([Option<&'a Limit>; 3], usize) {
        let mut limits = [self.own, None, None];
        let mut shared = [self.shared, policy_limit];
        if let [Some(a), Some(b)] = shared {
            if std::ptr::eq(a, b) {
                shared[1] = None;
            } else if std::ptr::from_ref(b) < std::ptr::from_ref(a) {
                shared.swap(0, 1);
            }
        }
        limits[1] = shared[0];
        limits[2] = shared[1];
        let count = limits.iter().flatten().count();
        (limits, count)
    }
}

impl<'a, E: Exec> Run<'a, E> {
    /// Whether step `i` takes permits.
    #[inline]
    pub(super) fn needs_permits(&self, i: u32) -> bool {
        self.limits.gated
            && (self.limits.own.is_some()
                || self.limits.shared.is_some()
                || self.plan.steps()[i as usize].policy().get_limit().is_some())
    }

    /// Whether the run's owner starts step `i` (an async step, or one that must wait for a
    /// permit without holding a pool thread) rather than whoever made it ready.
    #[inline]
    pub(super) fn owner_starts(&self, i: u32) -> bool {
        (self.hot.any_async || self.limits.gated)
            && (self.hot.steps[i as usize].asynchronous || self.needs_permits(i))
    }

    /// Takes the permits step `i` needs, waiting for them; `None` when a limit has no
    /// permits at all (the step can never run).
    pub(super) async fn claim(&self, i: u32) -> Option<Held<'a>> {
        let mut held = Held::default();
        if !self.needs_permits(i) {
            return Some(held);
        }
        let policy_limit = self.plan.steps()[i as usize].policy().get_limit();
        let (limits, _) = self.limits.of(policy_limit);
        let mut told = false;
        for limit in limits.into_iter().flatten() {
            if limit.permits() == 0 {
                return None;
            }
            let lent = self.limits.lent.and_then(|lending| lending.slot(limit));
            let mut acquire = Acquire::new(limit, lent);
            let claim = match acquire.now() {
                Some(claim) => claim,
                None => {
                    if !told && self.observed() {
                        told = true;
                        let (info, step) = (self.info(), &self.plan.steps()[i as usize]);
                        self.emit(STEP_WAITING, Some(i), |o| o.step_waiting(&info, step));
                    }
                    acquire.await
                }
            };
            held.claims.push(claim);
        }
        Some(held)
    }

    /// Keeps the permits the owner took for sync step `i` until the step runs.
    pub(super) fn hold(&self, i: u32, held: Held<'a>) {
        // SAFETY: only the lifetime changes (see `Limits::held`); `kept_permits` gives it
        // back its own before anyone reads it.
        let held = unsafe { std::mem::transmute::<Held<'a>, Held<'static>>(held) };
        *self.limits.held[i as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(held);
    }

    /// The permits the owner took for step `i`, if it did.
    pub(super) fn kept_permits(&self, i: u32) -> Option<Held<'a>> {
        if !self.limits.gated {
            return None;
        }
        let held = self.limits.held[i as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // SAFETY: `hold` stored a `Held<'a>` of this run.
        held.map(|held| unsafe { std::mem::transmute::<Held<'static>, Held<'a>>(held) })
    }

    /// The permits of step `i` on a run that has one thread (`Sequential`, a chain): the
    /// thread waits for them (on a pool thread, running the pool's other jobs meanwhile).
    pub(super) fn wait_permits(&self, i: u32) -> Option<Held<'a>> {
        if self.needs_permits(i) {
            crate::asynchronous::block_here(self.claim(i))
        } else {
            Some(Held::default())
        }
    }

    /// Step `i` needs a permit of a limit that has none: it fails, as it never could run.
    #[cold]
    pub(super) fn no_permits(&self, i: u32) -> bool {
        self.fail(i, ErrorKind::Failed, Box::new(NoPermits));
        false
    }
}
