//! Failpoints: named places in the durable runner where a test can stop the process, to check
//! what a crash there leaves behind. Not public API.

use std::sync::OnceLock;

/// The hook called at every failpoint, if one is installed.
static HOOK: OnceLock<fn(&str)> = OnceLock::new();

/// Installs `hook`, called with the name of every failpoint the runner passes (for example
/// `checkpoint.before:charge`); a crash test aborts the process in it. Only the first call
/// installs a hook; returns whether this one did.
///
/// The names: `run.created`, `checkpoint.before:STEP`, `checkpoint.after:STEP`,
/// `failing.before`, `failing.after`, `undo.before:STEP`, `undo.after:STEP` (the undo ran,
/// its record is not stored yet), `undo.recorded:STEP`, `halt.before:STEP`, `complete.before`, `complete.after`;
/// and for [workers](super::Worker): `worker.claimed` (a run's lease is committed, before it
/// runs) and `lease.renew` (on the renewal thread, before each renewal; a hook that blocks
/// there stops the renewals).
#[doc(hidden)]
pub fn install_failpoint_hook(hook: fn(&str)) -> bool {
    HOOK.set(hook).is_ok()
}

/// Passes failpoint `name` (built only when a hook is installed).
pub(super) fn failpoint(name: impl FnOnce() -> String) {
    if let Some(hook) = HOOK.get() {
        hook(&name());
    }
}
