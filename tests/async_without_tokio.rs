//! A step that needs tokio's reactor (its timers, its sockets) run by the blocking `run`,
//! which has none: the run fails at once with an error that says so, instead of hanging; the
//! same flow works under tokio with `run_async`.

use std::time::Duration;

use routilux::{ErrorKind, flow, routine};

#[routine]
async fn nap(ms: &u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(*ms)).await;
    *ms
}

flow! {
    flow Nap {
        input ms: u64;
        step slept = nap(ms);
        return slept;
    }
}

#[test]
fn a_step_that_needs_tokio_fails_clearly_under_the_blocking_run() {
    let error = Nap::run(1).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Panicked, "{error}");
    assert_eq!(error.step(), Some("slept"));
    let report = format!(
        "{error:?} {}",
        std::error::Error::source(&error).map_or_else(String::new, ToString::to_string)
    );
    assert!(
        report.contains("Tokio"),
        "the error does not say that tokio's runtime is missing: {report}"
    );
}

#[test]
fn the_same_flow_runs_under_tokio_with_run_async() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(tokio.block_on(Nap::run_async(1)).unwrap(), 1);
}
