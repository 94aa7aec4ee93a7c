//! [`Checkpointable`]: the types a durable run can store, and the JSON helpers the generated
//! code of `#[durable]` flows calls.

use serde_core::Serialize;
use serde_core::de::DeserializeOwned;
use serde_json::Value;

/// A type a durable run can store: its inputs and step results implement serde's
/// `Serialize` and `DeserializeOwned` (usually `#[derive(Serialize, Deserialize)]`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored by a durable flow: it does not implement `Serialize` and `DeserializeOwned`",
    label = "the inputs and step results of a `#[durable]` flow are stored as JSON",
    note = "derive them: `#[derive(serde::Serialize, serde::Deserialize)]` on `{Self}`"
)]
pub trait Checkpointable: Serialize + DeserializeOwned {}

impl<T: Serialize + DeserializeOwned> Checkpointable for T {}

/// Fails to compile unless `T` can be stored (the generated code calls it per input and
/// step, at its name).
#[doc(hidden)]
pub const fn assert_checkpointable<T: Checkpointable>() {}

/// `value` as JSON.
#[doc(hidden)]
pub fn to_value<T: Checkpointable>(value: &T) -> Result<Value, serde_json::Error> {
    serde_json::to_value(value)
}

/// A value of `T` from JSON.
#[doc(hidden)]
pub fn from_value<T: Checkpointable>(value: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}

/// `value` as JSON text.
#[doc(hidden)]
pub fn to_json<T: Checkpointable>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(value)
}

/// A value of `T` from JSON text.
#[doc(hidden)]
pub fn from_json<T: Checkpointable>(json: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(json)
}

/// A list of values (a flow's inputs or outputs) as JSON text: an array.
#[doc(hidden)]
#[must_use]
pub fn list_to_json(values: Vec<Value>) -> String {
    Value::Array(values).to_string()
}

/// The `n` values of a JSON array.
///
/// # Errors
/// `json` is not an array of `n` values.
#[doc(hidden)]
pub fn list_from_json(
    json: &str,
    n: usize,
) -> Result<std::vec::IntoIter<Value>, serde_json::Error> {
    let values: Vec<Value> = serde_json::from_str(json)?;
    if values.len() != n {
        return Err(
            <serde_json::Error as serde_core::de::Error>::invalid_length(
                values.len(),
                &format!("{n} values").as_str(),
            ),
        );
    }
    Ok(values.into_iter())
}

/// The error of a step index a durable flow does not have (never, for generated code).
#[doc(hidden)]
#[must_use]
pub fn unknown_step(step: usize) -> serde_json::Error {
    <serde_json::Error as serde_core::ser::Error>::custom(format_args!(
        "routilux internal error: the flow has no step {step}"
    ))
}
