//! The conformance suite of durable stores: the `Store` contract itself, and durable flows run
//! on it. `conformance_suite!(make)` declares one test per check, each on a fresh store made
//! by `make()` (anything that derefs to a `Store`).

use routilux::durable::{Completion, DurableError, Failure, RunId, RunStatus, Store, StoreError};

use super::contract::checkpoint;
// Used through `conformance_suite!` (not by every test file that includes this module).
#[allow(unused_imports)]
pub use super::contract::store_contract;
use super::flows::{
    Approval, Checkout, Hold, Order, Payment, Shape, Shapes, approval_path, v1, v2,
};
#[allow(unused_imports)]
pub use super::leases::{
    lease_contract, worker_runs_queued_runs, worker_serves_until_cancelled,
    worker_takes_over_expired_leases,
};
use super::{Faulty, count};

/// Declares the suite's tests in the calling test file.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            store_contract, resume_skips_stored_steps, resume_loads_stored_values,
            failure_after_resume_undoes_earlier_steps_once, crash_mid_undo_finishes_the_undo,
            changed_flow_is_refused, serde_round_trip, unknown_and_foreign_runs,
            finished_runs_are_not_run_again, halt_and_resume, lease_contract,
            worker_runs_queued_runs, worker_takes_over_expired_leases,
            worker_serves_until_cancelled);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let store = $make;
                durable_support::conformance::$name(&*store);
            }
        )*
    };
}

fn order(id: u32, fail: bool) -> Order {
    Order {
        id,
        amount: 40 + u64::from(id),
        fail_at: fail.then(|| "ship".to_owned()),
    }
}

/// A run whose store failed at `label`'s checkpoint (as a crash there would leave it) is
/// resumed: the stored steps do not run again, the last one does.
pub fn resume_skips_stored_steps(store: &dyn Store) {
    let faulty = Faulty::new(store, "label");
    let first = Checkout::durable(&faulty);
    let id = first.start(&order(1, false)).unwrap();
    let error = first.resume(&id).unwrap_err();
    assert!(
        matches!(error, DurableError::Store(StoreError::Database(_))),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("injected fault at the checkpoint of `label`"),
        "{error}"
    );

    let runs = Checkout::durable(store);
    assert_eq!(runs.status(&id).unwrap(), RunStatus::Running);
    assert_eq!(runs.unfinished().unwrap(), std::slice::from_ref(&id));
    let stored = store.load_run(&id).unwrap().unwrap();
    let mut steps: Vec<&str> = stored.checkpoints.iter().map(|c| c.step.as_str()).collect();
    steps.sort_unstable();
    assert_eq!(steps, ["hold", "mail", "payment"]);

    let (payment, label) = runs.resume(&id).unwrap();
    assert_eq!(payment.key, format!("{id}/payment"));
    assert_eq!(label, "label 1 (41)");
    for (step, runs) in [("hold", 1), ("payment", 1), ("mail", 1), ("label", 2)] {
        assert_eq!(count(&id, step, "run"), runs, "runs of `{step}`");
    }
    assert_eq!(runs.status(&id).unwrap(), RunStatus::Succeeded);
    assert!(runs.unfinished().unwrap().is_empty());
}

/// Stored results are what the resumed run uses (values a crashed process left, which the
/// steps would not compute).
pub fn resume_loads_stored_values(store: &dyn Store) {
    let runs = Checkout::durable(store);
    let id = runs.start(&order(2, false)).unwrap();
    let payment = Payment {
        key: "paid-by-the-crashed-process".to_owned(),
        amount: 7,
    };
    let hold = Hold {
        order: 2,
        amount: 7,
    };
    for (step, value) in [
        ("hold", serde_json::to_string(&hold).unwrap()),
        ("payment", serde_json::to_string(&payment).unwrap()),
    ] {
        store
            .save_checkpoint(&id, &checkpoint(step, &value, false))
            .unwrap();
    }
    let (got, label) = runs.resume(&id).unwrap();
    assert_eq!((got, label.as_str()), (payment, "label 2 (7)"));
    assert_eq!(
        (count(&id, "hold", "run"), count(&id, "payment", "run")),
        (0, 0)
    );
    assert_eq!(
        (count(&id, "mail", "run"), count(&id, "label", "run")),
        (1, 1)
    );
}

/// Steps completed by a crashed process are undone, once each, when the resumed run fails.
pub fn failure_after_resume_undoes_earlier_steps_once(store: &dyn Store) {
    let runs = Checkout::durable(store);
    let id = runs.start(&order(3, true)).unwrap();
    let hold = Hold {
        order: 3,
        amount: 43,
    };
    let payment = Payment {
        key: "k".to_owned(),
        amount: 43,
    };
    store
        .save_checkpoint(
            &id,
            &checkpoint("hold", &serde_json::to_string(&hold).unwrap(), false),
        )
        .unwrap();
    store
        .save_checkpoint(
            &id,
            &checkpoint("payment", &serde_json::to_string(&payment).unwrap(), false),
        )
        .unwrap();

    let error = runs.resume(&id).unwrap_err();
    let DurableError::Flow(flow_error) = &error else {
        panic!("expected the flow's error: {error}")
    };
    assert_eq!(flow_error.step(), Some("label"));
    assert!(flow_error.undo_errors().is_empty());
    for step in ["hold", "payment"] {
        assert_eq!(count(&id, step, "run"), 0, "`{step}` ran again");
        assert_eq!(count(&id, step, "undo"), 1, "undos of `{step}`");
    }
    let stored = store.load_run(&id).unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    let mut undone = stored.undone.clone();
    undone.sort_unstable();
    assert_eq!(undone, ["hold", "payment"]);
    let Some(Completion::Failed(failure)) = stored.completion else {
        panic!("no failure recorded")
    };
    assert_eq!(failure.step.as_deref(), Some("label"));
    assert!(
        failure.message.contains("no courier for order 3"),
        "{}",
        failure.message
    );

    // Resuming a failed run undoes nothing more.
    assert!(
        matches!(runs.resume(&id), Err(DurableError::Failed(f)) if f == Failure { step: Some("label".into()), ..f.clone() })
    );
    assert_eq!(
        (count(&id, "hold", "undo"), count(&id, "payment", "undo")),
        (1, 1)
    );
}

/// A run that crashed while failing (one undo recorded) finishes its undo on resume, running
/// no step.
pub fn crash_mid_undo_finishes_the_undo(store: &dyn Store) {
    let runs = Checkout::durable(store);
    let id = runs.start(&order(4, true)).unwrap();
    let hold = Hold {
        order: 4,
        amount: 44,
    };
    let payment = Payment {
        key: "k".to_owned(),
        amount: 44,
    };
    store
        .save_checkpoint(
            &id,
            &checkpoint("hold", &serde_json::to_string(&hold).unwrap(), false),
        )
        .unwrap();
    store
        .save_checkpoint(
            &id,
            &checkpoint("payment", &serde_json::to_string(&payment).unwrap(), false),
        )
        .unwrap();
    store
        .mark_failing(&id, "step `label`: declined: no courier")
        .unwrap();
    store.record_undo(&id, "payment").unwrap();
    assert_eq!(runs.status(&id).unwrap(), RunStatus::Failing);
    assert_eq!(runs.unfinished().unwrap(), std::slice::from_ref(&id));

    let error = runs.resume(&id).unwrap_err();
    let DurableError::Failed(failure) = error else {
        panic!("expected the stored failure: {error}")
    };
    assert_eq!(failure.message, "step `label`: declined: no courier");
    assert_eq!(
        (count(&id, "hold", "undo"), count(&id, "payment", "undo")),
        (1, 0)
    );
    for step in ["hold", "payment", "mail", "label"] {
        assert_eq!(count(&id, step, "run"), 0, "`{step}` ran");
    }
    assert_eq!(runs.status(&id).unwrap(), RunStatus::Failed);
}

/// Resuming a run with a changed flow is an error naming the change; the original flow
/// still resumes it.
pub fn changed_flow_is_refused(store: &dyn Store) {
    let id = v1::Tally::durable(store).start(&5).unwrap();
    let error = v2::Tally::durable(store).resume(&id).unwrap_err();
    let DurableError::FlowChanged {
        difference, flow, ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(*flow, "Tally");
    assert!(
        difference.contains("u32") && difference.contains("u64"),
        "{difference}"
    );
    assert!(
        error.to_string().contains("changed since durable run"),
        "{error}"
    );
    assert_eq!(count(&id, "n", "run"), 0);
    assert_eq!(v1::Tally::durable(store).resume(&id).unwrap(), 6);
    assert_ne!(
        routilux::durable::Durable::<v1::Tally>::fingerprint().hash(),
        routilux::durable::Durable::<v2::Tally>::fingerprint().hash()
    );
}

/// Values of every serde shape come back from the store as they went in.
pub fn serde_round_trip(store: &dyn Store) {
    let faulty = Faulty::new(store, "text");
    let id = Shapes::durable(&faulty)
        .start(&(9, "ünï".to_owned()))
        .unwrap();
    assert!(Shapes::durable(&faulty).resume(&id).is_err());
    let resumed = Shapes::durable(store).resume(&id).unwrap();
    assert_eq!(count(&id, "all", "run"), 1);
    let fresh = Shapes::durable(store).run((9, "ünï".to_owned())).unwrap();
    assert_eq!(resumed, fresh);
    let (shapes, (text, n)) = &resumed;
    assert_eq!(*n, 3);
    assert!(text.starts_with("ünï: [Unit"), "{text}");
    assert_eq!(
        shapes[1],
        Shape::Pair(-9, "é \"quoted\" \n line".to_owned())
    );
    assert_eq!(Shapes::durable(store).output(&id).unwrap(), Some(resumed));
}

/// Unknown ids and runs of other flows are errors, not panics.
pub fn unknown_and_foreign_runs(store: &dyn Store) {
    let unknown = RunId::from("no-such-run");
    assert!(
        matches!(Checkout::durable(store).resume(&unknown), Err(DurableError::NotFound(id)) if id == unknown)
    );
    assert!(matches!(
        Checkout::durable(store).status(&unknown),
        Err(DurableError::NotFound(_))
    ));
    let id = v1::Tally::durable(store).start(&1).unwrap();
    let error = Checkout::durable(store).resume(&id).unwrap_err();
    assert!(
        matches!(&error, DurableError::WrongFlow { stored, flow: "Checkout", .. } if stored == "Tally"),
        "{error}"
    );
    let own = RunId::from(format!("order-{}", RunId::new()));
    v1::Tally::durable(store)
        .start_with_id(own.clone(), &1)
        .unwrap();
    assert!(matches!(
        v1::Tally::durable(store).start_with_id(own.clone(), &2),
        Err(DurableError::Store(StoreError::Duplicate(id))) if id == own
    ));
}

/// A finished run returns its stored outcome without running anything.
pub fn finished_runs_are_not_run_again(store: &dyn Store) {
    let runs = Checkout::durable(store);
    let id = runs.start(&order(6, false)).unwrap();
    assert_eq!(runs.output(&id).unwrap(), None);
    let first = runs.resume(&id).unwrap();
    let again = runs.resume(&id).unwrap();
    assert_eq!(first, again);
    assert_eq!(runs.output(&id).unwrap(), Some(first));
    for step in ["hold", "payment", "mail", "label"] {
        assert_eq!(count(&id, step, "run"), 1, "runs of `{step}`");
    }
}

/// A step halts its run; resuming without what it waits for halts again; with it, the run
/// continues from the halting step (its earlier step is not run again).
pub fn halt_and_resume(store: &dyn Store) {
    let runs = Approval::durable(store);
    let id = runs.start(&order(8, false)).unwrap();
    let error = runs.resume(&id).unwrap_err();
    let DurableError::Halted { step, reason, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(
        (step.as_str(), reason.as_str()),
        ("approved", "waiting for approval of 48")
    );
    assert_eq!(runs.status(&id).unwrap(), RunStatus::Halted);
    assert!(runs.unfinished().unwrap().is_empty());
    let stored = store.load_run(&id).unwrap().unwrap();
    assert_eq!(
        stored.halted.as_ref().map(|h| h.step.as_str()),
        Some("approved")
    );
    assert_eq!((stored.completion, stored.undone.len()), (None, 0));

    assert!(matches!(runs.resume(&id), Err(DurableError::Halted { .. })));
    std::fs::write(approval_path(id.as_str()), "ok").unwrap();
    assert_eq!(runs.resume(&id).unwrap(), "settled 48");
    let _ = std::fs::remove_file(approval_path(id.as_str()));
    assert_eq!(count(&id, "amount", "run"), 1);
    assert_eq!(count(&id, "approved", "run"), 3);
    assert_eq!(count(&id, "settled", "run"), 1);
    assert_eq!(runs.status(&id).unwrap(), RunStatus::Succeeded);
}
