use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use super::lend::{Claim, Held, Lending};
use super::{Acquire, Limit};

#[test]
fn permits_are_first_come_first_served_and_come_back() {
    static L: Limit = Limit::new(1);
    let first = L.try_acquire().unwrap();
    let mut second = pin!(Acquire::new(&L, None));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(L.waiting(), 1);
    // Someone waits: a newcomer may not jump the queue.
    assert!(L.try_acquire().is_none());
    drop(first);
    // The permit went to the waiter, not back to the pool.
    assert_eq!((L.in_use(), L.waiting()), (1, 0));
    let Poll::Ready(claim) = second.as_mut().poll(&mut cx) else {
        panic!("the waiter was granted the permit")
    };
    drop(claim);
    assert_eq!((L.in_use(), L.waiting()), (0, 0));
}

#[test]
fn a_waiter_that_leaves_the_queue_gives_its_grant_on() {
    static L: Limit = Limit::new(1);
    let first = L.try_acquire().unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut second = Box::pin(Acquire::new(&L, None));
    let mut third = Box::pin(Acquire::new(&L, None));
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert!(third.as_mut().poll(&mut cx).is_pending());
    drop(first);
    // Granted to `second`, which is dropped before it sees it: `third` gets it.
    drop(second);
    assert!(matches!(
        third.as_mut().poll(&mut cx),
        Poll::Ready(Claim::Own(_))
    ));
    drop(third);
    assert_eq!((L.in_use(), L.waiting()), (0, 0));
}

#[test]
fn a_lent_permit_serves_one_claim_at_a_time() {
    static L: Limit = Limit::new(1);
    let mut held = Held::default();
    held.claims.push(Claim::Own(L.try_acquire().unwrap()));
    let lending = Lending::of(&held);
    let slot = lending.slot(&L).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut a = Box::pin(Acquire::new(&L, Some(slot)));
    let Poll::Ready(first) = a.as_mut().poll(&mut cx) else {
        panic!("the lent slot was free")
    };
    let mut b = Box::pin(Acquire::new(&L, Some(slot)));
    assert!(b.as_mut().poll(&mut cx).is_pending());
    // The nested claim never joins the limit's queue.
    assert_eq!(L.waiting(), 0);
    drop(first);
    assert!(matches!(
        b.as_mut().poll(&mut cx),
        Poll::Ready(Claim::Lent(_))
    ));
}

#[test]
fn many_threads_never_hold_more_permits_than_there_are() {
    static L: Limit = Limit::new(3);
    static NOW: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..8 {
            scope.spawn(move || {
                for i in 0..2000 {
                    let mut acquire = Box::pin(Acquire::new(&L, None));
                    if (i + t) % 7 == 0 {
                        // Leaves the queue (or gives back a grant) without using it.
                        let mut cx = Context::from_waker(Waker::noop());
                        let _ = acquire.as_mut().poll(&mut cx);
                        continue;
                    }
                    let claim = crate::block_on(acquire);
                    let now = NOW.fetch_add(1, Ordering::SeqCst) + 1;
                    PEAK.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    NOW.fetch_sub(1, Ordering::SeqCst);
                    drop(claim);
                }
            });
        }
    });
    assert!(PEAK.load(Ordering::SeqCst) <= 3);
    assert_eq!((L.in_use(), L.waiting()), (0, 0));
}

#[test]
fn a_failed_try_on_a_busy_slot_leaves_it_busy() {
    static L: Limit = Limit::new(1);
    let mut held = Held::default();
    held.claims.push(Claim::Own(L.try_acquire().unwrap()));
    let lending = Lending::of(&held);
    let slot = lending.slot(&L).unwrap();
    let first = slot.try_take().unwrap();
    assert!(slot.try_take().is_none());
    // Still busy: the failed try gave nothing back.
    assert!(slot.try_take().is_none());
    drop(first);
    assert!(slot.try_take().is_some());
}
