//! Leases and workers, on every store (part of the conformance suite): the lease contract of
//! `Store`, and a worker running queued runs, runs a dead worker left, and runs submitted
//! while it serves.

use std::time::Duration;

use routilux::CancelToken;
use routilux::durable::{
    Completion, DurableError, NewRun, RunId, RunStatus, Store, StoreError, WorkerOptions,
};

use super::contract::checkpoint;
use super::flows::{Approval, Checkout, Hold, Order, Payment};
use super::{Faulty, count};

const LONG: Duration = Duration::from_secs(600);

fn create(store: &dyn Store) -> RunId {
    let id = RunId::new();
    store
        .create_run(&NewRun {
            id: &id,
            flow: "Leased",
            fingerprint: "0",
            plan: "flow Leased\n",
            inputs: "[]",
        })
        .unwrap();
    id
}

/// The lease contract: one holder at a time, oldest run first, renewals and releases only by
/// the holder of the current claim, expired leases claimable, finished and halted runs not.
pub fn lease_contract(store: &dyn Store) {
    let (a, b) = (create(store), create(store));
    let la = store.claim("Leased", "w1", LONG).unwrap().unwrap();
    assert_eq!((&la.run, la.worker.as_str(), la.token), (&a, "w1", 1));
    let lb = store.claim("Leased", "w2", LONG).unwrap().unwrap();
    assert_eq!((&lb.run, lb.token), (&b, 1));
    assert_eq!(store.claim("Leased", "w3", LONG).unwrap(), None);
    assert_eq!(store.claim("Other", "w3", LONG).unwrap(), None);
    assert!(store.renew(&la, LONG).unwrap());

    // Released: claimable at once, with a new token; the old claim can neither renew nor
    // release the new one.
    store.release(&lb).unwrap();
    let lb2 = store.claim("Leased", "w3", LONG).unwrap().unwrap();
    assert_eq!((&lb2.run, lb2.token), (&b, 2));
    assert!(!store.renew(&lb, LONG).unwrap());
    store.release(&lb).unwrap();
    assert_eq!(store.claim("Leased", "w4", LONG).unwrap(), None);

    // Expired (renewed for no time): another worker takes the run.
    assert!(store.renew(&la, Duration::ZERO).unwrap());
    let la2 = store.claim("Leased", "w4", LONG).unwrap().unwrap();
    assert_eq!((&la2.run, la2.token), (&a, 2));
    assert!(!store.renew(&la, LONG).unwrap());

    // Finished by its holder: the lease ends with the run.
    let done = Completion::Succeeded("[]".to_owned());
    assert!(store.complete_leased(&la2, &done).unwrap());
    assert!(!store.complete_leased(&la2, &done).unwrap());
    assert_eq!(
        store.load_run(&a).unwrap().unwrap().status,
        RunStatus::Succeeded
    );
    assert!(!store.renew(&la2, LONG).unwrap());

    // Halted runs wait for `resume`, not for workers; failing runs are claimed (to undo).
    let c = create(store);
    store.halt(&c, "x", "waiting").unwrap();
    store.release(&lb2).unwrap();
    let lb3 = store.claim("Leased", "w5", LONG).unwrap().unwrap();
    assert_eq!(lb3.run, b);
    assert_eq!(store.claim("Leased", "w5", LONG).unwrap(), None);
    store.mark_failing(&b, "boom").unwrap();
    assert!(store.renew(&lb3, Duration::ZERO).unwrap());
    assert_eq!(store.claim("Leased", "w6", LONG).unwrap().unwrap().run, b);
    assert!(store.unhalt(&c).unwrap());
    assert_eq!(store.claim("Leased", "w6", LONG).unwrap().unwrap().run, c);
}

fn order(id: u32, fail: bool) -> Order {
    Order {
        id,
        amount: 40 + u64::from(id),
        fail_at: fail.then(|| "ship".to_owned()),
    }
}

/// A worker runs the queued runs (succeeding, failing and halting ones), then finds none.
pub fn worker_runs_queued_runs(store: &dyn Store) {
    let runs = Checkout::durable(store);
    let ok = runs.start(&order(21, false)).unwrap();
    let bad = runs.start(&order(22, true)).unwrap();
    let worker = Checkout::durable(store).worker(WorkerOptions::new().name("solo"));
    assert_eq!(worker.name(), "solo");
    let report = worker.run_pending().unwrap();
    assert_eq!(
        (
            report.claimed,
            report.completed,
            report.succeeded,
            report.failed
        ),
        (2, 2, 1, 1)
    );
    let (payment, label) = runs.output(&ok).unwrap().unwrap();
    assert_eq!((payment.amount, label.as_str()), (61, "label 21 (61)"));
    assert!(matches!(runs.output(&bad), Err(DurableError::Failed(_))));
    assert_eq!(count(&bad, "payment", "undo"), 1);
    assert_eq!(worker.run_pending().unwrap().claimed, 0);

    let approvals = Approval::durable(store);
    let halting = approvals.start(&order(23, false)).unwrap();
    let worker = Approval::durable(store).worker(WorkerOptions::new());
    let worked = worker.work_once().unwrap().unwrap();
    assert_eq!(worked.run, halting);
    assert!(!worked.completed);
    assert!(matches!(worked.result, Err(DurableError::Halted { .. })));
    assert_eq!(approvals.status(&halting).unwrap(), RunStatus::Halted);
    assert!(worker.work_once().unwrap().is_none());

    // A store without leases cannot serve workers, and says so.
    let without = Faulty::new(store, "");
    let error = Checkout::durable(&without)
        .worker(WorkerOptions::new())
        .run_pending()
        .unwrap_err();
    assert!(matches!(error, StoreError::Unsupported("claim")), "{error}");
}

/// A serving worker runs runs submitted while it waits, until it is cancelled.
pub fn worker_serves_until_cancelled(store: &dyn Store) {
    let cancel = CancelToken::new();
    let runs = Checkout::durable(store);
    std::thread::scope(|scope| {
        let serving = scope.spawn(|| {
            let options = WorkerOptions::new().poll(Duration::from_millis(10));
            Checkout::durable(store)
                .worker(options)
                .serve_until(&cancel)
        });
        let ids: Vec<RunId> = (41..44)
            .map(|n| runs.start(&order(n, false)).unwrap())
            .collect();
        let start = std::time::Instant::now();
        while ids
            .iter()
            .any(|id| runs.status(id).unwrap() != RunStatus::Succeeded)
        {
            assert!(start.elapsed() < Duration::from_secs(60), "not served");
            std::thread::sleep(Duration::from_millis(10));
        }
        cancel.cancel();
        let report = serving.join().unwrap().unwrap();
        assert_eq!(
            (report.claimed, report.completed, report.succeeded),
            (3, 3, 3)
        );
    });
}

/// A run whose worker died (its lease expired) is finished by another worker from its
/// checkpoints; a run whose lease lasts is left alone.
pub fn worker_takes_over_expired_leases(store: &dyn Store) {
    let runs = Checkout::durable(store);
    let alive = runs.start(&order(31, false)).unwrap();
    assert_eq!(
        store.claim("Checkout", "alive", LONG).unwrap().unwrap().run,
        alive
    );
    let dead = runs.start(&order(32, false)).unwrap();
    let lease = store
        .claim("Checkout", "dead", Duration::ZERO)
        .unwrap()
        .unwrap();
    assert_eq!(lease.run, dead);
    let hold = Hold {
        order: 32,
        amount: 72,
    };
    let payment = Payment {
        key: format!("{dead}/payment"),
        amount: 72,
    };
    for (step, value) in [
        ("hold", serde_json::to_string(&hold).unwrap()),
        ("payment", serde_json::to_string(&payment).unwrap()),
    ] {
        store
            .save_checkpoint(&dead, &checkpoint(step, &value, false))
            .unwrap();
    }

    let worker = Checkout::durable(store).worker(WorkerOptions::new().name("heir"));
    let worked = worker.work_once().unwrap().unwrap();
    assert_eq!(worked.run, dead);
    assert!(worked.completed);
    assert_eq!(worked.result.unwrap().1, "label 32 (72)");
    for (step, n) in [("hold", 0), ("payment", 0), ("mail", 1), ("label", 1)] {
        assert_eq!(count(&dead, step, "run"), n, "runs of `{step}`");
    }
    assert!(worker.work_once().unwrap().is_none());
    assert_eq!(runs.status(&alive).unwrap(), RunStatus::Running);
}
