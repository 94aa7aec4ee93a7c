//! Crash tests with real processes: a child process (this test binary, re-run on its
//! `crash_child` test) runs a durable checkout on an SQLite file and aborts itself at a named
//! failpoint (`ROUTILUX_CRASH_AT`); a second child resumes the run; then this process checks
//! what both left, and resumes once more in-process:
//!
//! - no step whose checkpoint was stored ran again, and every step ran at most once more
//!   after the crash;
//! - every run has exactly one completion record, the same when read again;
//! - a failing run undid every completed step, and no undo whose record was stored ran again.

#[path = "durable_support/mod.rs"]
mod durable_support;

use std::os::unix::process::ExitStatusExt as _;
use std::process::Command;

use durable_support::count;
use durable_support::flows::{Approval, Checkout, Order, approval_path};
use routilux::durable::{
    Completion, DurableError, RunId, RunStatus, SqliteStore, Store, StoredRun,
};

const STEPS: [&str; 4] = ["hold", "payment", "mail", "label"];
const UNDOABLE: [&str; 2] = ["hold", "payment"];

/// The child process: starts (when `ROUTILUX_CRASH_START` is set) and resumes run
/// `ROUTILUX_CRASH_RUN` on the SQLite file `ROUTILUX_CRASH_DB`, aborting at the failpoint
/// `ROUTILUX_CRASH_AT`. Does nothing when run on its own.
#[test]
#[ignore = "the child process of the crash tests, run by them"]
fn crash_child() {
    let Ok(db) = std::env::var("ROUTILUX_CRASH_DB") else {
        return;
    };
    routilux::durable::install_failpoint_hook(durable_support::crash_point);
    let store = SqliteStore::open(db).unwrap();
    let id = RunId::from(std::env::var("ROUTILUX_CRASH_RUN").unwrap());
    if std::env::var("ROUTILUX_CRASH_FLOW").as_deref() == Ok("approval") {
        let runs = Approval::durable(&store);
        if std::env::var("ROUTILUX_CRASH_START").is_ok() {
            let order = Order {
                id: 9,
                amount: 90,
                fail_at: None,
            };
            runs.start_with_id(id.clone(), &order).unwrap();
        }
        let _outcome = runs.resume(&id);
        return;
    }
    let runs = Checkout::durable(&store);
    if std::env::var("ROUTILUX_CRASH_START").is_ok() {
        let fail = std::env::var("ROUTILUX_CRASH_FAIL").is_ok();
        let order = Order {
            id: 7,
            amount: 70,
            fail_at: fail.then(|| "ship".to_owned()),
        };
        runs.start_with_id(id.clone(), &order).unwrap();
    }
    // Its outcome is checked from the store by the parent.
    let _outcome = runs.resume(&id);
}

/// Runs the child; returns whether it aborted.
fn child(
    db: &std::path::Path,
    id: &RunId,
    crash_at: Option<&str>,
    start: bool,
    fail: bool,
) -> bool {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROUTILUX_CRASH_DB", db)
        .env("ROUTILUX_CRASH_RUN", id.as_str())
        .env_remove("ROUTILUX_CRASH_AT")
        .env_remove("ROUTILUX_CRASH_START")
        .env_remove("ROUTILUX_CRASH_FAIL")
        .env_remove("ROUTILUX_CRASH_FLOW");
    if let Some(point) = crash_at {
        command.env("ROUTILUX_CRASH_AT", point);
    }
    if start {
        command.env("ROUTILUX_CRASH_START", "1");
    }
    if fail {
        command.env("ROUTILUX_CRASH_FAIL", "1");
    }
    let output = command.output().unwrap();
    let aborted = output.status.signal() == Some(6);
    assert!(
        aborted || output.status.success(),
        "the child failed: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    aborted
}

/// A run halted in one process is resumed in another, after its approval; a crash right
/// before the halt is stored leaves a running run, which resumes (and halts) normally.
#[test]
fn halted_run_resumes_in_another_process() {
    for crash in [None, Some("halt.before:approved")] {
        let db = std::env::temp_dir().join(format!("routilux-halt-{}.db", RunId::new()));
        let id = RunId::new();
        let run = |crash_at: Option<&str>, start: bool| {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command
                .args(["--exact", "crash_child", "--ignored", "--nocapture"])
                .env("ROUTILUX_CRASH_DB", &db)
                .env("ROUTILUX_CRASH_RUN", id.as_str())
                .env("ROUTILUX_CRASH_FLOW", "approval")
                .env_remove("ROUTILUX_CRASH_AT")
                .env_remove("ROUTILUX_CRASH_START");
            if let Some(point) = crash_at {
                command.env("ROUTILUX_CRASH_AT", point);
            }
            if start {
                command.env("ROUTILUX_CRASH_START", "1");
            }
            command.status().unwrap()
        };
        let first = run(crash, true);
        assert_eq!(first.signal() == Some(6), crash.is_some(), "{first:?}");
        let store = SqliteStore::open(&db).unwrap();
        let expected = if crash.is_some() {
            RunStatus::Running
        } else {
            RunStatus::Halted
        };
        assert_eq!(load(&store, &id).status, expected);
        if crash.is_some() {
            assert!(run(None, false).success());
            assert_eq!(load(&store, &id).status, RunStatus::Halted);
        }
        std::fs::write(approval_path(id.as_str()), "ok").unwrap();
        assert!(run(None, false).success());
        let after = load(&store, &id);
        assert_eq!(after.status, RunStatus::Succeeded);
        assert_eq!(
            after.completion,
            Some(Completion::Succeeded("[\"settled 90\"]".to_owned()))
        );
        assert_eq!(count(&id, "amount", "run"), 1);
        assert_eq!(
            count(&id, "approved", "run"),
            if crash.is_some() { 3 } else { 2 }
        );
        assert_eq!(count(&id, "settled", "run"), 1);
        let _ = std::fs::remove_file(approval_path(id.as_str()));
        let _ = std::fs::remove_file(durable_support::effects_path(id.as_str()));
    }
}

/// Effects of every step: `(runs, undos)`.
fn effects(id: &RunId) -> Vec<(usize, usize)> {
    STEPS
        .iter()
        .map(|s| (count(id, s, "run"), count(id, s, "undo")))
        .collect()
}

fn load(store: &SqliteStore, id: &RunId) -> StoredRun {
    store.load_run(id).unwrap().expect("the run was created")
}

/// One crash at `point`, the resume in a second process, and the checks. `expect` lists
/// exact totals `(step, "run" | "undo", n)` for this point.
fn crash_at(point: &str, fail: bool, expect: &[(&str, &str, usize)]) {
    let db = std::env::temp_dir().join(format!("routilux-crash-{}.db", RunId::new()));
    let id = RunId::new();
    assert!(
        child(&db, &id, Some(point), true, fail),
        "`{point}` was not reached"
    );
    let store = SqliteStore::open(&db).unwrap();
    let before = load(&store, &id);
    let effects_before = effects(&id);

    assert!(!child(&db, &id, None, false, fail), "the resume crashed");
    let after = load(&store, &id);
    let effects_after = effects(&id);

    for (i, step) in STEPS.iter().enumerate() {
        let ((run0, undo0), (run1, undo1)) = (effects_before[i], effects_after[i]);
        assert!(
            run1 <= run0 + 1,
            "`{point}`: `{step}` ran {run0} then {run1} times"
        );
        if before.checkpoint(step).is_some() || before.status == RunStatus::Failing {
            assert_eq!(
                run1, run0,
                "`{point}`: `{step}` ran again after its checkpoint"
            );
        }
        if before.undone.iter().any(|u| u == step) {
            assert_eq!(
                undo1, undo0,
                "`{point}`: `{step}` was undone again after its record"
            );
        }
        assert!(
            undo1 <= undo0 + 1,
            "`{point}`: `{step}` undone {undo0} then {undo1} times"
        );
    }
    match after
        .completion
        .as_ref()
        .expect("the resumed run completed")
    {
        Completion::Succeeded(_) => {
            assert!(!fail, "`{point}`: a failing order succeeded");
            assert_eq!(after.status, RunStatus::Succeeded);
            assert!(STEPS.iter().all(|s| after.checkpoint(s).is_some()));
            assert!(effects_after.iter().all(|&(_, undo)| undo == 0));
        }
        Completion::Failed(failure) => {
            assert!(fail, "`{point}`: {failure:?}");
            assert_eq!(after.status, RunStatus::Failed);
            assert!(
                failure.message.contains("no courier"),
                "`{point}`: {failure:?}"
            );
            for step in UNDOABLE {
                assert!(
                    count(&id, step, "undo") >= 1,
                    "`{point}`: `{step}` not undone"
                );
                assert!(after.undone.iter().any(|u| u == step));
            }
        }
    }
    if let Some(completion) = &before.completion {
        assert_eq!(
            after.completion.as_ref(),
            Some(completion),
            "`{point}`: completion rewritten"
        );
    }
    for &(step, what, n) in expect {
        assert_eq!(count(&id, step, what), n, "`{point}`: `{step}` {what}");
    }

    // Once more, in this process: the stored outcome, nothing runs.
    let again = Checkout::durable(&store).resume(&id);
    match (&again, after.completion.as_ref().unwrap()) {
        (Ok((payment, label)), Completion::Succeeded(json)) => {
            assert_eq!(payment.key, format!("{id}/payment"));
            assert_eq!(label, "label 7 (70)");
            assert!(json.contains(&format!("{id}/payment")));
        }
        (Err(DurableError::Failed(stored)), Completion::Failed(failure)) => {
            assert_eq!(stored, failure)
        }
        (other, completion) => panic!("`{point}`: {other:?} for {completion:?}"),
    }
    assert_eq!(
        effects(&id),
        effects_after,
        "`{point}`: the third resume ran something"
    );
    drop(store);
    let _ = std::fs::remove_file(durable_support::effects_path(id.as_str()));
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
}

macro_rules! crash_tests {
    ($($name:ident: $point:literal, $fail:literal, [$(($step:literal, $what:literal, $n:literal)),*];)*) => {
        $(
            #[test]
            fn $name() {
                crash_at($point, $fail, &[$(($step, $what, $n)),*]);
            }
        )*
    };
}

crash_tests! {
    after_run_created: "run.created", false, [("hold", "run", 1), ("label", "run", 1)];
    in_step_hold: "step:hold", false, [("hold", "run", 2), ("payment", "run", 1)];
    before_checkpoint_hold: "checkpoint.before:hold", false, [("hold", "run", 2)];
    after_checkpoint_hold: "checkpoint.after:hold", false, [("hold", "run", 1), ("payment", "run", 1)];
    in_step_payment: "step:payment", false, [("hold", "run", 1), ("payment", "run", 2)];
    before_checkpoint_payment: "checkpoint.before:payment", false, [("hold", "run", 1), ("payment", "run", 2)];
    after_checkpoint_payment: "checkpoint.after:payment", false, [("hold", "run", 1), ("payment", "run", 1)];
    // `hold` and `mail` are independent: `hold` may still run (and then run again) when
    // `mail` crashes; the checks in `crash_at` cover it (at most once more, never again
    // after its checkpoint).
    in_step_mail: "step:mail", false, [("mail", "run", 2)];
    after_checkpoint_mail: "checkpoint.after:mail", false, [("mail", "run", 1)];
    in_step_label: "step:label", false, [("payment", "run", 1), ("label", "run", 2)];
    before_checkpoint_label: "checkpoint.before:label", false, [("payment", "run", 1), ("label", "run", 2)];
    after_checkpoint_label: "checkpoint.after:label", false, [("hold", "run", 1), ("payment", "run", 1), ("mail", "run", 1), ("label", "run", 1)];
    before_completion: "complete.before", false, [("hold", "run", 1), ("payment", "run", 1), ("mail", "run", 1), ("label", "run", 1)];
    after_completion: "complete.after", false, [("hold", "run", 1), ("payment", "run", 1), ("mail", "run", 1), ("label", "run", 1)];
    failing_in_step_label: "step:label", true, [("label", "run", 2), ("hold", "undo", 1), ("payment", "undo", 1)];
    failing_before_mark: "failing.before", true, [("label", "run", 2), ("hold", "undo", 1), ("payment", "undo", 1)];
    failing_after_mark: "failing.after", true, [("label", "run", 1), ("hold", "undo", 1), ("payment", "undo", 1)];
    undo_before_payment: "undo.before:payment", true, [("label", "run", 1), ("hold", "undo", 1), ("payment", "undo", 1)];
    undo_in_payment: "undo-step:payment", true, [("hold", "undo", 1), ("payment", "undo", 2)];
    undo_after_payment: "undo.after:payment", true, [("hold", "undo", 1), ("payment", "undo", 2)];
    undo_recorded_payment: "undo.recorded:payment", true, [("hold", "undo", 1), ("payment", "undo", 1)];
    undo_before_hold: "undo.before:hold", true, [("hold", "undo", 1), ("payment", "undo", 1)];
    undo_in_hold: "undo-step:hold", true, [("hold", "undo", 2), ("payment", "undo", 1)];
    undo_after_hold: "undo.after:hold", true, [("hold", "undo", 2), ("payment", "undo", 1)];
    undo_recorded_hold: "undo.recorded:hold", true, [("hold", "undo", 1), ("payment", "undo", 1)];
    failing_before_completion: "complete.before", true, [("label", "run", 1), ("hold", "undo", 1), ("payment", "undo", 1)];
    failing_after_completion: "complete.after", true, [("label", "run", 1), ("hold", "undo", 1), ("payment", "undo", 1)];
}
