//! The `Store` contract, method by method (part of the conformance suite).

use routilux::durable::{
    Checkpoint, Completion, Failure, Halted, NewRun, RunId, RunStatus, Store, StoreError,
};

fn new_run<'a>(id: &'a RunId, inputs: &'a str) -> NewRun<'a> {
    NewRun {
        id,
        flow: "Contract",
        fingerprint: "0123",
        plan: "flow Contract\n",
        inputs,
    }
}

pub fn checkpoint(step: &str, value: &str, compensated: bool) -> Checkpoint {
    Checkpoint {
        step: step.to_owned(),
        value: value.to_owned(),
        compensated,
    }
}

/// The `Store` contract, method by method.
pub fn store_contract(store: &dyn Store) {
    let a = RunId::new();
    let b = RunId::new();
    store.create_run(&new_run(&a, "[1]")).unwrap();
    store.create_run(&new_run(&b, "[2]")).unwrap();
    assert!(
        matches!(store.create_run(&new_run(&a, "[9]")), Err(StoreError::Duplicate(id)) if id == a)
    );
    assert_eq!(
        store.unfinished("Contract").unwrap(),
        [a.clone(), b.clone()]
    );
    assert_eq!(store.unfinished("Other").unwrap(), []);

    let run = store.load_run(&a).unwrap().unwrap();
    assert_eq!(
        (run.flow.as_str(), run.fingerprint.as_str()),
        ("Contract", "0123")
    );
    assert_eq!(
        (run.plan.as_str(), run.inputs.as_str()),
        ("flow Contract\n", "[1]")
    );
    assert_eq!(run.status, RunStatus::Running);
    assert!(run.checkpoints.is_empty() && run.undone.is_empty());
    assert_eq!((run.failure, run.completion), (None, None));
    assert_eq!(store.load_run(&RunId::new()).unwrap(), None);

    // Checkpoints: kept in the order stored; the first of a step stays.
    assert!(
        store
            .save_checkpoint(&a, &checkpoint("y", "{\"v\":1}", false))
            .unwrap()
    );
    assert!(
        store
            .save_checkpoint(&a, &checkpoint("x", "2", true))
            .unwrap()
    );
    assert!(
        !store
            .save_checkpoint(&a, &checkpoint("y", "3", false))
            .unwrap()
    );
    let missing = RunId::new();
    assert!(matches!(
        store.save_checkpoint(&missing, &checkpoint("y", "1", false)),
        Err(StoreError::NoRun(id)) if id == missing
    ));
    let run = store.load_run(&a).unwrap().unwrap();
    assert_eq!(
        run.checkpoints,
        [
            checkpoint("y", "{\"v\":1}", false),
            checkpoint("x", "2", true)
        ]
    );
    assert_eq!(run.checkpoint("x").map(|c| c.value.as_str()), Some("2"));
    assert!(store.load_run(&b).unwrap().unwrap().checkpoints.is_empty());

    // Halting: a halted run is not unfinished (it waits on purpose) until unhalted.
    store.halt(&b, "approve", "waiting").unwrap();
    let run = store.load_run(&b).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Halted);
    assert_eq!(
        run.halted,
        Some(Halted {
            step: "approve".into(),
            reason: "waiting".into()
        })
    );
    assert_eq!(
        store.unfinished("Contract").unwrap(),
        std::slice::from_ref(&a)
    );
    assert!(store.unhalt(&b).unwrap());
    assert!(!store.unhalt(&b).unwrap());
    let run = store.load_run(&b).unwrap().unwrap();
    assert_eq!((run.status, run.halted), (RunStatus::Running, None));

    // Failing keeps the first failure; undo records are idempotent and ordered.
    store.mark_failing(&a, "step `z`: boom").unwrap();
    store.mark_failing(&a, "later").unwrap();
    store.record_undo(&a, "x").unwrap();
    store.record_undo(&a, "y").unwrap();
    store.record_undo(&a, "x").unwrap();
    let run = store.load_run(&a).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failing);
    assert_eq!(run.failure.as_deref(), Some("step `z`: boom"));
    assert_eq!(run.undone, ["x", "y"]);

    // One completion record per run; the first stays.
    let failed = Completion::Failed(Failure {
        step: Some("z".to_owned()),
        message: "boom".to_owned(),
        undo_errors: vec!["undo of `x` failed".to_owned()],
    });
    assert!(store.complete(&a, &failed).unwrap());
    assert!(
        !store
            .complete(&a, &Completion::Succeeded("[1]".to_owned()))
            .unwrap()
    );
    let run = store.load_run(&a).unwrap().unwrap();
    assert_eq!(
        (run.status, run.completion),
        (RunStatus::Failed, Some(failed))
    );
    assert!(
        store
            .complete(&b, &Completion::Succeeded("[\"ok\"]".to_owned()))
            .unwrap()
    );
    let run = store.load_run(&b).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        run.completion,
        Some(Completion::Succeeded("[\"ok\"]".to_owned()))
    );
    assert_eq!(store.unfinished("Contract").unwrap(), []);
}
