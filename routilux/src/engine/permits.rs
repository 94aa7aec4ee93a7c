//! The engine's side of [`Limit`]s: which limits a run's steps take permits of, taking them
//! before a step starts (without holding a thread: see `drive`), and lending them to the runs
//! started inside the step.

use std::future::{Future, poll_fn};
use std::sync::{Mutex, PoisonError};
use std::task::Poll;

use super::notify::STEP_WAITING;
use super::parked::Parked;
use super::{Exec, Run};
use crate::asynchronous::Sleep;
use crate::error::ErrorKind;
use crate::limit::{Claiming, Held, Lending, Limit, NoPermits};
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
    /// Per step (when gated, in a run whose steps park): its claim while it waits.
    pub(super) parked: Box<[Mutex<Option<Parked>>]>,
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
            parked: if gated {
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

    /// Whether ready step `i` can start where it became ready: always in a run with neither
    /// async steps nor limits; otherwise when it is sync and needs no permits, or takes them
    /// now (they are free and nobody waits for them). Otherwise it must wait elsewhere
    /// (`wait_elsewhere`).
    #[inline]
    pub(super) fn ready_here(&self, i: u32) -> bool {
        if !self.tracked {
            return true;
        }
        if self.hot.steps[i as usize].asynchronous {
            return false;
        }
        !self.needs_permits(i) || self.take_free_permits(i)
    }

    /// Takes the permits of step `i` if they are free now, and keeps them for it.
    fn take_free_permits(&self, i: u32) -> bool {
        match self.claiming(i).now() {
            Some(held) => {
                self.hold(i, held);
                true
            }
            None => false,
        }
    }

    /// The claim of the permits step `i` needs.
    pub(super) fn claiming(&self, i: u32) -> Claiming<'a> {
        let policy_limit = self.plan.steps()[i as usize].policy().get_limit();
        let (limits, _) = self.limits.of(policy_limit);
        Claiming::new(limits.map(|limit| {
            limit.map(|limit| {
                let lent = self.limits.lent.and_then(|lending| lending.slot(limit));
                (limit, lent)
            })
        }))
    }

    /// Takes the permits step `i` needs, waiting for them; `None` when a limit has no
    /// permits at all (the step can never run).
    pub(super) async fn claim(&self, i: u32) -> Option<Held<'a>> {
        if !self.needs_permits(i) {
            return Some(Held::default());
        }
        let mut claiming = self.claiming(i);
        let mut told = false;
        poll_fn(|cx| {
            let poll = claiming.poll(cx);
            if poll.is_pending() && !told && self.observed() {
                told = true;
                let (info, step) = (self.info(), &self.plan.steps()[i as usize]);
                self.emit(STEP_WAITING, Some(i), |o| o.step_waiting(&info, step));
            }
            poll
        })
        .await
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
    /// thread waits for them (on a pool thread, running the pool's other jobs meanwhile), or
    /// until the run is cancelled or times out: then it returns no permits, and the step's
    /// first attempt sees that the run stopped.
    pub(super) fn wait_permits(&self, i: u32) -> Option<Held<'a>> {
        if !self.needs_permits(i) {
            return Some(Held::default());
        }
        let mut claim = std::pin::pin!(self.claim(i));
        let mut deadline = self.deadline.map(Sleep::until);
        let held = crate::asynchronous::block_here(poll_fn(|cx| {
            if let Some(token) = self.cancel {
                token.signal().register(self.id, cx.waker());
            }
            if let Poll::Ready(held) = claim.as_mut().poll(cx) {
                return Poll::Ready(held);
            }
            let late = deadline
                .as_mut()
                .is_some_and(|sleep| std::pin::Pin::new(sleep).poll(cx).is_ready());
            if late || self.is_stopping() {
                return Poll::Ready(Some(Held::default()));
            }
            Poll::Pending
        }));
        if let Some(token) = self.cancel {
            token.signal().unregister(self.id);
        }
        held
    }

    /// Step `i` needs a permit of a limit that has none: it fails, as it never could run.
    #[cold]
    pub(super) fn no_permits(&self, i: u32) -> bool {
        self.fail(i, ErrorKind::Failed, Box::new(NoPermits));
        false
    }
}
