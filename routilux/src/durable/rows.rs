//! The columns of completion records, shared by the SQL stores.

use super::error::StoreError;
use super::store::{Completion, Failure, Halted, RunStatus};

/// The columns of a completion record, and the run's final status.
pub(super) fn completion_row(
    completion: &Completion,
) -> (
    bool,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    String,
    RunStatus,
) {
    match completion {
        Completion::Succeeded(output) => (
            true,
            Some(output.as_str()),
            None,
            None,
            "[]".to_owned(),
            RunStatus::Succeeded,
        ),
        Completion::Failed(f) => (
            false,
            None,
            f.step.as_deref(),
            Some(f.message.as_str()),
            serde_json::Value::from(f.undo_errors.clone()).to_string(),
            RunStatus::Failed,
        ),
    }
}

/// A completion record from its columns.
pub(super) fn completion_from(
    succeeded: bool,
    output: Option<String>,
    step: Option<String>,
    message: Option<String>,
    undo_errors: &str,
) -> Result<Completion, StoreError> {
    if succeeded {
        return output
            .map(Completion::Succeeded)
            .ok_or_else(|| StoreError::Corrupt("a succeeded run without output".to_owned()));
    }
    let undo_errors = serde_json::from_str(undo_errors)
        .map_err(|e| StoreError::Corrupt(format!("undo errors of a completion record: {e}")))?;
    Ok(Completion::Failed(Failure {
        step,
        message: message.unwrap_or_default(),
        undo_errors,
    }))
}

/// The halt of a run from its columns.
pub(super) fn halted(step: Option<String>, reason: Option<String>) -> Option<Halted> {
    Some(Halted {
        step: step?,
        reason: reason.unwrap_or_default(),
    })
}
