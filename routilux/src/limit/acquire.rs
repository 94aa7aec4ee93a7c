//! Taking a permit without holding a thread: [`Acquire`], a future that is ready once the
//! step owns a permit of its limit, its own or one lent by the step it runs in.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};

use super::lend::{Claim, Held, LentSlot};
use super::{Limit, Permit, Waiter};

/// Waits for a permit of `limit`: with a slot lent by the enclosing step, takes that slot or
/// a free permit, whichever comes first (never joining the limit's queue, so a nested run
/// always progresses on its parent's permit); otherwise waits its turn in the queue.
pub(crate) struct Acquire<'l> {
    limit: &'l Limit,
    lent: Option<&'l LentSlot<'l>>,
    waiter: Option<Arc<Waiter>>,
}

impl<'l> Acquire<'l> {
    pub(crate) fn new(limit: &'l Limit, lent: Option<&'l LentSlot<'l>>) -> Self {
        Acquire {
            limit,
            lent,
            waiter: None,
        }
    }

    /// Takes what is free now, without waiting.
    pub(crate) fn now(&mut self) -> Option<Claim<'l>> {
        if let Some(slot) = self.lent {
            return slot
                .try_take()
                .or_else(|| self.limit.try_acquire().map(Claim::Own));
        }
        self.limit.try_acquire().map(Claim::Own)
    }
}

impl<'l> Future for Acquire<'l> {
    type Output = Claim<'l>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Claim<'l>> {
        let this = self.get_mut();
        if let Some(slot) = this.lent {
            // Register first, then look: a slot given back in between wakes us.
            slot.register(cx.waker());
            return match this.now() {
                Some(claim) => Poll::Ready(claim),
                None => Poll::Pending,
            };
        }
        match &this.waiter {
            None => match this.limit.acquire_or_wait(cx.waker()) {
                Ok(permit) => Poll::Ready(Claim::Own(permit)),
                Err(waiter) => {
                    this.waiter = Some(waiter);
                    Poll::Pending
                }
            },
            Some(waiter) => {
                if waiter.granted.load(Ordering::Acquire) {
                    this.waiter = None;
                    // The giver counted the permit as ours when it granted it.
                    return Poll::Ready(Claim::Own(Permit { limit: this.limit }));
                }
                *waiter.waker.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(cx.waker().clone());
                // Granted while we stored the waker: the giver found none to wake.
                if waiter.granted.load(Ordering::Acquire) {
                    this.waiter = None;
                    return Poll::Ready(Claim::Own(Permit { limit: this.limit }));
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            self.limit.cancel_wait(&waiter);
        }
    }
}

/// Takes a permit of each of up to three limits in turn, waiting for each (see
/// [`Acquire`]): the permits a step needs. Ready with `None` when a limit has no permits at
/// all (the step can never run).
pub(crate) struct Claiming<'l> {
    limits: [Option<(&'l Limit, Option<&'l LentSlot<'l>>)>; 3],
    next: usize,
    held: Held<'l>,
    acquire: Option<Acquire<'l>>,
}

impl<'l> Claiming<'l> {
    /// Claims a permit of each of `limits`, in order.
    pub(crate) fn new(limits: [Option<(&'l Limit, Option<&'l LentSlot<'l>>)>; 3]) -> Self {
        Claiming {
            limits,
            next: 0,
            held: Held::default(),
            acquire: None,
        }
    }

    /// Takes every permit now if all are free (and nobody waits for them); gives back the
    /// ones it took otherwise.
    pub(crate) fn now(mut self) -> Option<Held<'l>> {
        for (limit, lent) in self.limits.into_iter().flatten() {
            if limit.permits() == 0 {
                return None;
            }
            let claim = Acquire::new(limit, lent).now()?;
            self.held.claims.push(claim);
        }
        Some(self.held)
    }

    /// Goes on claiming: ready once every permit is held.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Held<'l>>> {
        while let Some(&entry) = self.limits.get(self.next) {
            self.next += 1;
            let Some((limit, lent)) = entry else {
                continue;
            };
            if limit.permits() == 0 {
                return Poll::Ready(None);
            }
            let mut acquire = self
                .acquire
                .take()
                .unwrap_or_else(|| Acquire::new(limit, lent));
            match Pin::new(&mut acquire).poll(cx) {
                Poll::Ready(claim) => self.held.claims.push(claim),
                Poll::Pending => {
                    self.next -= 1;
                    self.acquire = Some(acquire);
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Some(std::mem::take(&mut self.held)))
    }
}
