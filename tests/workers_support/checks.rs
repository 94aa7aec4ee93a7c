//! What the shared queue must look like when the workers are done.

use std::collections::HashMap;

use routilux::durable::{PostgresStore, RunId};

use super::{STEPS, Stamp, executions, expected};

/// Checks every run of `ids` (`(run, n)`): succeeded with its expected value, exactly one
/// completion record, whose writers match the workers' own `reports` (the killed worker's
/// records included in the total); every worker completed some; every step ran once, except
/// steps of the killed worker's run in flight, which ran again only if their checkpoint was
/// not stored (the stored one is the other worker's). Returns how many steps ran again.
pub fn check(
    store: &PostgresStore,
    tag: &str,
    names: &[String],
    ids: &[(RunId, u64)],
    killed: Option<&str>,
    reports: &HashMap<String, u64>,
) -> usize {
    let rows = store
        .with_client(|c| {
            c.query(
                "SELECT r.id, r.status, r.claims, c.output, c.worker FROM routilux_runs r
                 LEFT JOIN routilux_completions c ON c.run_id = r.id",
                &[],
            )
        })
        .unwrap();
    assert_eq!(rows.len(), ids.len(), "runs in the store");
    let expect: HashMap<&str, u64> = ids.iter().map(|(id, n)| (id.as_str(), *n)).collect();
    let mut by_worker = HashMap::<String, u64>::new();
    let mut taken_over = 0;
    for row in &rows {
        let id: String = row.get(0);
        let status: String = row.get(1);
        assert_eq!(status, "succeeded", "run {id}");
        let output: Option<String> = row.get(3);
        let output: Vec<Stamp> =
            serde_json::from_str(&output.unwrap_or_else(|| panic!("run {id}: no output"))).unwrap();
        assert_eq!(output[0].value, expected(expect[id.as_str()]), "run {id}");
        let worker: Option<String> = row.get(4);
        *by_worker
            .entry(worker.expect("a worker wrote it"))
            .or_default() += 1;
        let claims: i64 = row.get(2);
        assert!(claims >= 1, "run {id} was never claimed");
        if claims > 1 {
            taken_over += 1;
        }
    }
    assert!(
        taken_over <= usize::from(killed.is_some()),
        "{taken_over} runs claimed twice"
    );
    for name in names {
        let written = by_worker.get(name).copied().unwrap_or(0);
        assert!(written > 0, "worker {name} completed none");
        if let Some(&reported) = reports.get(name) {
            assert_eq!(written, reported, "completion records of {name}");
        }
    }
    assert_eq!(by_worker.values().sum::<u64>(), ids.len() as u64);

    // Steps: who ran them, and whose result was stored.
    let ran = executions(tag, names);
    let stored = store
        .with_client(|c| c.query("SELECT run_id, step, value FROM routilux_checkpoints", &[]))
        .unwrap();
    assert_eq!(stored.len(), ids.len() * STEPS.len(), "checkpoints");
    let mut again = 0;
    for row in &stored {
        let (id, step): (String, String) = (row.get(0), row.get(1));
        let stamp: Stamp = serde_json::from_str(row.get(2)).unwrap();
        let workers = &ran[&(id.clone(), step.clone())];
        match workers.as_slice() {
            [one] => assert_eq!(*one, stamp.worker, "run {id}, step {step}"),
            [first, second] => {
                // Only a step the killed worker ran without storing it runs again.
                assert_eq!(
                    Some(first.as_str()),
                    killed,
                    "run {id}, step {step}: {workers:?}"
                );
                assert_eq!(
                    *second, stamp.worker,
                    "run {id}, step {step}: stored by the first"
                );
                again += 1;
            }
            _ => panic!("run {id}, step {step} ran {workers:?}"),
        }
    }
    assert_eq!(ran.len(), ids.len() * STEPS.len(), "steps that ran");
    assert!(again <= 1, "{again} steps ran again");
    again
}
