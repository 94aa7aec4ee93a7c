//! [`Checkpointable`]: the types a durable run can store, and the JSON helpers the generated
//! code of `#[durable]` flows calls.

use std::marker::PhantomData;

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

/// The JSON conversions of `T`, picked by method resolution: [`ViaSerde`] for a type with
/// serde's traits, else [`NotSerde`] (whose methods only fail). The generated code asserts
/// [`Checkpointable`] once per input and step, so that a type without serde's traits is
/// reported there alone, and converts through `(&Json::<T>::new()).encode_json(..)`.
#[doc(hidden)]
pub struct Json<T>(PhantomData<fn() -> T>);

impl<T> Default for Json<T> {
    fn default() -> Self {
        Json(PhantomData)
    }
}

impl<T> Json<T> {
    /// The conversions of `T`.
    #[must_use]
    pub const fn new() -> Self {
        Json(PhantomData)
    }
}

/// JSON conversions of a type with serde's traits.
#[doc(hidden)]
pub trait ViaSerde<T> {
    /// `value` as JSON.
    ///
    /// # Errors
    /// serde's.
    fn encode_value(&self, value: &T) -> Result<Value, serde_json::Error>;
    /// A value from JSON.
    ///
    /// # Errors
    /// serde's.
    fn decode_value(&self, value: Value) -> Result<T, serde_json::Error>;
    /// `value` as JSON text.
    ///
    /// # Errors
    /// serde's.
    fn encode_json(&self, value: &T) -> Result<String, serde_json::Error>;
    /// A value from JSON text.
    ///
    /// # Errors
    /// serde's.
    fn decode_json(&self, json: &str) -> Result<T, serde_json::Error>;
}

impl<T: Serialize + DeserializeOwned> ViaSerde<T> for Json<T> {
    fn encode_value(&self, value: &T) -> Result<Value, serde_json::Error> {
        serde_json::to_value(value)
    }
    fn decode_value(&self, value: Value) -> Result<T, serde_json::Error> {
        serde_json::from_value(value)
    }
    fn encode_json(&self, value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
    fn decode_json(&self, json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// The conversions of a type without serde's traits: never called, since such a flow does not
/// compile (see [`Json`]); they fail.
#[doc(hidden)]
pub trait NotSerde<T> {
    /// Fails.
    ///
    /// # Errors
    /// Always.
    fn encode_value(&self, value: &T) -> Result<Value, serde_json::Error> {
        let _ = value;
        Err(not_serde())
    }
    /// Fails.
    ///
    /// # Errors
    /// Always.
    fn decode_value(&self, value: Value) -> Result<T, serde_json::Error> {
        let _ = value;
        Err(not_serde())
    }
    /// Fails.
    ///
    /// # Errors
    /// Always.
    fn encode_json(&self, value: &T) -> Result<String, serde_json::Error> {
        let _ = value;
        Err(not_serde())
    }
    /// Fails.
    ///
    /// # Errors
    /// Always.
    fn decode_json(&self, json: &str) -> Result<T, serde_json::Error> {
        let _ = json;
        Err(not_serde())
    }
}

impl<T> NotSerde<T> for &Json<T> {}

fn not_serde() -> serde_json::Error {
    <serde_json::Error as serde_core::ser::Error>::custom(
        "the type does not implement serde's traits",
    )
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
