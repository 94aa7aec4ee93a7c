//! A saga per job for the kill tests: three steps with undo, then a step that fails for
//! every third job (whose run then undoes the three). Every execution of a step or an undo is
//! logged (see `log_execution`); a step's value names the worker that computed it.

use std::collections::HashMap;

use routilux::durable::{PostgresStore, RunId};
use routilux::{Context, flow, routine};

use super::{Job, Stamp, executions, log_execution};
use crate::durable_support::flows::Declined;

fn stamp(ctx: &Context, value: u64) -> Stamp {
    Stamp {
        worker: log_execution(ctx, ""),
        value,
    }
}

#[routine(undo = give_back)]
pub fn reserve(job: &Job, ctx: &Context) -> Result<Stamp, Declined> {
    Ok(stamp(ctx, job.n + 1))
}

#[routine(undo = give_back)]
pub fn charge(prev: &Stamp, ctx: &Context) -> Result<Stamp, Declined> {
    Ok(stamp(ctx, prev.value * 2))
}

#[routine(undo = give_back)]
pub fn pack(prev: &Stamp, ctx: &Context) -> Result<Stamp, Declined> {
    Ok(stamp(ctx, prev.value + 3))
}

/// The undo of every undoable step: logs itself.
pub fn give_back(_: &Stamp, ctx: &Context) -> Result<(), Declined> {
    log_execution(ctx, ".undo");
    Ok(())
}

#[routine]
pub fn ship(job: &Job, prev: &Stamp, ctx: &Context) -> Result<Stamp, Declined> {
    let stamped = stamp(ctx, prev.value * 5);
    if fails(job.n) {
        return Err(Declined(format!("job {} is refused", job.n)));
    }
    Ok(stamped)
}

/// Whether job `n`'s run fails (at `d`).
pub fn fails(n: u64) -> bool {
    n.is_multiple_of(3)
}

flow! {
    /// Reserve, charge and pack (each undone if the run fails), then ship.
    #[durable]
    pub flow Sagas {
        input job: Job;
        step a = reserve(job);
        step b = charge(a);
        step c = pack(b);
        step d = ship(job, c);
        return d;
    }
}

/// The undoable steps.
pub const UNDOABLE: [&str; 3] = ["a", "b", "c"];

/// Checks what workers `names` left of runs `ids` (`(run, n)`), when only the workers in
/// `killed` were killed (at any moment):
/// - each run ended as its job says (succeeded with its value, or failed at `d`), with
///   exactly one completion record;
/// - every execution of a step but the last was by a killed worker, and a stored
///   checkpoint is the last execution's (so no step whose checkpoint was stored ran again);
/// - a failed run's undoable steps were each undone, with one undo record each, and every
///   undo but the last was by a killed worker; a succeeded run undid nothing.
///
/// Returns how many steps and undos ran more than once.
pub fn check(
    store: &PostgresStore,
    tag: &str,
    names: &[String],
    ids: &[(RunId, u64)],
    killed: &[String],
) -> usize {
    let query = |sql: &str| store.with_client(|c| c.query(sql, &[])).unwrap();
    let completions = query(
        "SELECT r.id, r.status, c.succeeded, c.output, c.message FROM routilux_runs r
         LEFT JOIN routilux_completions c ON c.run_id = r.id",
    );
    assert_eq!(completions.len(), ids.len(), "runs in the store");
    let jobs: HashMap<&str, u64> = ids.iter().map(|(id, n)| (id.as_str(), *n)).collect();
    for row in &completions {
        let id: String = row.get(0);
        let n = jobs[id.as_str()];
        let (status, succeeded): (String, Option<bool>) = (row.get(1), row.get(2));
        if fails(n) {
            assert_eq!(
                (status.as_str(), succeeded),
                ("failed", Some(false)),
                "run {id}"
            );
            let message: Option<String> = row.get(4);
            let refused = format!("job {n} is refused");
            assert!(
                message.as_deref().is_some_and(|m| m.contains(&refused)),
                "run {id}: {message:?}"
            );
        } else {
            assert_eq!(
                (status.as_str(), succeeded),
                ("succeeded", Some(true)),
                "run {id}"
            );
            let output: Vec<Stamp> = serde_json::from_str(&row.get::<_, String>(3)).unwrap();
            assert_eq!(output[0].value, super::expected(n), "run {id}");
        }
    }
    let ran = executions(tag, names);
    let by_killed_but_last = |key: &(String, String), workers: &[String]| {
        let (last, earlier) = workers.split_last().expect("one execution at least");
        assert!(
            earlier.iter().all(|w| killed.contains(w)),
            "{key:?} ran again after a worker that was not killed: {workers:?}"
        );
        last.clone()
    };
    let checkpoints = query("SELECT run_id, step, value FROM routilux_checkpoints");
    for row in &checkpoints {
        let key: (String, String) = (row.get(0), row.get(1));
        let stamp: Stamp = serde_json::from_str(row.get(2)).unwrap();
        let workers = ran.get(&key).unwrap_or_else(|| panic!("{key:?} never ran"));
        let last = by_killed_but_last(&key, workers);
        assert_eq!(
            last, stamp.worker,
            "{key:?}: the stored checkpoint is not the last run"
        );
    }
    let undone: std::collections::HashSet<(String, String)> =
        query("SELECT run_id, step FROM routilux_undos")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    let mut again = 0;
    for (id, n) in ids {
        let id = id.to_string();
        for step in ["a", "b", "c", "d"] {
            let workers = &ran[&(id.clone(), step.to_owned())];
            by_killed_but_last(&(id.clone(), step.to_owned()), workers);
            again += workers.len() - 1;
        }
        for step in UNDOABLE {
            let key = (id.clone(), format!("{step}.undo"));
            let record = undone.contains(&(id.clone(), step.to_owned()));
            if fails(*n) {
                assert!(record, "run {id}: no undo record of `{step}`");
                let workers = ran
                    .get(&key)
                    .unwrap_or_else(|| panic!("run {id}: `{step}` never undone"));
                by_killed_but_last(&key, workers);
                again += workers.len() - 1;
            } else {
                assert!(
                    !record && !ran.contains_key(&key),
                    "run {id}: `{step}` undone"
                );
            }
        }
    }
    again
}
